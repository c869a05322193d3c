// SPDX-License-Identifier: MIT
/*
 * The programs of the hop benchmark and the state they run on: the rig's
 * own object (bpf/hop.bpf.c) and the PIAS dataplane itself (pias.bpf.o,
 * the object piasd-loader attaches, with its maps unpinned: private to
 * this run). The PIAS maps are seeded through the library's writers, as
 * piasd would fill them: the DUT is proxy 1, the JAP of udp
 * 203.0.113.10:53 is proxy 2 at the sink's address, and proxy 4 at the
 * generator's address is an IAP that tunnels to the DUT.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_link.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "pias_hop.h"
#include "hop.skel.h"
#include "pias.skel.h"

/* The overlay key of the rig's proxies: the tunnel tags come from it. */
static const __u8 hop_key[PIAS_TUN_KEY_LEN] = "pias-hop's overlay key, 32 byte";

__u64 hop_iap_tag(void)
{
	return pias_tun_tag(hop_key, HOP_IAP_ID, HOP_SELF_ID);
}

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

static int check(int err, const struct pias_err *e, const char *what)
{
	if (err)
		fprintf(stderr, "pias-hop: %s: %s\n", what, e->msg);
	return err;
}

static int seed_pias(struct hop_env *env)
{
	static const struct {
		__u32 id;
		const char *addr;
	} proxies[] = {
		{ HOP_SELF_ID, RIG_DUT_IN_ADDR },
		{ HOP_JAP_ID, RIG_SINK_ADDR },
		{ HOP_IAP_ID, RIG_GEN_ADDR },
	};
	struct pkt_spec cs = pkt_udp(HOP_CLIENT, HOP_CLIENT_PORT, HOP_TA_ADDR, HOP_TA_PORT, 0);
	struct pias_ta ta = pkt_spec_ta(&cs);
	struct pias_err e = { { 0 } };
	struct pias_config cfg;
	struct pias_target t;
	struct pias_net net;
	const __u32 tid = HOP_TARGET_ID, rap = HOP_JAP_ID;
	char prefix[32];
	int err;

	pias_config_defaults(&cfg);
	cfg.self_id = HOP_SELF_ID;
	cfg.self4 = pkt_a4(RIG_DUT_IN_ADDR);
	cfg.nat4 = pkt_a4(RIG_DUT_IN_ADDR);
	snprintf(prefix, sizeof(prefix), "%s/32", HOP_TA_ADDR);
	err = check(pias_config_set(&env->m, &cfg, &e), &e, "config");
	if (!err)
		err = check(pias_net_parse(prefix, &net, &e), &e, "anycast prefix");
	if (!err)
		err = check(pias_prefix_add(&env->m, &net, &e), &e, "anycast prefix");
	for (size_t i = 0; i < sizeof(proxies) / sizeof(proxies[0]) && !err; i++) {
		union pias_addr a = pkt_a4(proxies[i].addr);
		struct pias_tun_tags tags;

		pias_tun_tags_derive(&hop_key, 1, 0, HOP_SELF_ID, proxies[i].id, &tags);
		err = check(pias_proxy_set(&env->m, proxies[i].id, &a, PIAS_AF_INET, PIAS_PROXY_UP,
					   &tags, &e),
			    &e, "proxy");
	}
	if (!err)
		err = check(pias_rap_fill(&env->m, &rap, 1, 1, &e), &e, "RAP table");
	if (!err)
		err = check(pias_binding_set(&env->m, &ta, HOP_JAP_ID, 1, 0, &e), &e, "binding");
	memset(&t, 0, sizeof(t));
	t.addr = pkt_a4(RIG_TARGET_ADDR);
	t.port = HOP_TARGET_PORT;
	t.family = PIAS_AF_INET;
	t.state = PIAS_TARGET_ACTIVE;
	t.weight = 1;
	if (!err)
		err = check(pias_target_set(&env->m, tid, &t, &e), &e, "target");
	if (!err)
		err = check(pias_tgtset_set(&env->m, &ta, &tid, 1, &e), &e, "target set");
	return err;
}

/* CLOCK_MONOTONIC_COARSE: the dataplane's clock of connection state. */
static __u64 coarse_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + (__u64)ts.tv_nsec;
}

int hop_seed_conns(struct hop_env *env)
{
	struct pkt_spec cs = pkt_udp(HOP_CLIENT, HOP_CLIENT_PORT, HOP_TA_ADDR, HOP_TA_PORT, 0);
	struct pias_err e = { { 0 } };
	__u64 now = coarse_now();
	/* the target set's slot: the connections count where the JAP's would */
	struct pias_ta ta = pkt_spec_ta(&cs);
	__u16 slot = pias_group_slot_of(&env->m, &ta);
	int err = 0;

	for (__u32 i = 0; i < HOP_FLOWS_MAX && !err; i++) {
		struct pias_flow f = pkt_spec_flow(&cs), rk;
		/* a stream that has seen replies, just now: it outlives the runs */
		struct pias_conn conn = { .target_id = HOP_TARGET_ID,
					  .slot = slot,
					  .nat_port = (__u16)(HOP_NAT_PORT + i),
					  .iap_id = HOP_IAP_ID,
					  .ct = PIAS_CT_REPLIED | PIAS_CT_MORE,
					  .last_ns = now,
					  .created_ns = now };
		struct pias_conn_rev rv = { .target_id = HOP_TARGET_ID,
					    .ct = PIAS_CT_REPLIED,
					    .slot = slot,
					    .last_ns = now };

		f.sport = (__u16)(HOP_CLIENT_PORT + i);
		rv.client = f;
		memset(&rk, 0, sizeof(rk));
		rk.saddr = pkt_a4(RIG_TARGET_ADDR);
		rk.daddr = pkt_a4(RIG_DUT_IN_ADDR);
		rk.sport = HOP_TARGET_PORT;
		rk.dport = conn.nat_port;
		rk.proto = PIAS_PROTO_UDP;
		rk.family = PIAS_AF_INET;
		err = check(pias_map_update(&env->m, PIAS_M_CONNS, &f, &conn, &e), &e,
			    "connection");
		if (!err)
			err = check(pias_map_update(&env->m, PIAS_M_CONNS_REV, &rk, &rv, &e), &e,
				    "reverse connection");
	}
	return err;
}

/* The minimal XDP proxy's flow table: every flow the generator can send. */
static int seed_min_proxy(struct hop_env *env)
{
	struct hop_tunnel tun = { .src = pkt_a4(RIG_DUT_OUT).v4, .dst = pkt_a4(RIG_SINK_ADDR).v4 };
	int fd = bpf_map__fd(env->hop->maps.hop_flows);

	for (__u32 i = 0; i < HOP_FLOWS_MAX; i++) {
		struct hop_flow_key k = {
			.saddr = pkt_a4(HOP_CLIENT).v4,
			.daddr = pkt_a4(HOP_DST_MIN).v4,
			.sport = htons((__u16)(HOP_CLIENT_PORT + i)),
			.dport = htons(HOP_TA_PORT),
			.proto = IPPROTO_UDP,
		};

		if (bpf_map_update_elem(fd, &k, &tun, BPF_ANY)) {
			fprintf(stderr, "pias-hop: hop_flows: %s\n", strerror(errno));
			return -1;
		}
	}
	env->hop->bss->lwt_tunnel = tun;
	/* the XDP floor's next hop, and the loop's way back to the DUT */
	env->hop->bss->redirect_to.ifindex = (__u32)env->rig.dut_out;
	memcpy(env->hop->bss->redirect_to.dmac, env->rig.sink_mac, 6);
	memcpy(env->hop->bss->redirect_to.smac, env->rig.dut_out_mac, 6);
	env->hop->bss->loop.gen_if = (__u32)env->rig.gen_if;
	return 0;
}

/* The kernel IPIP config's route: its lwt program pinned for ip(8). */
static int lwt_route(struct hop_env *env)
{
	char path[160];

	snprintf(env->pin_dir, sizeof(env->pin_dir), "/sys/fs/bpf/pias-hop-%d", (int)getpid());
	snprintf(path, sizeof(path), "%s/lwt_ipip", env->pin_dir);
	if (mkdir(env->pin_dir, 0700) && errno != EEXIST) {
		fprintf(stderr, "pias-hop: %s: %s (is bpffs mounted?)\n", env->pin_dir,
			strerror(errno));
		env->pin_dir[0] = 0;
		return -1;
	}
	if (bpf_program__pin(env->hop->progs.hop_lwt_ipip, path))
		return -1;
	return rig_sh(
		&env->rig, RIG_DUT,
		"ip route add 203.0.113.13/32 encap bpf xmit pinned %s headroom 20 via " RIG_SINK_ADDR
		" dev hd1",
		path);
}

static int pias_fds(struct hop_env *env)
{
	struct pias_err e;

	if (pias_maps_from_object(&env->m, env->pias->obj, "(pias-hop, unpinned)", &e)) {
		fprintf(stderr, "pias-hop: %s\n", e.msg);
		return -1;
	}
	return 0;
}

static int attach(struct hop_env *env, enum rig_ns ns, int ifindex, int prog_fd)
{
	int err;

	if (rig_enter(&env->rig, ns))
		return -1;
	err = bpf_xdp_attach(ifindex, prog_fd, XDP_FLAGS_DRV_MODE, NULL);
	rig_enter(&env->rig, RIG_NS_COUNT);
	if (err)
		fprintf(stderr, "pias-hop: attaching XDP in %s: %s\n", env->rig.ns[ns],
			strerror(-err));
	return err;
}

int hop_dut_attach(struct hop_env *env, enum hop_dut dut)
{
	struct bpf_program *p[] = {
		[DUT_PASS] = env->hop->progs.hop_pass,
		[DUT_REDIRECT] = env->hop->progs.hop_redirect,
		[DUT_MIN_PROXY] = env->hop->progs.hop_min_proxy,
		[DUT_MIN_PROXY_W] = env->hop->progs.hop_min_proxy_w,
		[DUT_PIAS] = env->pias->progs.pias_xdp,
	};
	int fd = bpf_program__fd(p[dut]);

	if (fd == env->dut_prog)
		return 0;
	/* a program replaced, never removed: hd0's NAPI thread stays */
	if (attach(env, RIG_DUT, env->rig.dut_in, fd))
		return -1;
	env->dut_prog = fd;
	return 0;
}

int hop_load(struct hop_env *env)
{
	struct bpf_map *map;
	int err;

	libbpf_set_print(quiet);
	env->hop = hop__open_and_load();
	if (!env->hop) {
		fprintf(stderr, "pias-hop: loading hop.bpf.o: %s\n", strerror(errno));
		return -1;
	}
	env->pias = pias__open();
	if (!env->pias)
		return -1;
	bpf_object__for_each_map(map,
				 env->pias->obj) if (bpf_map__set_pin_path(map, NULL)) return -1;
	if (pias_maps_size_object(env->pias->obj, NULL))
		return -1;
	err = pias__load(env->pias);
	if (err) {
		fprintf(stderr, "pias-hop: loading pias.bpf.o: %s\n", strerror(-err));
		return -1;
	}
	if (pias_fds(env) || seed_pias(env) || seed_min_proxy(env) || lwt_route(env))
		return -1;
	/* the sink's program and the DUT's first one, then their NAPI threads */
	if (attach(env, RIG_ENDS, env->rig.sink_if, bpf_program__fd(env->hop->progs.hop_sink)) ||
	    hop_dut_attach(env, DUT_PASS))
		return -1;
	return rig_threads(&env->rig);
}

void hop_unload(struct hop_env *env)
{
	char path[160];

	if (env->pin_dir[0]) {
		snprintf(path, sizeof(path), "%s/lwt_ipip", env->pin_dir);
		unlink(path);
		rmdir(env->pin_dir);
		env->pin_dir[0] = 0;
	}
	if (env->pias) {
		pias_maps_close(&env->m);
		pias__destroy(env->pias);
	}
	if (env->hop)
		hop__destroy(env->hop);
	env->pias = NULL;
	env->hop = NULL;
}
