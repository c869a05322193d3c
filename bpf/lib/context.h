/* SPDX-License-Identifier: MIT */
/*
 * What one packet's trip through the program carries: the XDP context, the
 * configuration and counter pointers looked up once, and the parsed packet.
 * Packet pointers are never kept across a head/tail adjustment; helpers take
 * offsets from the frame start and re-derive pointers with a bounds check.
 */
#ifndef PIAS_BPF_CONTEXT_H
#define PIAS_BPF_CONTEXT_H

#include "defs.h"
#include "maps.h"

/*
 * The parsed client packet (the inner packet of tunnel traffic) and what the
 * roles decide about it. Lives on the main program's stack; global
 * subprograms get a pointer to it, so it holds no pointers itself.
 */
struct pias_pkt {
	struct pias_flow flow; /* 5-tuple as on the wire */
	__u16 l4_off;	       /* from frame start; IP header is at ETH_HLEN */
	__u16 ip_len;	       /* IP header + payload */
	__u16 tun_sport;       /* outer UDP source port if known, else 0 */
	__u8 tcp_flags;	       /* byte 13 of the TCP header, 0 for UDP */
	/* overlay metadata: from the tunnel header, or set by the IAP */
	__u8 kind;
	__u8 tflags;
	__u8 hops;
	__u32 iap_id;
	__u32 excl_jap;
	__u32 next_id; /* STEP_TUNNEL: the proxy to send to */
	__u64 tag;     /* kind 6: the header's, checked against the target's own */
};

struct pias_ctx {
	struct xdp_md *xdp;
	struct pias_config *cfg;
	struct pias_stats *stats;
	struct pias_drops *drops;
	struct pias_pkt *pkt;
};

/*
 * The ctx loads are written in asm: otherwise clang may keep &ctx->data_end
 * in a register and load through it later, a "modified ctx pointer" the
 * verifier refuses.
 */
static __always_inline void *xdp_data(struct xdp_md *x)
{
	void *p;

	asm volatile("%0 = *(u32 *)(%1 + 0)" : "=r"(p) : "r"(x));
	return p;
}

static __always_inline void *xdp_data_end(struct xdp_md *x)
{
	void *p;

	asm volatile("%0 = *(u32 *)(%1 + 4)" : "=r"(p) : "r"(x));
	return p;
}

static __always_inline void *xdp_data_meta(struct xdp_md *x)
{
	void *p;

	asm volatile("%0 = *(u32 *)(%1 + 8)" : "=r"(p) : "r"(x));
	return p;
}

#define FRAME_START(c) xdp_data((c)->xdp)
#define FRAME_END(c)   xdp_data_end((c)->xdp)

/* Pointer to len bytes at off from the frame start, or NULL. */
#define FRAME_PTR(c, off, len)                                                                     \
	({                                                                                         \
		void *__p = FRAME_START(c) + (off);                                                \
		(__p + (len) > FRAME_END(c)) ? NULL : __p;                                         \
	})

/* For global subprograms, which look the counters up themselves. */
static __always_inline struct pias_stats *stats_here(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&pias_stats, &zero);
}

static __always_inline struct pias_config *config_here(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&pias_config, &zero);
}

static __always_inline struct pias_drops *drops_here(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&pias_drops, &zero);
}

static __always_inline void stat_inc(struct pias_ctx *c, enum pias_stat_index i)
{
	if (c->stats && i < PIAS_STAT_MAX)
		((__u64 *)c->stats)[i]++;
}

/* Count a drop under its reason and return XDP_DROP. */
static __always_inline int drop(struct pias_ctx *c, enum pias_drop_index i)
{
	if (c->drops && i < PIAS_DROP_MAX)
		((__u64 *)c->drops)[i]++;
	return XDP_DROP;
}

static __always_inline struct pias_proxy *proxy_known(__u32 id)
{
	struct pias_proxy *p;

	if (!id || id >= PIAS_MAX_PROXIES)
		return NULL;
	p = bpf_map_lookup_elem(&pias_proxies, &id);
	return p && p->state != PIAS_PROXY_UNKNOWN ? p : NULL;
}

/* The proxy with this id if it is up: one that new flows may go to. */
static __always_inline struct pias_proxy *proxy_up(__u32 id)
{
	struct pias_proxy *p = proxy_known(id);

	return p && p->state == PIAS_PROXY_UP ? p : NULL;
}

/*
 * The proxy with this id if a flow already pinned to it may go on: up, or
 * its dataplane alive without its piasd.
 */
static __always_inline struct pias_proxy *proxy_pinned(__u32 id)
{
	struct pias_proxy *p = proxy_known(id);

	return p && (p->state == PIAS_PROXY_UP || p->state == PIAS_PROXY_DP_ONLY) ? p : NULL;
}

static __always_inline int addr_eq(const union pias_addr *a, const union pias_addr *b)
{
	return a->v6[0] == b->v6[0] && a->v6[1] == b->v6[1] && a->v6[2] == b->v6[2] &&
	       a->v6[3] == b->v6[3];
}

static __always_inline int addr_is_zero(const union pias_addr *a)
{
	return !(a->v6[0] | a->v6[1] | a->v6[2] | a->v6[3]);
}

/* Fills c for a global subprogram; returns 0 when everything is there. */
static __always_inline int ctx_init(struct pias_ctx *c, struct xdp_md *xdp, struct pias_pkt *p)
{
	c->xdp = xdp;
	c->pkt = p;
	c->cfg = config_here();
	c->stats = stats_here();
	c->drops = drops_here();
	return (c->cfg && p) ? 0 : -1;
}

#endif
