// SPDX-License-Identifier: MIT
/*
 * The tunnel-mode target's TC programs (bpf/target.bpf.c) through
 * BPF_PROG_TEST_RUN, IPv4 and IPv6: what ingress unwraps, drops and passes,
 * and what egress wraps, byte for byte against the packet builder, with
 * the exact counters that moved.
 *
 * The target's plan (family by family):
 *
 *   self (its tunnel address)  192.0.2.50      2001:db8:1::50
 *   its JAP                    192.0.2.3       2001:db8:1::3
 *   another proxy              192.0.2.2       2001:db8:1::2
 *   a client                   203.0.113.200   2001:db8:c::200
 *   TA udp/53, tcp/80          203.0.113.53/80 2001:db8:a::53/80  (tunnel port 6637)
 *   TA udp/54                  203.0.113.54    2001:db8:a::54     (tunnel port 7000)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/pkt_cls.h>

#include <pias/hash.h>
#include <pias/target.h>

#include "target.skel.h"
#include "world.h"

#define ALT_PORT 7000 /* the tunnel port of udp/54's JAP: not the protocol's */
#define TT_MTU	 1500
#define TT_TAG	 0x5eedfaceb00c0001ull /* the TA's tunnel tag, as a REG_ACK would give it */

struct plan {
	const char *self, *jap, *other, *client;
	const char *ta;	 /* udp/53 and tcp/80 */
	const char *alt; /* udp/54, tunnel port ALT_PORT */
};

static const struct plan plan4 = { "192.0.2.50",    "192.0.2.3",    "192.0.2.2",
				   "203.0.113.200", "203.0.113.53", "203.0.113.54" };
static const struct plan plan6 = { "2001:db8:1::50",  "2001:db8:1::3",	"2001:db8:1::2",
				   "2001:db8:c::200", "2001:db8:a::53", "2001:db8:a::54" };

static const uint8_t mac_self[6] = { 0x02, 0, 0, 0, 0, 0x50 };
static const uint8_t mac_peer[6] = { 0x02, 0, 0, 0, 0, 0x03 };

static struct target *tt;
static int tt_ncpus;
static const uint8_t fam4 = PIAS_AF_INET, fam6 = PIAS_AF_INET6;

static const struct plan *plan_of(uint8_t fam)
{
	return fam == PIAS_AF_INET ? &plan4 : &plan6;
}

static uint8_t fam_of(void **state)
{
	return *(const uint8_t *)*state;
}

/* ---- the runner --------------------------------------------------------- */

struct tt_result {
	uint32_t verdict; /* TC_ACT_* */
	uint8_t out[PKT_MAX];
	size_t len;
};

/* One frame through prog, as if on link 0 (skb->ifindex: redirect_neigh's device). */
static void tt_run(const char *file, int line, struct bpf_program *prog, const struct pkt *in,
		   struct tt_result *res)
{
	struct __sk_buff ctx;
	LIBBPF_OPTS(bpf_test_run_opts, opts);

	memset(&ctx, 0, sizeof(ctx));
	ctx.ifindex = (uint32_t)g_ns.ifindex[0];
	opts.data_in = in->b;
	opts.data_size_in = (uint32_t)in->len;
	opts.data_out = res->out;
	opts.data_size_out = sizeof(res->out);
	opts.ctx_in = &ctx;
	opts.ctx_size_in = sizeof(ctx);
	opts.repeat = 1;
	if (bpf_prog_test_run_opts(bpf_program__fd(prog), &opts)) {
		fprintf(stderr, "BPF_PROG_TEST_RUN: %s\n", strerror(errno));
		_fail(file, line);
	}
	res->verdict = opts.retval;
	res->len = opts.data_size_out;
}

#define IN(p, res)	 tt_run(__FILE__, __LINE__, tt->progs.pias_tt_ingress, p, res)
#define OUT(p, res)	 tt_run(__FILE__, __LINE__, tt->progs.pias_tt_egress, p, res)

#define NAME(name, text) #name,
static const char *const tt_names[] = { PIAS_TT_STATS(NAME) };
#undef NAME

static size_t stats_stride(void)
{
	return (sizeof(struct pias_tt_stats) + 7) & ~(size_t)7;
}

/* pias_tt_stats summed over CPUs. */
static int tt_counters(uint64_t sum[PIAS_TT_NSTATS])
{
	uint8_t *vals = calloc((size_t)tt_ncpus, stats_stride());
	uint32_t key = 0;
	int rc;

	if (!vals)
		return -ENOMEM;
	memset(sum, 0, sizeof(uint64_t) * PIAS_TT_NSTATS);
	rc = bpf_map_lookup_elem(bpf_map__fd(tt->maps.pias_tt_stats), &key, vals);
	for (int c = 0; !rc && c < tt_ncpus; c++)
		for (int i = 0; i < PIAS_TT_NSTATS; i++)
			sum[i] += ((uint64_t *)(vals + (size_t)c * stats_stride()))[i];
	free(vals);
	return rc;
}

/* "name=value ..." for every counter that moved; all the others must be 0. */
static void check_tt(const char *file, int line, const char *expect)
{
	uint64_t got[PIAS_TT_NSTATS];
	long long want[PIAS_TT_NSTATS] = { 0 };
	char buf[256], *save = NULL;
	int bad = 0;

	if (tt_counters(got)) {
		fprintf(stderr, "counters: cannot read pias_tt_stats\n");
		_fail(file, line);
	}
	snprintf(buf, sizeof(buf), "%s", expect);
	for (char *tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(tok, '=');
		int i;

		if (eq)
			*eq = 0;
		for (i = 0; i < PIAS_TT_NSTATS && strcmp(tt_names[i], tok); i++)
			;
		if (!eq || i == PIAS_TT_NSTATS) {
			fprintf(stderr, "counters: unknown counter '%s'\n", tok);
			_fail(file, line);
		}
		want[i] = atoll(eq + 1);
	}
	for (int i = 0; i < PIAS_TT_NSTATS; i++) {
		if ((unsigned long long)want[i] == got[i])
			continue;
		fprintf(stderr, "counters: pias_tt_stats.%s = %llu, expected %lld\n", tt_names[i],
			(unsigned long long)got[i], want[i]);
		bad = 1;
	}
	if (bad)
		_fail(file, line);
}

static const char *tc_name(uint32_t v)
{
	switch (v) {
	case TC_ACT_OK:
		return "TC_ACT_OK";
	case TC_ACT_SHOT:
		return "TC_ACT_SHOT";
	case TC_ACT_REDIRECT:
		return "TC_ACT_REDIRECT";
	}
	return "TC_ACT_?";
}

static void check_tc(const char *file, int line, const struct tt_result *res, uint32_t v)
{
	if (res->verdict == v)
		return;
	fprintf(stderr, "verdict: expected %s, got %s (%u)\n", tc_name(v), tc_name(res->verdict),
		res->verdict);
	_fail(file, line);
}

static void check_out(const char *file, int line, const struct tt_result *res,
		      const struct pkt *exp)
{
	if (pkt_diff("output frame", exp->b, exp->len, res->out, res->len))
		_fail(file, line);
}

#define assert_tc(res, v)    check_tc(__FILE__, __LINE__, res, v)
#define assert_tt(spec)	     check_tt(__FILE__, __LINE__, spec)
#define assert_out(res, exp) check_out(__FILE__, __LINE__, res, exp)

/* ---- seeding ------------------------------------------------------------ */

static struct pias_ta ta_make(uint8_t proto, const char *addr, uint16_t port)
{
	struct pias_ta ta;

	memset(&ta, 0, sizeof(ta));
	ta.addr = pkt_addr(addr);
	ta.port = port;
	ta.proto = proto;
	ta.family = family_of(addr);
	return ta;
}

static int add_service(uint8_t proto, const char *addr, uint16_t port, uint16_t tunnel_port)
{
	const struct plan *pl = plan_of(family_of(addr));
	struct pias_ta ta = ta_make(proto, addr, port);
	struct pias_tt_service s;

	memset(&s, 0, sizeof(s));
	s.jap = pkt_addr(pl->jap);
	s.self = pkt_addr(pl->self);
	s.tunnel_port = tunnel_port;
	s.mtu = TT_MTU;
	s.family = ta.family;
	s.tag = TT_TAG;
	return bpf_map_update_elem(bpf_map__fd(tt->maps.pias_tt_svc), &ta, &s, BPF_ANY);
}

/* Empty services, zero counters, then the plan's services in both families. */
static int tt_setup(void **state)
{
	int fd = bpf_map__fd(tt->maps.pias_tt_svc);
	struct pias_ta key;
	uint8_t *zero;
	uint32_t k0 = 0;
	int rc;

	struct pias_flow fkey;
	int ffd = bpf_map__fd(tt->maps.pias_tt_flows);

	(void)state;
	while (!bpf_map_get_next_key(fd, NULL, &key))
		if (bpf_map_delete_elem(fd, &key))
			return -1;
	while (!bpf_map_get_next_key(ffd, NULL, &fkey))
		if (bpf_map_delete_elem(ffd, &fkey))
			return -1;
	zero = calloc((size_t)tt_ncpus, stats_stride());
	if (!zero)
		return -1;
	rc = bpf_map_update_elem(bpf_map__fd(tt->maps.pias_tt_stats), &k0, zero, BPF_ANY);
	free(zero);
	if (rc)
		return -1;
	for (int i = 0; i < 2; i++) {
		const struct plan *pl = i ? &plan6 : &plan4;

		if (add_service(PKT_PROTO_UDP, pl->ta, 53, TUN_PORT) ||
		    add_service(PKT_PROTO_TCP, pl->ta, 80, TUN_PORT) ||
		    add_service(PKT_PROTO_UDP, pl->alt, 54, ALT_PORT))
			return -1;
	}
	return 0;
}

static int tt_group_setup(void **state)
{
	struct bpf_map *map;
	int err;

	(void)state;
	tt_ncpus = libbpf_num_possible_cpus();
	if (tt_ncpus <= 0)
		return -1;
	tt = target__open();
	if (!tt) {
		fprintf(stderr, "target.bpf.o: open failed: %s\n", strerror(errno));
		return -1;
	}
	/* private maps, whatever the object asks for */
	bpf_object__for_each_map(map, tt->obj) bpf_map__set_pin_path(map, NULL);
	err = target__load(tt);
	if (err) {
		fprintf(stderr, "target.bpf.o: load failed (verifier?): %s\n", strerror(-err));
		target__destroy(tt);
		tt = NULL;
		return -1;
	}
	return 0;
}

static int tt_group_teardown(void **state)
{
	(void)state;
	target__destroy(tt);
	tt = NULL;
	return 0;
}

/* ---- packets ------------------------------------------------------------ */

/* A client's packet to a TA (UDP to udp/53 or alt's udp/54, TCP SYN to tcp/80). */
static struct pkt_spec client_pkt(uint8_t fam, uint8_t proto, int alt)
{
	const struct plan *pl = plan_of(fam);
	struct pkt_spec s =
		proto == PKT_PROTO_TCP
			? pkt_tcp(pl->client, 40001, pl->ta, 80, PKT_TCP_SYN)
			: pkt_udp(pl->client, 40000, alt ? pl->alt : pl->ta, alt ? 54 : 53, 24);

	pkt_set_macs(&s, mac_self, mac_peer);
	return s;
}

/* A kind 5 tunnel header from pl's JAP to this target. */
static struct pkt_tun tun_in(uint8_t fam, uint16_t port)
{
	const struct plan *pl = plan_of(fam);
	struct pkt_tun t;

	memset(&t, 0, sizeof(t));
	t.family = fam;
	t.src = pkt_addr(pl->jap);
	t.dst = pkt_addr(pl->self);
	t.dport = port;
	t.version = PIAS_TUN_VERSION;
	t.kind = PIAS_KIND_JAP_TO_TARGET;
	t.hops = 3;
	t.iap_id = IAP_FAR;
	t.tag = TT_TAG;
	return t;
}

/* t around inner (an IP packet of inner_len bytes; it may be longer than its header says). */
static void wrap(struct pkt *out, const struct pkt_tun *t, const void *inner, size_t inner_len)
{
	out->len =
		pkt_tunnel_frame(t, mac_self, mac_peer, inner, inner_len, out->b, sizeof(out->b));
	if (!out->len) {
		fprintf(stderr, "tunnel frame does not fit\n");
		abort();
	}
}

static void wrap_spec(struct pkt *out, const struct pkt_tun *t, const struct pkt_spec *s)
{
	struct pkt ip;

	pkt_build_ip(&ip, s);
	wrap(out, t, ip.b, ip.len);
}

/* ---- ingress: accepted -------------------------------------------------- */

static void accept_one(uint8_t fam, uint8_t proto, int alt)
{
	struct pkt_spec s = client_pkt(fam, proto, alt);
	struct pkt_tun t = tun_in(fam, alt ? ALT_PORT : TUN_PORT);
	struct tt_result res;
	struct pkt in, exp;

	wrap_spec(&in, &t, &s);
	pkt_build(&exp, &s); /* Ethernet (the frame's own) + the client's packet */
	IN(&in, &res);
	assert_tc(&res, TC_ACT_OK);
	assert_out(&res, &exp);
	assert_tt("decap=1");
}

static void test_in_accept_udp(void **state)
{
	accept_one(fam_of(state), PKT_PROTO_UDP, 0);
}

static void test_in_accept_tcp(void **state)
{
	accept_one(fam_of(state), PKT_PROTO_TCP, 0);
}

/* udp/54's JAP tunnels to port 7000: recognised there by its inner TA. */
static void test_in_accept_own_port(void **state)
{
	accept_one(fam_of(state), PKT_PROTO_UDP, 1);
}

/* ---- ingress: dropped, or passed untouched (table) ---------------------- */

enum in_case {
	C_NOT_JAP,
	C_TAG_ZERO,    /* from the JAP's address, but no tag: forged */
	C_TAG_ONE_BIT, /* the TA's tag, one bit off */
	C_NOT_SERVED,
	C_BAD_VERSION,
	C_KIND1,
	C_KIND2,
	C_KIND3,
	C_KIND4,
	C_KIND6,
	C_FLAGS,
	C_TRUNCATED,
	C_INNER_SHORT,	/* inner packet shorter than the tunnel says */
	C_INNER_LONG,	/* inner header claims more than there is */
	C_INNER_FAMILY, /* inner family != outer */
	C_INNER_ICMP,	/* not TCP/UDP inside */
	C_WRONG_PORT,	/* udp/54's packet to 6637, its JAP uses 7000 */
	C_PLAIN_UDP,	/* straight to the TA */
	C_PLAIN_TCP,
	C_PLAIN_OPTS, /* straight to the TA, IPv4 options / IPv6 destination options */
	C_PLAIN_FRAG, /* straight to the TA, first fragment */
	C_PASS_UDP,   /* unrelated UDP to this host */
	C_PASS_TCP,
	C_PASS_ARP,
	C_PASS_ICMP,	   /* ping to the anycast address */
	C_PASS_TA_PORT,	   /* UDP to the anycast address, a port no TA has */
	C_PASS_ALT_PORT,   /* UDP to 7000 that is no tunnel packet */
	C_PASS_OTHER_PORT, /* udp/53's kind 5 to 7000: udp/53's JAP uses 6637 */
	C_PASS_LATER_FRAG, /* a later IPv4 fragment to the TA: no ports */
};

struct in_row {
	const char *name;
	enum in_case c;
	const char *counter; /* NULL: passes untouched */
	uint8_t fam;
};

static const struct in_row in_rows[] = {
#define ROW(c, counter)                                                                            \
	{ #c "[v4]", c, counter, PIAS_AF_INET },                                                   \
	{                                                                                          \
#c "[v6]", c, counter, PIAS_AF_INET6                                               \
	}
	ROW(C_NOT_JAP, "drop_not_jap"),
	ROW(C_TAG_ZERO, "drop_bad_tag"),
	ROW(C_TAG_ONE_BIT, "drop_bad_tag"),
	ROW(C_NOT_SERVED, "drop_not_served"),
	ROW(C_BAD_VERSION, "drop_bad_header"),
	ROW(C_KIND1, "drop_bad_header"),
	ROW(C_KIND2, "drop_bad_header"),
	ROW(C_KIND3, "drop_bad_header"),
	ROW(C_KIND4, "drop_bad_header"),
	ROW(C_KIND6, "drop_bad_header"),
	ROW(C_FLAGS, "drop_bad_header"),
	ROW(C_TRUNCATED, "drop_bad_header"),
	ROW(C_INNER_SHORT, "drop_bad_header"),
	ROW(C_INNER_LONG, "drop_bad_header"),
	ROW(C_INNER_FAMILY, "drop_bad_header"),
	ROW(C_INNER_ICMP, "drop_bad_header"),
	ROW(C_WRONG_PORT, "drop_bad_header"),
	ROW(C_PLAIN_UDP, "drop_not_tunnelled"),
	ROW(C_PLAIN_TCP, "drop_not_tunnelled"),
	ROW(C_PLAIN_OPTS, "drop_not_tunnelled"),
	ROW(C_PLAIN_FRAG, "drop_not_tunnelled"),
	ROW(C_PASS_UDP, NULL),
	ROW(C_PASS_TCP, NULL),
	ROW(C_PASS_ARP, NULL),
	ROW(C_PASS_ICMP, NULL),
	ROW(C_PASS_TA_PORT, NULL),
	ROW(C_PASS_ALT_PORT, NULL),
	ROW(C_PASS_OTHER_PORT, NULL),
	{ "C_PASS_LATER_FRAG[v4]", C_PASS_LATER_FRAG, NULL, PIAS_AF_INET },
#undef ROW
};

static void build_case(struct pkt *in, enum in_case c, uint8_t fam)
{
	const struct plan *pl = plan_of(fam);
	struct pkt_spec s = client_pkt(fam, PKT_PROTO_UDP, 0);
	struct pkt_tun t = tun_in(fam, TUN_PORT);
	struct pkt ip;

	switch (c) {
	case C_NOT_JAP:
		t.src = pkt_addr(pl->other);
		break;
	case C_TAG_ZERO:
		t.tag = 0;
		break;
	case C_TAG_ONE_BIT:
		t.tag ^= 1ull << 40;
		break;
	case C_NOT_SERVED:
		s.dport = 5353;
		break;
	case C_BAD_VERSION:
		t.version = 1;
		break;
	case C_KIND1:
	case C_KIND2:
	case C_KIND3:
	case C_KIND4:
		t.kind = (uint8_t)(PIAS_KIND_IAP_TO_RAP + (c - C_KIND1));
		break;
	case C_KIND6:
		t.kind = PIAS_KIND_TARGET_TO_JAP;
		break;
	case C_FLAGS:
		t.flags = PIAS_TUN_F_BOUNCED;
		break;
	case C_TRUNCATED: {
		/* UDP to the tunnel port from the JAP, 8 bytes of a header */
		static const uint8_t part[8] = { PIAS_TUN_VERSION, PIAS_KIND_JAP_TO_TARGET, 0, 1 };
		struct pkt_spec u = pkt_udp(pl->jap, 50000, pl->self, TUN_PORT, 0);

		u.payload = part;
		u.payload_len = sizeof(part);
		pkt_set_macs(&u, mac_self, mac_peer);
		pkt_build(in, &u);
		return;
	}
	case C_INNER_SHORT:
		/* 4 bytes after the inner packet that its header does not count */
		pkt_build_ip(&ip, &s);
		memset(ip.b + ip.len, 0, 4);
		wrap(in, &t, ip.b, ip.len + 4);
		return;
	case C_INNER_LONG:
		pkt_build_ip(&ip, &s);
		wrap(in, &t, ip.b, ip.len - 4);
		return;
	case C_INNER_FAMILY:
		/* the other family's served TA inside */
		s = client_pkt(fam == PIAS_AF_INET ? PIAS_AF_INET6 : PIAS_AF_INET, PKT_PROTO_UDP,
			       0);
		break;
	case C_INNER_ICMP:
		s = pkt_icmp_echo(pl->client, pl->ta);
		t.sport = 0xc000; /* no flow to hash */
		break;
	case C_WRONG_PORT:
		s = client_pkt(fam, PKT_PROTO_UDP, 1);
		break;
	case C_PLAIN_UDP:
		pkt_build(in, &s);
		return;
	case C_PLAIN_TCP:
		s = client_pkt(fam, PKT_PROTO_TCP, 0);
		pkt_build(in, &s);
		return;
	case C_PLAIN_OPTS:
		if (fam == PIAS_AF_INET) {
			memset(s.ip_opts, 1 /* NOP */, 4);
			s.ip_opts_len = 4;
		} else {
			s.v6_ext = PKT_EXT_DSTOPTS;
		}
		pkt_build(in, &s);
		return;
	case C_PLAIN_FRAG:
		if (fam == PIAS_AF_INET) {
			s.frag = PKT_IP_MF;
		} else {
			s.v6_ext = PKT_EXT_FRAGMENT;
			s.v6_frag_more = 1;
		}
		pkt_build(in, &s);
		return;
	case C_PASS_UDP:
		s = pkt_udp(pl->client, 40000, pl->self, 5000, 24);
		pkt_set_macs(&s, mac_self, mac_peer);
		pkt_build(in, &s);
		return;
	case C_PASS_TCP:
		s = pkt_tcp(pl->client, 40000, pl->self, 22, PKT_TCP_SYN);
		pkt_set_macs(&s, mac_self, mac_peer);
		pkt_build(in, &s);
		return;
	case C_PASS_ARP: {
		static const uint8_t arp[28] = { 0, 1, 8, 0, 6, 4, 0, 1 };

		in->len = pkt_eth(in->b, sizeof(in->b), mac_self, mac_peer, PKT_ETH_P_ARP, arp,
				  sizeof(arp));
		return;
	}
	case C_PASS_ICMP:
		s = pkt_icmp_echo(pl->client, pl->ta);
		pkt_set_macs(&s, mac_self, mac_peer);
		pkt_build(in, &s);
		return;
	case C_PASS_TA_PORT:
		s.dport = 5353;
		pkt_build(in, &s);
		return;
	case C_PASS_ALT_PORT: {
		static const uint8_t junk[32] = { 1, 5, 0, 0 };

		s = pkt_udp(pl->client, 40000, pl->self, ALT_PORT, 0);
		s.payload = junk;
		s.payload_len = sizeof(junk);
		pkt_set_macs(&s, mac_self, mac_peer);
		pkt_build(in, &s);
		return;
	}
	case C_PASS_OTHER_PORT:
		t.dport = ALT_PORT;
		break;
	case C_PASS_LATER_FRAG:
		s.frag = 8; /* offset 64 bytes */
		pkt_build(in, &s);
		return;
	}
	wrap_spec(in, &t, &s);
}

static void test_in_case(void **state)
{
	const struct in_row *r = *state;
	struct tt_result res;
	struct pkt in;
	char expect[64];

	build_case(&in, r->c, r->fam);
	IN(&in, &res);
	if (!r->counter) {
		assert_tc(&res, TC_ACT_OK);
		assert_out(&res, &in);
		assert_tt("");
		return;
	}
	assert_tc(&res, TC_ACT_SHOT);
	snprintf(expect, sizeof(expect), "%s=1", r->counter);
	assert_tt(expect);
}

/* ---- egress ------------------------------------------------------------- */

/* The server's reply to client_pkt(fam, proto, 0), payload_len bytes of UDP payload. */
static struct pkt_spec reply_pkt(uint8_t fam, uint8_t proto, size_t payload_len)
{
	const struct plan *pl = plan_of(fam);
	struct pkt_spec s =
		proto == PKT_PROTO_TCP
			? pkt_tcp(pl->ta, 80, pl->client, 40001, PKT_TCP_SYN | PKT_TCP_ACK)
			: pkt_udp(pl->ta, 53, pl->client, 40000, payload_len);

	/* as the stack addressed it: to the gateway towards the client */
	pkt_set_macs(&s, mac_peer, mac_self);
	return s;
}

/*
 * What egress must make of reply r: kind 6 from self to the JAP, UDP to
 * the JAP's tunnel port from the client-side flow's hash, the Ethernet
 * header as it was (bpf_redirect_neigh rewrites the MACs after the program).
 */
static void expect_wrapped_to(struct pkt *exp, uint8_t fam, const struct pkt_spec *r,
			      const char *jap, uint64_t tag)
{
	const struct plan *pl = plan_of(fam);
	struct pias_flow client_side;
	struct pkt_tun t;
	struct pkt ip;

	memset(&client_side, 0, sizeof(client_side));
	client_side.saddr = r->dst;
	client_side.daddr = r->src;
	client_side.sport = r->dport;
	client_side.dport = r->sport;
	client_side.proto = r->proto;
	client_side.family = r->family;
	memset(&t, 0, sizeof(t));
	t.family = fam;
	t.src = pkt_addr(pl->self);
	t.dst = pkt_addr(jap);
	t.dport = TUN_PORT;
	t.sport = pkt_tun_sport(&client_side);
	t.version = PIAS_TUN_VERSION;
	t.kind = PIAS_KIND_TARGET_TO_JAP;
	t.hops = 1;
	t.tag = tag;
	pkt_build_ip(&ip, r);
	exp->len =
		pkt_tunnel_frame(&t, r->eth_dst, r->eth_src, ip.b, ip.len, exp->b, sizeof(exp->b));
	assert_true(exp->len > 0);
}

static void expect_wrapped(struct pkt *exp, uint8_t fam, const struct pkt_spec *r)
{
	expect_wrapped_to(exp, fam, r, plan_of(fam)->jap, TT_TAG);
}

/*
 * The TA moved from its JAP (pl->jap) to another (pl->other), as when the
 * first JAP's piasd went down: the flows from before go on through the
 * first JAP, those that begin through the new one are remembered and go
 * back through it.
 */
static void test_prev_jap(void **state)
{
	uint8_t fam = fam_of(state);
	const struct plan *pl = plan_of(fam);
	struct pias_ta ta = ta_make(PKT_PROTO_UDP, pl->ta, 53);
	int fd = bpf_map__fd(tt->maps.pias_tt_svc);
	const uint64_t new_tag = TT_TAG ^ 0xff00;
	struct pkt_spec s = client_pkt(fam, PKT_PROTO_UDP, 0), s2, r, r2;
	struct pias_tt_service svc;
	struct pkt_tun t = tun_in(fam, TUN_PORT), tn;
	struct tt_result res;
	struct pkt in, exp;

	assert_int_equal(bpf_map_lookup_elem(fd, &ta, &svc), 0);
	svc.prev_jap = svc.jap;
	svc.prev_tunnel_port = svc.tunnel_port;
	svc.prev_tag = svc.tag;
	svc.jap = pkt_addr(pl->other);
	svc.tag = new_tag;
	assert_int_equal(bpf_map_update_elem(fd, &ta, &svc, BPF_ANY), 0);
	tn = t;
	tn.src = pkt_addr(pl->other);
	tn.tag = new_tag;

	/* a flow from before, through the first JAP: taken; its reply goes back there */
	wrap_spec(&in, &t, &s);
	IN(&in, &res);
	assert_tc(&res, TC_ACT_OK);
	assert_tt("decap=1 via_prev_jap=1");
	r = reply_pkt(fam, PKT_PROTO_UDP, 24);
	pkt_build(&in, &r);
	expect_wrapped(&exp, fam, &r);
	OUT(&in, &res);
	assert_tc(&res, TC_ACT_REDIRECT);
	assert_out(&res, &exp);

	/* a flow that begins through the new JAP: remembered, its reply goes there */
	s2 = s;
	s2.sport = 40009;
	wrap_spec(&in, &tn, &s2);
	IN(&in, &res);
	assert_tc(&res, TC_ACT_OK);
	r2 = r;
	r2.dport = 40009;
	pkt_build(&in, &r2);
	expect_wrapped_to(&exp, fam, &r2, pl->other, new_tag);
	OUT(&in, &res);
	assert_tc(&res, TC_ACT_REDIRECT);
	assert_out(&res, &exp);

	/* it changes again, back to the first JAP: the new flow keeps its JAP */
	svc.jap = svc.prev_jap;
	svc.tag = svc.prev_tag;
	assert_int_equal(bpf_map_update_elem(fd, &ta, &svc, BPF_ANY), 0);
	wrap_spec(&in, &tn, &s2);
	IN(&in, &res);
	assert_tc(&res, TC_ACT_OK);
	pkt_build(&in, &r2);
	OUT(&in, &res);
	assert_tc(&res, TC_ACT_REDIRECT);
	assert_out(&res, &exp);

	/* the first JAP with the other's tag, the other for a flow not its own: refused */
	t.tag = new_tag;
	wrap_spec(&in, &t, &s);
	IN(&in, &res);
	assert_tc(&res, TC_ACT_SHOT);
	wrap_spec(&in, &tn, &s);
	IN(&in, &res);
	assert_tc(&res, TC_ACT_SHOT);
	assert_tt("decap=3 encap=3 via_prev_jap=2 drop_bad_tag=1 drop_not_jap=1");

	/*
	 * The agent names the other as the TA's last JAP: it still has the
	 * target registered for a while, and its new flows are taken too,
	 * remembered, and answered through it.
	 */
	svc.last_jap = pkt_addr(pl->other);
	svc.last_tunnel_port = TUN_PORT;
	svc.last_tag = new_tag;
	assert_int_equal(bpf_map_update_elem(fd, &ta, &svc, BPF_ANY), 0);
	s2.sport = 40011;
	wrap_spec(&in, &tn, &s2);
	IN(&in, &res);
	assert_tc(&res, TC_ACT_OK);
	r2.dport = 40011;
	pkt_build(&in, &r2);
	expect_wrapped_to(&exp, fam, &r2, pl->other, new_tag);
	OUT(&in, &res);
	assert_tc(&res, TC_ACT_REDIRECT);
	assert_out(&res, &exp);
	assert_tt("decap=4 encap=4 via_prev_jap=3 drop_bad_tag=1 drop_not_jap=1");

	/* a client reusing the 5-tuple of 40009 through the first JAP (the TA's again): answered there */
	t = tun_in(fam, TUN_PORT);
	s2.sport = 40009;
	wrap_spec(&in, &t, &s2);
	IN(&in, &res);
	assert_tc(&res, TC_ACT_OK);
	r2.dport = 40009;
	pkt_build(&in, &r2);
	expect_wrapped(&exp, fam, &r2);
	OUT(&in, &res);
	assert_tc(&res, TC_ACT_REDIRECT);
	assert_out(&res, &exp);
	assert_tt("decap=5 encap=5 via_prev_jap=3 drop_bad_tag=1 drop_not_jap=1");
}

static void encap_one(uint8_t fam, uint8_t proto, size_t payload_len)
{
	struct pkt_spec r = reply_pkt(fam, proto, payload_len);
	struct tt_result res;
	struct pkt in, exp;
	char why[160];

	pkt_build(&in, &r);
	expect_wrapped(&exp, fam, &r);
	OUT(&in, &res);
	/* bpf_redirect_neigh's verdict: under BPF_PROG_TEST_RUN nothing is sent */
	assert_tc(&res, TC_ACT_REDIRECT);
	assert_out(&res, &exp);
	/* the outer IPv4 header checksum (and the inner ones) from scratch */
	if (pkt_verify(res.out, res.len, why, sizeof(why))) {
		fprintf(stderr, "checksum: %s\n", why);
		fail();
	}
	assert_tt("encap=1");
}

static void test_out_encap_udp(void **state)
{
	encap_one(fam_of(state), PKT_PROTO_UDP, 24);
}

static void test_out_encap_tcp(void **state)
{
	encap_one(fam_of(state), PKT_PROTO_TCP, 0);
}

/* Payload for a UDP reply whose wrapping is exactly mtu + extra bytes. */
static size_t payload_for(uint8_t fam, int extra)
{
	size_t ip_hl = fam == PIAS_AF_INET ? 20 : 40;
	size_t overhead = fam == PIAS_AF_INET ? PIAS_ENCAP_OVERHEAD_V4 : PIAS_ENCAP_OVERHEAD_V6;

	return (size_t)((long)TT_MTU + extra - (long)overhead - (long)ip_hl - 8);
}

/* Wrapped to exactly the service's MTU: sent. */
static void test_out_fits_mtu(void **state)
{
	encap_one(fam_of(state), PKT_PROTO_UDP, payload_for(fam_of(state), 0));
}

/* One byte more: dropped, not sent unwrapped. */
static void test_out_too_big(void **state)
{
	struct pkt_spec r = reply_pkt(fam_of(state), PKT_PROTO_UDP, payload_for(fam_of(state), 1));
	struct tt_result res;
	struct pkt in;

	pkt_build(&in, &r);
	OUT(&in, &res);
	assert_tc(&res, TC_ACT_SHOT);
	assert_tt("drop_too_big=1");
}

/*
 * A GSO packet is not held to the MTU: its segments are cut after the
 * program, gso_size lowered by the overhead. BPF_PROG_TEST_RUN takes a
 * gso_size but no gso_type, and bpf_skb_adjust_room refuses GSO that is not
 * TCP (-ENOTSUPP): the wrapping itself cannot run here, only the MTU check
 * can be seen to be skipped.
 */
static void test_out_gso_not_too_big(void **state)
{
	struct pkt_spec r = reply_pkt(fam_of(state), PKT_PROTO_UDP, payload_for(fam_of(state), 1));
	struct __sk_buff ctx;
	LIBBPF_OPTS(bpf_test_run_opts, opts);
	uint8_t out[PKT_MAX];
	struct pkt in;

	pkt_build(&in, &r);
	memset(&ctx, 0, sizeof(ctx));
	ctx.ifindex = (uint32_t)g_ns.ifindex[0];
	ctx.gso_size = 1000;
	ctx.gso_segs = 2;
	opts.data_in = in.b;
	opts.data_size_in = (uint32_t)in.len;
	opts.data_out = out;
	opts.data_size_out = sizeof(out);
	opts.ctx_in = &ctx;
	opts.ctx_size_in = sizeof(ctx);
	assert_int_equal(bpf_prog_test_run_opts(bpf_program__fd(tt->progs.pias_tt_egress), &opts),
			 0);
	assert_int_equal(opts.retval, TC_ACT_SHOT);
	assert_tt("drop_adjust_failed=1");
}

/* Not from a served TA: the TA's address on another port, another address, not TCP/UDP. */
static void test_out_not_served(void **state)
{
	uint8_t fam = fam_of(state);
	const struct plan *pl = plan_of(fam);
	struct pkt_spec specs[4];
	struct tt_result res;
	struct pkt in;

	specs[0] = pkt_udp(pl->ta, 5353, pl->client, 40000, 24);
	specs[1] = pkt_udp(pl->self, 53, pl->client, 40000, 24);
	specs[2] = pkt_tcp(pl->ta, 81, pl->client, 40001, PKT_TCP_ACK);
	specs[3] = pkt_icmp_echo(pl->ta, pl->client);
	for (int i = 0; i < 4; i++) {
		pkt_set_macs(&specs[i], mac_peer, mac_self);
		pkt_build(&in, &specs[i]);
		OUT(&in, &res);
		assert_tc(&res, TC_ACT_OK);
		assert_out(&res, &in);
	}
	assert_tt("");
}

/* Ingress does not wrap and egress does not unwrap. */
static void test_directions(void **state)
{
	uint8_t fam = fam_of(state);
	struct pkt_spec r = reply_pkt(fam, PKT_PROTO_UDP, 24);
	struct pkt_spec s = client_pkt(fam, PKT_PROTO_UDP, 0);
	struct pkt_tun t = tun_in(fam, TUN_PORT);
	struct tt_result res;
	struct pkt in;

	/* the reply arriving (from the client, say): the TA is not its destination */
	pkt_build(&in, &r);
	IN(&in, &res);
	assert_tc(&res, TC_ACT_OK);
	assert_out(&res, &in);
	/* a kind 5 packet leaving: from self, not from a TA */
	wrap_spec(&in, &t, &s);
	OUT(&in, &res);
	assert_tc(&res, TC_ACT_OK);
	assert_out(&res, &in);
	assert_tt("");
}

/* The object: two TC programs, two maps, named as target.h says. */
static void test_target_object(void **state)
{
	(void)state;
	assert_string_equal(bpf_program__name(tt->progs.pias_tt_ingress), "pias_tt_ingress");
	assert_string_equal(bpf_program__name(tt->progs.pias_tt_egress), "pias_tt_egress");
	assert_int_equal(bpf_program__type(tt->progs.pias_tt_ingress), BPF_PROG_TYPE_SCHED_CLS);
	assert_int_equal(bpf_program__type(tt->progs.pias_tt_egress), BPF_PROG_TYPE_SCHED_CLS);
	assert_string_equal(bpf_map__name(tt->maps.pias_tt_svc), PIAS_TT_MAP_SERVICES);
	assert_string_equal(bpf_map__name(tt->maps.pias_tt_stats), PIAS_TT_MAP_STATS);
	assert_int_equal(bpf_map__type(tt->maps.pias_tt_svc), BPF_MAP_TYPE_HASH);
	assert_int_equal(bpf_map__key_size(tt->maps.pias_tt_svc), sizeof(struct pias_ta));
	assert_int_equal(bpf_map__value_size(tt->maps.pias_tt_svc), sizeof(struct pias_tt_service));
	assert_int_equal(bpf_map__max_entries(tt->maps.pias_tt_svc), PIAS_TT_MAX_SERVICES);
	assert_int_equal(bpf_map__type(tt->maps.pias_tt_stats), BPF_MAP_TYPE_PERCPU_ARRAY);
	assert_int_equal(bpf_map__value_size(tt->maps.pias_tt_stats), sizeof(struct pias_tt_stats));
}

#define BOTH(fn)                                                                                   \
	{ #fn "[v4]", fn, tt_setup, NULL, (void *)&fam4 },                                         \
	{                                                                                          \
#fn "[v6]", fn, tt_setup, NULL, (void *)&fam6                                      \
	}

int run_target_tests(void)
{
	const size_t nrows = sizeof(in_rows) / sizeof(in_rows[0]);
	struct CMUnitTest tests[128] = {
		{ "test_target_object", test_target_object, NULL, NULL, NULL },
		BOTH(test_in_accept_udp),
		BOTH(test_in_accept_tcp),
		BOTH(test_in_accept_own_port),
		BOTH(test_out_encap_udp),
		BOTH(test_out_encap_tcp),
		BOTH(test_out_fits_mtu),
		BOTH(test_out_too_big),
		BOTH(test_out_gso_not_too_big),
		BOTH(test_out_not_served),
		BOTH(test_directions),
		BOTH(test_prev_jap),
	};
	size_t n = 0;

	while (tests[n].name)
		n++;
	for (size_t i = 0; i < nrows && n < sizeof(tests) / sizeof(tests[0]); i++)
		tests[n++] = (struct CMUnitTest){ in_rows[i].name, test_in_case, tt_setup, NULL,
						  (void *)&in_rows[i] };
	return _cmocka_run_group_tests("target", tests, n, tt_group_setup, tt_group_teardown);
}
