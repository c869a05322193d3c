// SPDX-License-Identifier: MIT
/* BPF_PROG_TEST_RUN harness for pias_xdp (see progrun.h). */
#define _GNU_SOURCE
#include "progrun.h"

#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include <pias/hash.h>

#include "maps.h"

#include "pias.skel.h"

/* ---- libbpf log: kept so that a failed load can show why ---------------- */

static char log_buf[1 << 20];
static size_t log_len;

static int keep_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	int n;

	if (level == LIBBPF_DEBUG)
		return 0;
	if (log_len > sizeof(log_buf) - 4096)
		log_len = 0; /* only the tail matters: the verifier's last words */
	n = vsnprintf(log_buf + log_len, sizeof(log_buf) - log_len, fmt, ap);
	if (n > 0)
		log_len += (size_t)n < sizeof(log_buf) - log_len ? (size_t)n : 0;
	return 0;
}

static void print_log_tail(int lines)
{
	size_t i = log_len;
	int seen = 0;

	while (i > 0 && seen <= lines)
		if (log_buf[--i] == '\n')
			seen++;
	fprintf(stderr, "---- libbpf log (last %d lines) ----\n%.*s----\n", lines,
		(int)(log_len - i), log_buf + i);
}

/* ---- open / close ------------------------------------------------------- */

static int on_event(void *ctx, void *data, size_t size)
{
	struct progrun *pr = ctx;

	if (size < sizeof(struct pias_event)) {
		fprintf(stderr, "progrun: short event (%zu bytes)\n", size);
		return 0;
	}
	if (pr->nev < PR_MAX_EVENTS)
		memcpy(&pr->ev[pr->nev], data, sizeof(struct pias_event));
	pr->nev++;
	return 0;
}

int pr_open(struct progrun *pr)
{
	struct bpf_map *map;
	struct pias_err e;
	cpu_set_t set;
	int err;

	memset(pr, 0, sizeof(*pr));
	pr->prog_fd = -1;
	for (int i = 0; i < PIAS_M_COUNT; i++) /* nothing for pr_close to close yet */
		pr->maps.fd[i] = -1;
	libbpf_set_print(keep_log);

	pr->cpu = sched_getcpu();
	if (pr->cpu < 0)
		pr->cpu = 0;
	CPU_ZERO(&set);
	CPU_SET(pr->cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set)) {
		err = -errno;
		fprintf(stderr, "progrun: cannot pin to CPU %d: %s\n", pr->cpu, strerror(errno));
		return err;
	}
	pr->ncpus = libbpf_num_possible_cpus();
	if (pr->ncpus <= 0)
		return -EINVAL;

	pr->skel = pias__open();
	if (!pr->skel) {
		err = -errno;
		fprintf(stderr, "progrun: opening the skeleton failed: %s\n", strerror(-err));
		print_log_tail(20);
		return err;
	}
	/* unpinned: state private to this process, gone when it exits */
	bpf_object__for_each_map(map, pr->skel->obj)
	{
		err = bpf_map__set_pin_path(map, NULL);
		if (err) {
			fprintf(stderr, "progrun: unpinning %s: %s\n", bpf_map__name(map),
				strerror(-err));
			return err;
		}
	}
	err = pias_maps_size_object(pr->skel->obj, &e);
	if (err) {
		fprintf(stderr, "progrun: %s\n", e.msg);
		return err;
	}
	err = pias__load(pr->skel);
	if (err) {
		fprintf(stderr, "progrun: loading pias_xdp failed: %s\n", strerror(-err));
		print_log_tail(40);
		pias__destroy(pr->skel);
		pr->skel = NULL;
		return err;
	}
	pr->prog_fd = bpf_program__fd(pr->skel->progs.pias_xdp);
	/* the library's handle on these (unpinned) maps: tests write through it */
	err = pias_maps_from_object(&pr->maps, pr->skel->obj, "(progrun, unpinned)", &e);
	if (err) {
		fprintf(stderr, "progrun: %s\n", e.msg);
		return err;
	}
	pr->rb = ring_buffer__new(bpf_map__fd(pr->skel->maps.pias_events), on_event, pr, NULL);
	if (!pr->rb) {
		err = -errno;
		fprintf(stderr, "progrun: ring buffer: %s\n", strerror(-err));
		return err;
	}
	return 0;
}

void pr_close(struct progrun *pr)
{
	pias_maps_close(&pr->maps);
	ring_buffer__free(pr->rb);
	pias__destroy(pr->skel);
	pr->rb = NULL;
	pr->skel = NULL;
	pr->prog_fd = -1;
}

/* ---- generic map helpers ------------------------------------------------ */

static uint8_t family_of_str(const char *addr)
{
	return strchr(addr, ':') ? PIAS_AF_INET6 : PIAS_AF_INET;
}

#define FD(name) bpf_map__fd(pr->skel->maps.name)

static size_t percpu_stride(size_t value_size)
{
	return (value_size + 7) & ~(size_t)7;
}

static int clear_hash(int fd, size_t key_size)
{
	uint8_t key[128];
	int guard = 0;

	if (key_size > sizeof(key))
		return -E2BIG;
	/* always delete the first key: iterating while deleting skips entries */
	while (!bpf_map_get_next_key(fd, NULL, key)) {
		if (bpf_map_delete_elem(fd, key))
			return -errno;
		if (++guard > 4 * 1048576)
			return -ELOOP;
	}
	return 0;
}

static int zero_elem(struct progrun *pr, struct bpf_map *map, uint32_t key)
{
	size_t vs = bpf_map__value_size(map);
	int percpu = bpf_map__type(map) == BPF_MAP_TYPE_PERCPU_ARRAY;
	size_t size = percpu ? percpu_stride(vs) * (size_t)pr->ncpus : vs;
	void *zero = calloc(1, size);
	int rc;

	if (!zero)
		return -ENOMEM;
	rc = bpf_map_update_elem(bpf_map__fd(map), &key, zero, BPF_ANY) ? -errno : 0;
	free(zero);
	return rc;
}

static void track(uint32_t *list, int *n, uint32_t id)
{
	for (int i = 0; i < *n; i++)
		if (list[i] == id)
			return;
	if (*n < PR_MAX_TRACKED)
		list[(*n)++] = id;
}

/* Every group slot given back, its name and counters zeroed (an array cannot be cleared). */
static int clear_slots(struct progrun *pr)
{
	struct pias *s = pr->skel;
	int fd = bpf_map__fd(s->maps.pias_grp_slots), rc = 0;
	struct pias_ta key;
	uint32_t slot;

	while (!rc && !bpf_map_get_next_key(fd, NULL, &key)) {
		if (!bpf_map_lookup_elem(fd, &key, &slot)) {
			rc = zero_elem(pr, s->maps.pias_grp_names, slot);
			pias_group_counts_zero(&pr->maps, slot);
		}
		if (bpf_map_delete_elem(fd, &key))
			rc = rc ?: -errno;
	}
	pr->maps.slot_next = 0;
	return rc;
}

int pr_reset(struct progrun *pr)
{
	struct pias *s = pr->skel;
	struct bpf_map *hashes[] = {
		s->maps.pias_prefix4,  s->maps.pias_prefix6,	s->maps.pias_proxy_addr,
		s->maps.pias_bindings, s->maps.pias_flows,	s->maps.pias_groups,
		s->maps.pias_tgt_sets, s->maps.pias_conns,	s->maps.pias_conns_rev,
		s->maps.pias_ev_limit, s->maps.pias_tgt_chunks, s->maps.pias_tgt_scopes,
	};
	int rc = clear_slots(pr);

	if (rc) {
		fprintf(stderr, "progrun: clearing group slots: %s\n", strerror(-rc));
		return rc;
	}

	for (size_t i = 0; i < sizeof(hashes) / sizeof(hashes[0]); i++) {
		rc = clear_hash(bpf_map__fd(hashes[i]), bpf_map__key_size(hashes[i]));
		if (rc) {
			fprintf(stderr, "progrun: clearing %s: %s\n", bpf_map__name(hashes[i]),
				strerror(-rc));
			return rc;
		}
	}
	/* the prefixes' summary, from the maps just cleared */
	rc = pias_anycast_sync(&pr->maps, NULL);
	rc = rc ?: zero_elem(pr, s->maps.pias_config, 0);
	rc = rc ?: zero_elem(pr, s->maps.pias_stats, 0);
	rc = rc ?: zero_elem(pr, s->maps.pias_drops, 0);
	rc = rc ?: zero_elem(pr, s->maps.pias_icmp_rl, 0);
	rc = rc ?: pr_nh_flush(pr);
	for (int i = 0; !rc && i < pr->nproxies; i++)
		rc = zero_elem(pr, s->maps.pias_proxies, pr->proxies[i]);
	for (int i = 0; !rc && i < pr->nslots; i++)
		rc = zero_elem(pr, s->maps.pias_rap_table, pr->slots[i]);
	for (int i = 0; !rc && i < pr->ntargets; i++) {
		rc = zero_elem(pr, s->maps.pias_targets, pr->targets[i]);
		rc = rc ?: zero_elem(pr, s->maps.pias_tgt_stats, pr->targets[i]);
	}
	if (rc)
		return rc;
	pr->nproxies = pr->nslots = pr->ntargets = 0;
	/* events of an earlier test must not show up in this one */
	ring_buffer__consume(pr->rb);
	pr->nev = 0;
	return 0;
}

int pr_nh_flush(struct progrun *pr)
{
	int rc = 0;

	for (uint32_t i = 0; !rc && i < PIAS_NH_SLOTS; i++)
		rc = zero_elem(pr, pr->skel->maps.pias_nh_cache, i);
	return rc;
}

int pr_zero_counters(struct progrun *pr)
{
	int rc = zero_elem(pr, pr->skel->maps.pias_stats, 0);

	return rc ?: zero_elem(pr, pr->skel->maps.pias_drops, 0);
}

/* ---- seeding ------------------------------------------------------------ */

static int update(int fd, const void *key, const void *val)
{
	return bpf_map_update_elem(fd, key, val, BPF_ANY) ? -errno : 0;
}

/*
 * Seeding goes through lib/maps.h's writers, the path piasd and the tools
 * use, so that a test never builds a state they would refuse; the few
 * exceptions say why. The library's refusal is printed.
 */
static int lib(int rc, const struct pias_err *e)
{
	if (rc)
		fprintf(stderr, "progrun: lib refused: %s\n", e->msg);
	return rc;
}

int pr_config(struct progrun *pr, const struct pias_config *cfg)
{
	struct pias_err e;

	return lib(pias_config_set(&pr->maps, cfg, &e), &e);
}

int pr_prefix(struct progrun *pr, const char *cidr)
{
	struct pias_net n;
	struct pias_err e;
	int rc = pias_net_parse(cidr, &n, &e);

	return lib(rc ? rc : pias_prefix_add(&pr->maps, &n, &e), &e);
}

/* The overlay key of every prog test: tunnel tags come from it. */
static const __u8 pr_key[PIAS_TUN_KEY_LEN] = "prog tests' overlay key, 32 B!!";

uint64_t pr_tag(uint32_t from, uint32_t to)
{
	return pias_tun_tag(pr_key, from, to);
}

/* Tags between the configured self and id, as piasd derives them. */
static void tags_of(struct progrun *pr, uint32_t id, struct pias_tun_tags *t)
{
	struct pias_config c;
	bool was_zero;

	memset(&c, 0, sizeof(c));
	pias_config_get(&pr->maps, &c, &was_zero, NULL);
	pias_tun_tags_derive(&pr_key, 1, 0, c.self_id, id, t);
}

int pr_proxy(struct progrun *pr, uint32_t id, const char *addr, uint8_t state)
{
	union pias_addr a = pkt_addr(addr);
	struct pias_tun_tags t;
	struct pias_err e;
	int rc;

	tags_of(pr, id, &t);
	rc = pias_proxy_set(&pr->maps, id, &a, family_of_str(addr), (enum pias_proxy_state)state,
			    &t, &e);

	if (!rc)
		track(pr->proxies, &pr->nproxies, id);
	return lib(rc, &e);
}

int pr_proxy_state(struct progrun *pr, uint32_t id, uint8_t state)
{
	struct pias_tun_tags t;
	struct pias_proxy px;
	struct pias_err e;
	int rc = pias_proxy_get(&pr->maps, id, &px, &e);

	tags_of(pr, id, &t);
	if (!rc)
		rc = pias_proxy_set(&pr->maps, id, &px.addr, px.family,
				    (enum pias_proxy_state)state, &t, &e);
	return lib(rc, &e);
}

int pr_rap(struct progrun *pr, const struct pias_ta *ta, const uint32_t *ids, int n)
{
	struct pias_rap_slot slot;
	uint32_t idx = pias_rap_slot_of(ta);
	struct pias_err e;

	if (n > PIAS_RAP_REPLICAS)
		return -E2BIG;
	memset(&slot, 0, sizeof(slot));
	for (int i = 0; i < n; i++)
		slot.rap[i] = ids[i];
	track(pr->slots, &pr->nslots, idx);
	return lib(pias_rap_slots_write(&pr->maps, &idx, &slot, 1, &e), &e);
}

int pr_binding(struct progrun *pr, const struct pias_ta *ta, uint32_t jap, uint32_t gen,
	       uint64_t expires_ns, uint32_t flags)
{
	struct pias_binding b;
	struct pias_err e;

	if (!flags && !expires_ns)
		return lib(pias_binding_set(&pr->maps, ta, jap, gen, 0, &e), &e);
	if (flags == PIAS_BINDING_F_LOCAL && !jap && !expires_ns)
		return lib(pias_binding_set_local(&pr->maps, ta, &e), &e);
	/* a deadline to the ns (one just past, one about to pass): the library
	 * takes lifetimes in seconds from now */
	memset(&b, 0, sizeof(b));
	b.jap_id = jap;
	b.generation = gen;
	b.expires_ns = expires_ns;
	b.flags = flags;
	b.slot = pias_group_slot_take(&pr->maps, ta);
	return update(FD(pias_bindings), ta, &b);
}

int pr_group(struct progrun *pr, const struct pias_ta *ta, const struct pias_group_jap *japs, int n)
{
	struct pias_group g;
	struct pias_err e;

	if (n > 0)
		return lib(pias_group_set(&pr->maps, ta, japs, (size_t)n, &e), &e);
	/* an empty group, which the library refuses (piasd deletes it): the
	 * dataplane must still treat one as no group */
	memset(&g, 0, sizeof(g));
	return update(FD(pias_groups), ta, &g);
}

int pr_group_policy(struct progrun *pr, const struct pias_ta *ta, const struct pias_group_jap *japs,
		    int n, const struct pias_policy *policy)
{
	struct pias_err e;

	return lib(pias_group_set_policy(&pr->maps, ta, japs, (size_t)n, policy, &e), &e);
}

int pr_bind_set_put(struct progrun *pr, const struct pias_ta *ta, const struct pias_group *set,
		    uint32_t gen)
{
	struct pias_binding b = { .jap_id = set->japs[0].jap_id, .generation = gen };
	struct pias_err e;

	return lib(pias_binding_put(&pr->maps, ta, &b, set, &e), &e);
}

int pr_group_put(struct progrun *pr, const struct pias_ta *ta, const struct pias_group *g)
{
	struct pias_err e;

	return lib(pias_group_put(&pr->maps, ta, g, &e), &e);
}

int pr_binding_set(struct progrun *pr, const struct pias_ta *ta, const struct pias_group_jap *japs,
		   int n, const struct pias_policy *policy, uint32_t gen)
{
	struct pias_err e;

	return lib(pias_binding_set_japs(&pr->maps, ta, japs, (size_t)n, policy, gen, 0, &e), &e);
}

static int target_write(struct progrun *pr, uint32_t id, const struct pias_target *t)
{
	struct pias_err e;

	/* port 0: the dataplane serves the TA's port; the library refuses it,
	 * since piasd always names one (a tunnel-mode target's is the TA's) */
	if (!t->port)
		return update(FD(pias_targets), &id, t);
	return lib(pias_target_set(&pr->maps, id, t, &e), &e);
}

int pr_target(struct progrun *pr, uint32_t id, const char *addr, uint16_t port, uint8_t state,
	      uint32_t weight)
{
	struct pias_target t;

	memset(&t, 0, sizeof(t));
	t.addr = pkt_addr(addr);
	t.family = family_of_str(addr);
	t.port = port;
	t.state = state;
	t.weight = weight;
	track(pr->targets, &pr->ntargets, id);
	return target_write(pr, id, &t);
}

int pr_target_state(struct progrun *pr, uint32_t id, uint8_t state)
{
	struct pias_target t;

	if (bpf_map_lookup_elem(FD(pias_targets), &id, &t))
		return -errno;
	t.state = state;
	return target_write(pr, id, &t);
}

int pr_target_set(struct progrun *pr, const struct pias_ta *ta, const uint32_t *ids, int n)
{
	struct pias_tset set;
	struct pias_err e;

	if (n > 0)
		return lib(pias_tgtset_set(&pr->maps, ta, ids, (size_t)n, &e), &e);
	/* an empty set, as above: the JAP bounces to the RAP */
	memset(&set, 0, sizeof(set));
	return update(FD(pias_tgt_sets), ta, &set);
}

int pr_target_set_policy(struct progrun *pr, const struct pias_ta *ta, const uint32_t *ids, int n,
			 const struct pias_policy *policy)
{
	struct pias_err e;

	return lib(pias_tgtset_set_policy(&pr->maps, ta, ids, (size_t)n, policy, &e), &e);
}

int pr_flow_set(struct progrun *pr, const struct pias_flow *f, uint32_t jap, uint32_t gen)
{
	struct timespec ts;
	struct pias_flow_entry e = { .jap_id = jap, .generation = gen };

	/* seen just now, so that it has not ended (conntrack.h) */
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	e.last_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	e.created_ns = e.last_ns;

	return update(FD(pias_flows), f, &e);
}

int pr_conn_rev_set(struct progrun *pr, const struct pias_flow *key,
		    const struct pias_conn_rev *val)
{
	return update(FD(pias_conns_rev), key, val);
}

int pr_conn_set(struct progrun *pr, const struct pias_flow *key, const struct pias_conn *val)
{
	return update(FD(pias_conns), key, val);
}

/* ---- reading back ------------------------------------------------------- */

static int lookup(int fd, const void *key, void *val)
{
	return bpf_map_lookup_elem(fd, key, val) ? -errno : 0;
}

int pr_flow_get(struct progrun *pr, const struct pias_flow *f, struct pias_flow_entry *out)
{
	return lookup(FD(pias_flows), f, out);
}

int pr_conn_get(struct progrun *pr, const struct pias_flow *f, struct pias_conn *out)
{
	return lookup(FD(pias_conns), f, out);
}

int pr_conn_rev_get(struct progrun *pr, const struct pias_flow *f, struct pias_conn_rev *out)
{
	return lookup(FD(pias_conns_rev), f, out);
}

int pr_flow_del(struct progrun *pr, const struct pias_flow *f)
{
	return bpf_map_delete_elem(FD(pias_flows), f) ? -errno : 0;
}

int pr_binding_get(struct progrun *pr, const struct pias_ta *ta, struct pias_binding *out)
{
	return lookup(FD(pias_bindings), ta, out);
}

int pr_bind_set_get(struct progrun *pr, const struct pias_ta *ta, struct pias_group *out)
{
	return lookup(FD(pias_bind_sets), ta, out);
}

int pr_binding_del(struct progrun *pr, const struct pias_ta *ta)
{
	struct pias_err e;

	return lib(pias_binding_del(&pr->maps, ta, &e), &e);
}

int pr_conn_del(struct progrun *pr, const struct pias_flow *f)
{
	return bpf_map_delete_elem(FD(pias_conns), f) ? -errno : 0;
}

long pr_count(struct progrun *pr, int fd)
{
	uint8_t key[128], next[128];
	long n = 0;
	void *prev = NULL;

	(void)pr;
	while (!bpf_map_get_next_key(fd, prev, next)) {
		memcpy(key, next, sizeof(key));
		prev = key;
		n++;
	}
	return n;
}

int pr_conns_fd(struct progrun *pr)
{
	return FD(pias_conns);
}

int pr_conns_rev_fd(struct progrun *pr)
{
	return FD(pias_conns_rev);
}

int pr_flows_fd(struct progrun *pr)
{
	return FD(pias_flows);
}

/* Sums a per-CPU value made only of __u64 fields; "max" fields take the max. */
static int sum_percpu(struct progrun *pr, int fd, const void *key, void *out, size_t size,
		      int max_field)
{
	size_t stride = percpu_stride(size);
	uint8_t *vals = calloc((size_t)pr->ncpus, stride);
	uint64_t *o = out;
	int rc;

	if (!vals)
		return -ENOMEM;
	memset(out, 0, size);
	rc = lookup(fd, key, vals);
	if (rc == -ENOENT)
		rc = 0;
	else if (!rc)
		for (int c = 0; c < pr->ncpus; c++) {
			const uint64_t *v = (const void *)(vals + stride * (size_t)c);

			for (size_t i = 0; i < size / 8; i++) {
				if ((int)i == max_field)
					o[i] = v[i] > o[i] ? v[i] : o[i];
				else
					o[i] += v[i];
			}
		}
	free(vals);
	return rc;
}

int pr_group_stats(struct progrun *pr, const struct pias_ta *ta, struct pias_group_stats *out)
{
	/* counters are per group slot, which the binding, group or set took */
	return pias_group_stats_get(&pr->maps, ta, out, NULL) ? -1 : 0;
}

int pr_target_stats(struct progrun *pr, uint32_t id, struct pias_target_stats *out)
{
	/* last_reply_ns is a time, not a count: the latest CPU's wins */
	return sum_percpu(pr, FD(pias_tgt_stats), &id, out, sizeof(*out),
			  (int)(offsetof(struct pias_target_stats, last_reply_ns) / 8));
}

int pr_counters(struct progrun *pr, struct pias_stats *st, struct pias_drops *dr)
{
	uint32_t zero = 0;
	int rc = sum_percpu(pr, FD(pias_stats), &zero, st, sizeof(*st), -1);

	return rc ?: sum_percpu(pr, FD(pias_drops), &zero, dr, sizeof(*dr), -1);
}

/* ---- running ------------------------------------------------------------ */

int pr_run(struct progrun *pr, int ifindex, const void *in, size_t len, struct pr_result *res)
{
	struct xdp_md ctx;
	LIBBPF_OPTS(bpf_test_run_opts, opts);

	memset(&ctx, 0, sizeof(ctx));
	/* the kernel wants data_end to be the input length exactly */
	ctx.data_end = (uint32_t)len;
	ctx.ingress_ifindex = (uint32_t)ifindex;
	opts.data_in = in;
	opts.data_size_in = (uint32_t)len;
	opts.data_out = res->out;
	opts.data_size_out = sizeof(res->out);
	opts.ctx_in = &ctx;
	opts.ctx_size_in = sizeof(ctx);
	opts.repeat = 1;

	pr->nev = 0;
	res->err = bpf_prog_test_run_opts(pr->prog_fd, &opts) ? -errno : 0;
	res->verdict = opts.retval;
	res->len = opts.data_size_out;
	ring_buffer__consume(pr->rb);
	return res->err;
}

int pr_run_tc(struct progrun *pr, const void *in, size_t len, int *verdict)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts);
	int err;

	opts.data_in = in;
	opts.data_size_in = (uint32_t)len;
	opts.repeat = 1;
	err = bpf_prog_test_run_opts(bpf_program__fd(pr->skel->progs.pias_tc), &opts) ? -errno : 0;
	*verdict = (int)opts.retval;
	return err;
}

int pr_run_live(struct progrun *pr, int ifindex, const void *in, size_t len)
{
	struct xdp_md ctx;
	LIBBPF_OPTS(bpf_test_run_opts, opts);

	memset(&ctx, 0, sizeof(ctx));
	ctx.data_end = (uint32_t)len;
	ctx.ingress_ifindex = (uint32_t)ifindex;
	opts.data_in = in;
	opts.data_size_in = (uint32_t)len;
	opts.ctx_in = &ctx;
	opts.ctx_size_in = sizeof(ctx);
	opts.repeat = 1;
	opts.flags = BPF_F_TEST_XDP_LIVE_FRAMES;

	pr->nev = 0;
	if (bpf_prog_test_run_opts(pr->prog_fd, &opts))
		return -errno;
	ring_buffer__consume(pr->rb);
	return 0;
}

int pr_tc_attach(struct progrun *pr, int ifindex)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = bpf_program__fd(pr->skel->progs.pias_tc));
	int rc = bpf_tc_hook_create(&hook);

	if (rc && rc != -EEXIST)
		return rc;
	return bpf_tc_attach(&hook, &opts);
}

void pr_tc_detach(int ifindex)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);

	bpf_tc_hook_destroy(&hook);
}

/* ---- counters by name --------------------------------------------------- */

#define NAME(name, desc) #name,
static const char *const stat_names[] = { PIAS_STATS(NAME) };
static const char *const drop_names[] = { PIAS_DROPS(NAME) };
#undef NAME

long long pr_counter(struct progrun *pr, const char *name)
{
	struct pias_stats st;
	struct pias_drops dr;

	if (pr_counters(pr, &st, &dr))
		return -1;
	for (int i = 0; i < PIAS_STAT_MAX; i++)
		if (!strcmp(stat_names[i], name))
			return (long long)((uint64_t *)&st)[i];
	for (int i = 0; i < PIAS_DROP_MAX; i++)
		if (!strcmp(drop_names[i], name))
			return (long long)((uint64_t *)&dr)[i];
	return -1;
}

void pr_print_counters(struct progrun *pr)
{
	struct pias_stats st;
	struct pias_drops dr;

	if (pr_counters(pr, &st, &dr))
		return;
	fprintf(stderr, "counters that moved:");
	for (int i = 0; i < PIAS_STAT_MAX; i++)
		if (((uint64_t *)&st)[i])
			fprintf(stderr, " %s=%llu", stat_names[i],
				(unsigned long long)((uint64_t *)&st)[i]);
	for (int i = 0; i < PIAS_DROP_MAX; i++)
		if (((uint64_t *)&dr)[i])
			fprintf(stderr, " %s=%llu", drop_names[i],
				(unsigned long long)((uint64_t *)&dr)[i]);
	fprintf(stderr, "\n");
}

/* Where "name=" is in "a=1 b=2", or NULL. */
static const char *find_named(const char *expect, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = expect; p && *p;) {
		while (*p == ' ')
			p++;
		if (!strncmp(p, name, n) && p[n] == '=')
			return p + n + 1;
		p = strchr(p, ' ');
	}
	return NULL;
}

static int named(const char *expect, const char *name)
{
	return find_named(expect, name) != NULL;
}

/* The expected value of 'name' in "a=1 b=2", 0 if not named. */
static long long expected_of(const char *expect, const char *name)
{
	const char *v = find_named(expect, name);

	return v ? strtoll(v, NULL, 10) : 0;
}

static int known_name(const char *name, size_t n)
{
	for (int i = 0; i < PIAS_STAT_MAX; i++)
		if (strlen(stat_names[i]) == n && !strncmp(stat_names[i], name, n))
			return 1;
	for (int i = 0; i < PIAS_DROP_MAX; i++)
		if (strlen(drop_names[i]) == n && !strncmp(drop_names[i], name, n))
			return 1;
	return 0;
}

int pr_expect_counters(struct progrun *pr, const char *expect)
{
	struct pias_stats st;
	struct pias_drops dr;
	int bad = 0;

	if (pr_counters(pr, &st, &dr)) {
		fprintf(stderr, "counters: cannot read pias_stats/pias_drops\n");
		return -1;
	}
	/* a misspelt name would silently expect nothing: refuse it */
	for (const char *p = expect; *p;) {
		const char *eq;

		while (*p == ' ')
			p++;
		if (!*p)
			break;
		eq = strchr(p, '=');
		if (!eq || !known_name(p, (size_t)(eq - p))) {
			fprintf(stderr, "counters: unknown counter in '%s'\n", p);
			return -1;
		}
		p = strchr(eq, ' ');
		if (!p)
			break;
	}
	for (int i = 0; i < PIAS_STAT_MAX; i++) {
		long long want = expected_of(expect, stat_names[i]);
		unsigned long long got = ((uint64_t *)&st)[i];

		/* whether a next hop was cached depends on the packets before: only if named */
		if (i == PIAS_STAT_fwd_nh_cached && !named(expect, stat_names[i]))
			continue;
		if ((unsigned long long)want != got) {
			fprintf(stderr, "counters: pias_stats.%s = %llu, expected %lld\n",
				stat_names[i], got, want);
			bad = 1;
		}
	}
	for (int i = 0; i < PIAS_DROP_MAX; i++) {
		long long want = expected_of(expect, drop_names[i]);
		unsigned long long got = ((uint64_t *)&dr)[i];

		if ((unsigned long long)want != got) {
			fprintf(stderr, "counters: pias_drops.%s = %llu, expected %lld\n",
				drop_names[i], got, want);
			bad = 1;
		}
	}
	return bad ? -1 : 0;
}

const char *pr_verdict_name(uint32_t verdict)
{
	switch (verdict) {
	case XDP_ABORTED:
		return "XDP_ABORTED";
	case XDP_DROP:
		return "XDP_DROP";
	case XDP_PASS:
		return "XDP_PASS";
	case XDP_TX:
		return "XDP_TX";
	case XDP_REDIRECT:
		return "XDP_REDIRECT";
	}
	return "XDP_?";
}

uint64_t pr_target_tag(uint32_t id)
{
	return 0x7a9e5eed00000000ull | id;
}

int pr_target_flags(struct progrun *pr, uint32_t id, uint32_t flags)
{
	struct pias_target t;

	if (bpf_map_lookup_elem(FD(pias_targets), &id, &t))
		return -errno;
	t.flags = flags;
	t.tag = flags & PIAS_TARGET_F_TUNNEL ? pr_target_tag(id) : 0;
	return target_write(pr, id, &t);
}
