/* SPDX-License-Identifier: MIT */
/*
 * Parsing of IPv4/IPv6 and TCP/UDP headers at a given frame offset.
 *
 * Two steps, because what may pass depends on where a packet goes: parse_ip
 * reads the addresses and rejects only headers no stack would accept
 * (truncated, bad version/IHL/length); what PIAS itself does not handle
 * (options, extension headers, fragments) is noted in ip_info.unsupported
 * and refused only once the packet turns out to be ours.
 */
#ifndef PIAS_BPF_PARSE_H
#define PIAS_BPF_PARSE_H

#include "context.h"

struct ip_info {
	union pias_addr saddr;
	union pias_addr daddr;
	__u16 ip_len;	     /* header + payload, from the header */
	__u16 l4_off;	     /* frame offset of the transport header */
	__u8 family;	     /* PIAS_AF_INET / PIAS_AF_INET6 */
	__u8 proto;	     /* transport protocol */
	__u8 unsupported;    /* 0 or a PIAS_DROP_* reason + 1 */
	__u8 later_fragment; /* IPv4 fragment offset > 0: no transport header */
};

static __always_inline int ipv6_is_ext(__u8 nh)
{
	switch (nh) {
	case IPPROTO_HOPOPTS:
	case IPPROTO_ROUTING:
	case IPPROTO_DSTOPTS:
	case IPPROTO_AH:
	case IPPROTO_ESP:
	case IPPROTO_MH:
	case 139: /* HIP */
	case 140: /* shim6 */
	case 253: /* experiments */
	case 254:
		return 1;
	}
	return 0;
}

/*
 * Parses the IP header at 'off'. 'family' is what the link layer or the
 * tunnel announced. Returns -1 on success, else a PIAS_DROP_* reason.
 */
static __always_inline int parse_ip(struct pias_ctx *c, __u32 off, __u8 family, struct ip_info *ip)
{
	__u32 frame_len = FRAME_END(c) - FRAME_START(c);

	if (family == PIAS_AF_INET) {
		struct iphdr *h = FRAME_PTR(c, off, sizeof(*h));
		__u16 frag;

		if (!h)
			return PIAS_DROP_truncated_ip;
		if (h->version != 4 || h->ihl < 5)
			return PIAS_DROP_bad_ip_header;
		ip->ip_len = bpf_ntohs(h->tot_len);
		/*
		 * A wrong length is no reason to touch a packet for another
		 * host (section 4): it is marked, and dropped only by a path
		 * that would act on it.
		 */
		if (ip->ip_len < h->ihl * 4 || off + ip->ip_len > frame_len)
			ip->unsupported = PIAS_DROP_bad_ip_length + 1;
		ip->family = PIAS_AF_INET;
		ip->proto = h->protocol;
		ip->saddr.v4 = h->saddr;
		ip->daddr.v4 = h->daddr;
		/* with options the transport header is further in; it is read
		 * only to classify, such packets are never forwarded */
		ip->l4_off = off + h->ihl * 4;
		frag = bpf_ntohs(h->frag_off);
		ip->later_fragment = (frag & IP_OFFSET) != 0;
		if (ip->unsupported)
			return -1;
		if (h->ihl != 5)
			ip->unsupported = PIAS_DROP_ipv4_options + 1;
		else if (frag & (IP_MF | IP_OFFSET))
			ip->unsupported = PIAS_DROP_fragment + 1;
		return -1;
	}

	struct ipv6hdr *h6 = FRAME_PTR(c, off, sizeof(*h6));
	__u32 len6;

	if (!h6)
		return PIAS_DROP_truncated_ip;
	if (h6->version != 6)
		return PIAS_DROP_bad_ip_header;
	/*
	 * In 32 bits: a payload length above 65495 plus the header wraps a
	 * u16 to a few bytes, which passed this check and then cut the frame
	 * inside its own header (found by the XDP fuzzer).
	 */
	len6 = bpf_ntohs(h6->payload_len) + (__u32)sizeof(*h6);
	ip->ip_len = (__u16)len6;
	if (off + len6 > frame_len)
		ip->unsupported = PIAS_DROP_bad_ip_length + 1;
	ip->family = PIAS_AF_INET6;
	ip->proto = h6->nexthdr;
	__builtin_memcpy(&ip->saddr, &h6->saddr, 16);
	__builtin_memcpy(&ip->daddr, &h6->daddr, 16);
	ip->l4_off = off + sizeof(*h6);
	if (ip->unsupported)
		return -1;
	if (h6->nexthdr == IPPROTO_FRAGMENT)
		ip->unsupported = PIAS_DROP_fragment + 1;
	else if (ipv6_is_ext(h6->nexthdr))
		ip->unsupported = PIAS_DROP_ipv6_ext_header + 1;
	return -1;
}

/*
 * Checks the TCP/UDP header of a packet parse_ip accepted and fills the
 * flow. Returns -1 on success, else a PIAS_DROP_* reason.
 */
static __always_inline int parse_l4(struct pias_ctx *c, const struct ip_info *ip, __u32 l3_off,
				    struct pias_pkt *p)
{
	__u32 l4_len = ip->ip_len - (ip->l4_off - l3_off);

	if (ip->unsupported)
		return ip->unsupported - 1;

	if (ip->proto == IPPROTO_TCP) {
		struct tcphdr *th = FRAME_PTR(c, ip->l4_off, sizeof(*th));

		if (!th || l4_len < sizeof(*th))
			return PIAS_DROP_truncated_l4;
		if (th->doff < 5 || th->doff * 4 > l4_len)
			return PIAS_DROP_bad_l4_header;
		p->flow.sport = bpf_ntohs(th->source);
		p->flow.dport = bpf_ntohs(th->dest);
		p->tcp_flags = ((__u8 *)th)[13];
	} else {
		struct udphdr *uh = FRAME_PTR(c, ip->l4_off, sizeof(*uh));
		__u16 ulen;

		if (!uh || l4_len < sizeof(*uh))
			return PIAS_DROP_truncated_l4;
		ulen = bpf_ntohs(uh->len);
		if (ulen < sizeof(*uh) || ulen > l4_len)
			return PIAS_DROP_bad_l4_header;
		p->flow.sport = bpf_ntohs(uh->source);
		p->flow.dport = bpf_ntohs(uh->dest);
		p->tcp_flags = 0;
	}
	p->flow.saddr = ip->saddr;
	p->flow.daddr = ip->daddr;
	p->flow.proto = ip->proto;
	p->flow.family = ip->family;
	p->flow.pad = 0;
	p->l4_off = ip->l4_off;
	p->ip_len = ip->ip_len;
	return -1;
}

static __always_inline int is_l4(__u8 proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP;
}

/* Drops Ethernet padding behind the IP packet so lengths add up after encap. */
static __always_inline int trim_to_ip(struct pias_ctx *c, __u32 l3_off, __u16 ip_len)
{
	int excess = (int)(FRAME_END(c) - FRAME_START(c)) - (int)(l3_off + ip_len);

	if (excess > 0 && bpf_xdp_adjust_tail(c->xdp, -excess))
		return -1;
	return 0;
}

#endif
