// SPDX-License-Identifier: MIT
/*
 * A mutation fuzzer of pias_xdp through BPF_PROG_TEST_RUN. From frames the
 * program forwards (client packets to an IAP, RAP -> JAP tunnel packets,
 * targets' replies to the NAT address, over both families), it sends
 * PIAS_XDP_FUZZ_FRAMES (default 20000) mutations: bits flipped, bytes and
 * 16-bit fields set to edge values, frames cut or grown; most then get
 * their checksums recomputed, so that they reach the logic behind the
 * parsers. For every frame (docs/protocol.md sections 3 and 4):
 *
 *   - the verdict is PASS, DROP, TX or REDIRECT, never ABORTED;
 *   - a frame passed to the stack is unchanged, but for the Ethernet
 *     padding behind the IP packet of one that was for this proxy;
 *   - a drop moves exactly one drop counter by one; anything else moves
 *     none, and rx_packets counts the frame;
 *   - a forwarded frame (or one the route lookup hands to the stack
 *     ready to go, fwd_fib_pass) is IPv4 or IPv6 with a TTL above 0, and goes
 *     either to a live proxy as a tunnel packet from this proxy's address,
 *     or to a target, or to a client from an anycast address (or, an ICMP
 *     error, from this proxy's address);
 *   - if the frame's checksums were right, the forwarded frame's are.
 *
 * The PRNG is seeded from PIAS_XDP_FUZZ_SEED (default 1), printed with any
 * failure, so that a failing run can be repeated.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jap_util.h"

static uint64_t rng;

static uint32_t rnd(void)
{
	/* xorshift64*: small, fast, reproducible */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (uint32_t)((rng * 0x2545f4914f6cdd1dull) >> 32);
}

struct seed {
	struct pkt p;
	int link;
};

#define MAX_SEEDS 16
static struct seed seeds[MAX_SEEDS];
static int nseeds;

static void add_seed(const struct pkt *p, int link)
{
	assert_true(nseeds < MAX_SEEDS);
	seeds[nseeds].p = *p;
	seeds[nseeds++].link = link;
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void mutate(struct pkt *p)
{
	static const uint16_t edge[] = { 0,	1,     0x7f,   0x80,   0xff,
					 0x100, 0x5dc, 0x7fff, 0x8000, 0xffff };
	int n = 1 + (int)(rnd() % 3);

	for (int i = 0; i < n; i++) {
		size_t at = p->len ? rnd() % p->len : 0;

		switch (rnd() % 6) {
		case 0: /* a bit */
			p->b[at] ^= (uint8_t)(1u << (rnd() % 8));
			break;
		case 1: /* a byte */
			p->b[at] = (uint8_t)rnd();
			break;
		case 2: /* a 16-bit field to an edge value */
			if (at + 1 < p->len) {
				uint16_t v = edge[rnd() % (sizeof(edge) / sizeof(edge[0]))];

				p->b[at] = (uint8_t)(v >> 8);
				p->b[at + 1] = (uint8_t)v;
			}
			break;
		case 3: /* cut */
			p->len = PKT_ETH_HLEN + rnd() % (p->len - PKT_ETH_HLEN + 1);
			break;
		case 4: /* grow */
			for (int k = (int)(rnd() % 64); k > 0 && p->len < PKT_MAX; k--)
				p->b[p->len++] = (uint8_t)rnd();
			break;
		default: /* a header byte: the first 80 bytes are where parsers look */
			p->b[PKT_ETH_HLEN + rnd() % 66] ^= (uint8_t)rnd();
			break;
		}
	}
}

static bool in_anycast(const uint8_t *src, bool v4)
{
	static const uint8_t a6[6] = { 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x0a };

	return v4 ? src[0] == 203 && src[1] == 0 && src[2] == 113 && src[3] < 128
		  : !memcmp(src, a6, 6);
}

static bool same_addr(const uint8_t *a, const char *s, bool v4)
{
	union pias_addr x = pkt_addr(s);

	return (family_of(s) == PIAS_AF_INET) == v4 && !memcmp(a, x.bytes, v4 ? 4 : 16);
}

static bool is_proxy(const uint8_t *a, bool v4)
{
	static const uint32_t live[] = { 2, 3, 4, 12, 13, 14 };

	for (size_t i = 0; i < sizeof(live) / sizeof(live[0]); i++)
		if (same_addr(a, proxy_addr(live[i]), v4))
			return true;
	return false;
}

static bool is_target(const uint8_t *a, bool v4)
{
	static const uint32_t ids[] = { 10, 11, 12, 15, 20, 21, 22, 25 };

	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		if (same_addr(a, target_addr(ids[i]), v4))
			return true;
	return false;
}

/* Why a forwarded frame breaks the rules above, or NULL. */
static const char *bad_forward(const struct pr_result *res)
{
	const uint8_t *ip = res->out + PKT_ETH_HLEN;
	uint16_t et = rd16(res->out + 12);
	bool v4 = et == PKT_ETH_P_IP;
	const uint8_t *src, *dst, *l4;
	uint8_t proto, ttl;

	if (et != PKT_ETH_P_IP && et != PKT_ETH_P_IPV6)
		return "not IPv4 or IPv6";
	if (res->len < PKT_ETH_HLEN + (v4 ? 28u : 48u))
		return "shorter than an IP header and 8 bytes";
	proto = v4 ? ip[9] : ip[6];
	ttl = v4 ? ip[8] : ip[7];
	src = ip + (v4 ? 12 : 8);
	dst = ip + (v4 ? 16 : 24);
	l4 = ip + (v4 ? (ip[0] & 0xf) * 4 : 40);
	if (!ttl)
		return "TTL or hop limit 0";
	if (proto == PKT_PROTO_UDP && rd16(l4 + 2) == TUN_PORT) {
		if (!is_proxy(dst, v4))
			return "a tunnel packet to an address that is no live proxy";
		if (!same_addr(src, self_addr(v4 ? PIAS_AF_INET : PIAS_AF_INET6), v4))
			return "a tunnel packet from another address than this proxy's";
		return NULL;
	}
	if (is_target(dst, v4) || in_anycast(src, v4))
		return NULL;
	if ((proto == PKT_PROTO_ICMP || proto == PKT_PROTO_ICMPV6) &&
	    same_addr(src, self_addr(v4 ? PIAS_AF_INET : PIAS_AF_INET6), v4))
		return NULL;
	return "neither to a target nor from an anycast address";
}

/* IPv4 or IPv6 length of the frame's packet (0: neither, or too short). */
static size_t ip_len_of(const struct pkt *p)
{
	uint16_t et = rd16(p->b + 12);

	if (et == PKT_ETH_P_IP && p->len >= PKT_ETH_HLEN + 20)
		return rd16(p->b + PKT_ETH_HLEN + 2);
	if (et == PKT_ETH_P_IPV6 && p->len >= PKT_ETH_HLEN + 40)
		return 40u + rd16(p->b + PKT_ETH_HLEN + 4);
	return 0;
}

/*
 * A frame passed to the stack: one for another destination (or not IP)
 * goes untouched (section 4); one for this proxy (its NAT address with no
 * connection, its registration service) may lose the Ethernet padding
 * behind its IP packet, and nothing else.
 */
static const char *bad_pass(const struct pkt *in, const struct pr_result *res,
			    const struct pias_stats *st0, const struct pias_stats *st1)
{
	bool other = st1->pass_not_ours != st0->pass_not_ours ||
		     st1->pass_not_ip != st0->pass_not_ip || st1->pass_not_l4 != st0->pass_not_l4;

	if (res->len > in->len || memcmp(res->out, in->b, res->len))
		return "passed to the stack, but changed";
	if (res->len < in->len && (other || res->len != PKT_ETH_HLEN + ip_len_of(in)))
		return "passed to the stack, but cut";
	return NULL;
}

static uint64_t sum(const uint64_t *v, int n)
{
	uint64_t s = 0;

	for (int i = 0; i < n; i++)
		s += v[i];
	return s;
}

static void seed_world(void)
{
	static const struct tcase tcs[] = {
		{ PIAS_AF_INET, PIAS_AF_INET, PKT_PROTO_UDP },
		{ PIAS_AF_INET6, PIAS_AF_INET6, PKT_PROTO_TCP },
		{ PIAS_AF_INET, PIAS_AF_INET6, PKT_PROTO_TCP },
		{ PIAS_AF_INET6, PIAS_AF_INET, PKT_PROTO_UDP },
	};

	nseeds = 0;
	for (size_t i = 0; i < sizeof(tcs) / sizeof(tcs[0]); i++) {
		const struct tcase *tc = &tcs[i];
		uint32_t tid = target_id(tc->cf, 0), rap = rap_id(tc->uf);
		struct pkt_spec c = jap_inner(tc, (uint16_t)(44000 + i));
		struct pkt_spec cl = client_spec(tc, (uint16_t)(50000 + i));
		struct pias_ta ta = ta_of_spec(&c);
		uint16_t port = open_conn(tc, &c, tid);
		struct pkt_spec r = reply_of(&c, tid, port, PKT_TCP_ACK);
		struct pkt in;

		/* the IAP's binding: client packets go to JAP 3 (or 13) */
		assert_ok(pr_binding(&g_pr, &ta, jap_id(tc->uf), 1, 0, 0));
		assert_ok(pr_rap(&g_pr, &ta, &rap, 1));
		jap_tunnel(&in, tc, &c, 0, 0);
		add_seed(&in, 0);
		pkt_build(&in, &r);
		add_seed(&in, target_link(tid));
		pkt_build(&in, &cl);
		add_seed(&in, 0);
	}
}

static void test_xdp_fuzz(void **state)
{
	const char *env = getenv("PIAS_XDP_FUZZ_FRAMES");
	long frames = env ? atol(env) : 20000;
	uint64_t seed =
		getenv("PIAS_XDP_FUZZ_SEED") ? strtoull(getenv("PIAS_XDP_FUZZ_SEED"), NULL, 0) : 1;
	long verdicts[5] = { 0 }, checked_csums = 0;
	struct pias_stats st0, st1;
	struct pias_drops dr0, dr1;

	(void)state;
	rng = seed ? seed : 1;
	seed_world();
	/* the seeds themselves are forwarded: else the fuzzer would start from drops */
	for (int i = 0; i < nseeds; i++) {
		struct pr_result res;

		RUN(seeds[i].link, &seeds[i].p, &res);
		if (res.verdict != XDP_TX && res.verdict != XDP_REDIRECT) {
			fprintf(stderr, "seed %d: %s\n", i, pr_verdict_name(res.verdict));
			fail();
		}
	}
	assert_ok(pr_counters(&g_pr, &st0, &dr0));
	for (long f = 0; f < frames; f++) {
		const struct seed *s = &seeds[rnd() % (uint32_t)nseeds];
		struct pkt in = s->p;
		struct pr_result res;
		uint64_t drops;
		const char *why = NULL;
		bool in_ok;

		mutate(&in);
		if (rnd() % 4)
			pkt_fix(in.b, in.len);
		in_ok = !pkt_verify(in.b, in.len, NULL, 0);
		RUN(s->link, &in, &res);
		assert_ok(pr_counters(&g_pr, &st1, &dr1));
		drops = sum((uint64_t *)&dr1, PIAS_DROP_MAX) - sum((uint64_t *)&dr0, PIAS_DROP_MAX);
		if (res.verdict > XDP_REDIRECT || res.verdict == XDP_ABORTED)
			why = "verdict ABORTED or unknown";
		else if (st1.rx_packets != st0.rx_packets + 1)
			why = "rx_packets did not count the frame once";
		else if (res.verdict == XDP_DROP && drops != 1)
			why = drops ? "a drop counted more than once" : "a drop not counted";
		else if (res.verdict != XDP_DROP && drops)
			why = "a drop counter moved, but the frame was not dropped";
		else if (res.verdict == XDP_PASS && st1.fwd_fib_pass == st0.fwd_fib_pass)
			why = bad_pass(&in, &res, &st0, &st1);
		else if (res.verdict != XDP_DROP) {
			/* TX, REDIRECT, or PASS of a frame ready to go whose route
			 * lookup failed (fwd_fib_pass: the stack resolves it) */
			char csum[160];

			why = bad_forward(&res);
			if (!why && in_ok) {
				checked_csums++;
				if (pkt_verify(res.out, res.len, csum, sizeof(csum))) {
					fprintf(stderr, "checksum: %s\n", csum);
					why = "forwarded with a wrong checksum, though the frame's were right";
				}
			}
		}
		if (why) {
			fprintf(stderr,
				"xdp fuzz frame %ld (PIAS_XDP_FUZZ_SEED=%llu, seed frame %ld on link %d): %s; verdict %s, %llu drops\n",
				f, (unsigned long long)seed, (long)(s - seeds), s->link, why,
				pr_verdict_name(res.verdict), (unsigned long long)drops);
			pkt_dump("in", in.b, in.len);
			if (res.verdict != XDP_DROP)
				pkt_dump("out", res.out, res.len);
			if (res.verdict == XDP_PASS)
				pkt_diff("passed frame", in.b, in.len, res.out, res.len);
			fprintf(stderr, "  what this frame moved:");
			for (int k = 0; k < PIAS_STAT_MAX; k++)
				if (((uint64_t *)&st1)[k] != ((uint64_t *)&st0)[k])
					fprintf(stderr, " stat %d", k);
			for (int k = 0; k < PIAS_DROP_MAX; k++)
				if (((uint64_t *)&dr1)[k] != ((uint64_t *)&dr0)[k])
					fprintf(stderr, " drop %d", k);
			fputc('\n', stderr);
			fail();
		}
		verdicts[res.verdict < 5 ? res.verdict : 0]++;
		st0 = st1;
		dr0 = dr1;
	}
	fprintf(stderr,
		"  xdp fuzz: %ld frames (seed %llu): %ld passed, %ld dropped, %ld sent back out, %ld redirected; checksums checked on %ld\n",
		frames, (unsigned long long)seed, verdicts[XDP_PASS], verdicts[XDP_DROP],
		verdicts[XDP_TX], verdicts[XDP_REDIRECT], checked_csums);
}

int run_xdp_fuzz_tests(void)
{
	static const struct wtest tests[] = {
		WTEST(test_xdp_fuzz, W_ONCE),
	};

	return run_world_group("xdp_fuzz", tests, 1);
}
