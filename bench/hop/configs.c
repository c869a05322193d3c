// SPDX-License-Identifier: MIT
/*
 * The configs a hop is measured in: what the DUT runs, the frame the
 * generator sends it, and what the sink must receive. Every client frame
 * is 64 bytes (IPv4, UDP without checksum, 22 bytes of payload) from
 * 203.0.113.129 to port 53 of an address of its own config, so that no
 * config's state (a route, a DNAT rule) can touch another's packets.
 */
#include <arpa/inet.h>

#include "pias_hop.h"
#include <pias/tunnel.h>

#define CLIENT	     HOP_CLIENT
#define CLIENT_PORT  HOP_CLIENT_PORT
#define PAYLOAD	     22
#define FRAME_LEN    64
#define DST_KERNEL   "203.0.113.11"
#define DST_NFT	     "203.0.113.12"
#define DST_LWT	     "203.0.113.13"
#define DST_MIN	     HOP_DST_MIN
#define TARGET_PORT  HOP_TARGET_PORT
#define PROTO_IPIP   4
#define IPIP_LEN     (FRAME_LEN + 20)
#define UDP_SPORT_AT (PKT_ETH_HLEN + 20) /* IPv4 without options */

/* A client's frame to dst:53, from the generator to the DUT. */
static void client_frame(const struct hop_env *env, const char *dst, struct pkt *out,
			 __u32 *port_off, __u16 *port_base)
{
	struct pkt_spec s = pkt_udp(CLIENT, CLIENT_PORT, dst, 53, PAYLOAD);

	s.udp_no_csum = 1;
	pkt_set_macs(&s, env->rig.dut_in_mac, env->rig.gen_mac);
	pkt_build(out, &s);
	*port_off = UDP_SPORT_AT;
	*port_base = CLIENT_PORT;
}

static void frame_kernel(const struct hop_env *env, struct pkt *out, __u32 *off, __u16 *base)
{
	client_frame(env, DST_KERNEL, out, off, base);
}

static void frame_nft(const struct hop_env *env, struct pkt *out, __u32 *off, __u16 *base)
{
	client_frame(env, DST_NFT, out, off, base);
}

static void frame_lwt(const struct hop_env *env, struct pkt *out, __u32 *off, __u16 *base)
{
	client_frame(env, DST_LWT, out, off, base);
}

static void frame_min(const struct hop_env *env, struct pkt *out, __u32 *off, __u16 *base)
{
	client_frame(env, DST_MIN, out, off, base);
}

static void frame_iap(const struct hop_env *env, struct pkt *out, __u32 *off, __u16 *base)
{
	client_frame(env, HOP_TA_ADDR, out, off, base);
}

/* The client's frame as the IAP (the generator's address) tunnels it to us. */
static void frame_jap(const struct hop_env *env, struct pkt *out, __u32 *off, __u16 *base)
{
	struct pkt_spec s = pkt_udp(CLIENT, CLIENT_PORT, HOP_TA_ADDR, HOP_TA_PORT, PAYLOAD);
	struct pkt inner;
	struct pkt_tun t = {
		.family = PIAS_AF_INET,
		.dport = PIAS_TUN_PORT_DEFAULT,
		.version = PIAS_TUN_VERSION,
		.kind = PIAS_KIND_IAP_TO_JAP,
		.hops = 1,
		.iap_id = HOP_IAP_ID,
	};

	s.udp_no_csum = 1;
	pkt_build_ip(&inner, &s);
	t.src = pkt_a4(RIG_GEN_ADDR);
	t.dst = pkt_a4(RIG_DUT_IN_ADDR);
	t.tag = hop_iap_tag();
	out->len = pkt_tunnel_frame(&t, env->rig.dut_in_mac, env->rig.gen_mac, inner.b, inner.len,
				    out->b, sizeof(out->b));
	*off = PKT_ETH_HLEN + PIAS_ENCAP_OVERHEAD_V4 + 20;
	*base = CLIENT_PORT;
}

/* The target's reply, to the NAT address and flow i's port (hop_seed_conns). */
static void frame_rev(const struct hop_env *env, struct pkt *out, __u32 *off, __u16 *base)
{
	struct pkt_spec s =
		pkt_udp(RIG_TARGET_ADDR, TARGET_PORT, RIG_DUT_IN_ADDR, HOP_NAT_PORT, PAYLOAD);

	s.udp_no_csum = 1;
	pkt_set_macs(&s, env->rig.dut_in_mac, env->rig.gen_mac);
	pkt_build(out, &s);
	*off = UDP_SPORT_AT + 2;
	*base = HOP_NAT_PORT;
}

static int conns_on(struct hop_env *env)
{
	return hop_seed_conns(env);
}

/* conntrack DNAT of the config's address to the target, as a kernel LB would */
static int nft_on(struct hop_env *env)
{
	return rig_sh(&env->rig, RIG_DUT,
		      "nft 'add table ip pias_hop; "
		      "add chain ip pias_hop pre { type nat hook prerouting priority dstnat; }; "
		      "add rule ip pias_hop pre ip daddr " DST_NFT " udp dport 53 "
		      "dnat to " RIG_TARGET_ADDR ":%d'",
		      TARGET_PORT);
}

static int nft_off(struct hop_env *env)
{
	return rig_sh(&env->rig, RIG_DUT, "nft delete table ip pias_hop");
}

/* The baseline first and the minimal XDP proxy at HOP_MIN_PROXY (pias_hop.h). */
const struct hop_config hop_configs[] = {
	{ "kernel", "plain kernel forwarding (XDP_PASS on hd0)", DUT_PASS, frame_kernel, NULL, NULL,
	  IPPROTO_UDP, DST_KERNEL, FRAME_LEN },
	{ "nft_dnat", "nftables DNAT to the target (conntrack)", DUT_PASS, frame_nft, nft_on,
	  nft_off, IPPROTO_UDP, RIG_TARGET_ADDR, FRAME_LEN },
	{ "lwt_ipip", "kernel IPIP: lwt xmit BPF encap route", DUT_PASS, frame_lwt, NULL, NULL,
	  PROTO_IPIP, RIG_SINK_ADDR, IPIP_LEN },
	{ "xdp_fwd", "XDP floor: new MACs and redirect, no parsing", DUT_REDIRECT, frame_kernel,
	  NULL, NULL, IPPROTO_UDP, DST_KERNEL, FRAME_LEN },
	{ "min_xdp", "minimal XDP proxy: parse, lookup, IPIP, fib, redirect", DUT_MIN_PROXY,
	  frame_min, NULL, NULL, PROTO_IPIP, RIG_SINK_ADDR, IPIP_LEN },
	{ "min_xdp_w", "the same, its outer header written in words (as PIAS's)", DUT_MIN_PROXY_W,
	  frame_min, NULL, NULL, PROTO_IPIP, RIG_SINK_ADDR, IPIP_LEN },
	{ "pias_iap", "PIAS IAP, flow hit: client -> tunnel to the JAP", DUT_PIAS, frame_iap, NULL,
	  NULL, IPPROTO_UDP, RIG_SINK_ADDR, FRAME_LEN + PIAS_ENCAP_OVERHEAD_V4 },
	{ "pias_jap", "PIAS JAP, connection hit: tunnel -> NAT to the target", DUT_PIAS, frame_jap,
	  conns_on, NULL, IPPROTO_UDP, RIG_TARGET_ADDR, FRAME_LEN },
	{ "pias_rev", "PIAS JAP, reverse: the target's reply -> NAT back to the client", DUT_PIAS,
	  frame_rev, conns_on, NULL, IPPROTO_UDP, HOP_CLIENT, FRAME_LEN },
};

const size_t hop_nconfigs = sizeof(hop_configs) / sizeof(hop_configs[0]);
