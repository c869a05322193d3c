// SPDX-License-Identifier: MIT
/* Tunnel mode on the target host: load, attach, record, undo (tunnel_target.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "addr.h"
#include "lo_addr.h"
#include "pin.h"
#include "target.skel.h"
#include "tunnel_target.h"

struct tt_host {
	struct target *skel;
	int owned_fd; /* pias_tt_owned */
	int lock_fd;  /* dir, flock()ed while open */
	int ifindex;
	char ifname[IF_NAMESIZE];
	char dir[PATH_MAX]; /* PIN_ROOT/IFNAME */
};

/* Unpinned in this order: the record last, so an interrupted undo can be redone. */
static const char *const pin_names[] = {
	TT_PIN_INGRESS, TT_PIN_EGRESS, PIAS_TT_MAP_STATS, PIAS_TT_MAP_SERVICES, TT_PIN_OWNED,
};

static struct pias_addr_key addr_key(const union pias_addr *a, __u8 family)
{
	struct pias_addr_key k;

	memset(&k, 0, sizeof(k));
	k.addr = *a;
	k.family = family;
	return k;
}

/* The host key: family PIAS_AF_NONE, address zero. */
static struct pias_addr_key host_key(void)
{
	union pias_addr zero = { 0 };

	return addr_key(&zero, PIAS_AF_NONE);
}

static int svc_fd(const struct tt_host *h)
{
	return h->skel ? bpf_map__fd(h->skel->maps.pias_tt_svc) : -1;
}

static const char *hook_name(enum bpf_tc_attach_point point)
{
	return point == BPF_TC_INGRESS ? "ingress" : "egress";
}

/* fd of dir/name, -ENOENT if nothing is pinned there. */
static int pinned(const struct tt_host *h, const char *name, struct pias_err *e)
{
	char path[PATH_MAX];
	int fd;

	if (pias_pin_path(h->dir, name, path, sizeof(path)))
		return pias_err_set(e, -ENAMETOOLONG, "%s/%s is too long", h->dir, name);
	fd = bpf_obj_get(path);
	if (fd >= 0 || errno == ENOENT)
		return fd >= 0 ? fd : -ENOENT;
	return pias_err_set(e, -errno, "cannot open %s: %s", path, strerror(errno));
}

static int pin(const struct tt_host *h, const char *name, int fd, struct pias_err *e)
{
	char path[PATH_MAX];

	if (pias_pin_path(h->dir, name, path, sizeof(path)))
		return pias_err_set(e, -ENAMETOOLONG, "%s/%s is too long", h->dir, name);
	if (bpf_obj_pin(fd, path))
		return pias_err_set(e, -errno, "cannot pin %s: %s", path, strerror(errno));
	return 0;
}

static int record(const struct tt_host *h, const struct pias_addr_key *k, __u32 flags,
		  struct pias_err *e)
{
	if (bpf_map_update_elem(h->owned_fd, k, &flags, BPF_ANY))
		return pias_err_set(e, -errno, "writing %s: %s", TT_PIN_OWNED, strerror(errno));
	return 0;
}

/* Remove our filter from one hook if it is there; someone else's at our handle and priority is an error. */
static int detach_ours(const struct tt_host *h, enum bpf_tc_attach_point point, const char *prog,
		       struct pias_err *e)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = h->ifindex, .attach_point = point);
	LIBBPF_OPTS(bpf_tc_opts, q, .handle = TT_TC_HANDLE, .priority = TT_TC_PRIO);
	LIBBPF_OPTS(bpf_tc_opts, d, .handle = TT_TC_HANDLE, .priority = TT_TC_PRIO);
	struct bpf_prog_info info;
	__u32 len = sizeof(info);
	int rc, fd;

	rc = bpf_tc_query(&hook, &q);
	if (rc == -ENOENT || rc == -EINVAL) /* no such filter, or no clsact at all */
		return 0;
	if (rc)
		return pias_err_set(e, rc, "querying the tc %s filters of %s: %s", hook_name(point),
				    h->ifname, strerror(-rc));
	memset(&info, 0, sizeof(info));
	fd = bpf_prog_get_fd_by_id(q.prog_id);
	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len))
		rc = -errno;
	if (fd >= 0)
		close(fd);
	if (rc)
		return pias_err_set(e, rc, "reading program %u of %s's tc %s filter: %s", q.prog_id,
				    h->ifname, hook_name(point), strerror(-rc));
	if (strcmp(info.name, prog))
		return pias_err_set(
			e, -EEXIST,
			"%s's tc %s filter handle 0x%x prio %d runs %s, not %s: remove it (tc filter del dev %s %s handle 0x%x prio %d bpf)",
			h->ifname, hook_name(point), TT_TC_HANDLE, TT_TC_PRIO, info.name, prog,
			h->ifname, hook_name(point), TT_TC_HANDLE, TT_TC_PRIO);
	rc = bpf_tc_detach(&hook, &d);
	if (rc && rc != -ENOENT)
		return pias_err_set(e, rc, "detaching %s from %s's tc %s: %s", prog, h->ifname,
				    hook_name(point), strerror(-rc));
	return 0;
}

/*
 * Remove from lo the addresses recorded as ours, and those of services with
 * no record at all (target.h: the services map is itself a record of what
 * an agent put on lo). *qdisc: whether the record says clsact is ours.
 */
static int remove_addrs(int owned_fd, int svc_fd, bool *qdisc, struct pias_err *e)
{
	struct pias_addr_key k, next, *prev = NULL;
	struct pias_ta ta, tnext, *tprev = NULL;
	__u32 flags;
	int rc;

	while (owned_fd >= 0 && !bpf_map_get_next_key(owned_fd, prev, &next)) {
		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(owned_fd, &k, &flags))
			continue;
		if (k.family == PIAS_AF_NONE)
			*qdisc = flags & TT_OWN_QDISC;
		else if ((flags & TT_OWN_ADDED) && (rc = lo_addr_del(&k.addr, k.family, e)))
			return rc;
	}
	while (svc_fd >= 0 && !bpf_map_get_next_key(svc_fd, tprev, &tnext)) {
		ta = tnext;
		tprev = &ta;
		k = addr_key(&ta.addr, ta.family);
		if (owned_fd >= 0 && !bpf_map_lookup_elem(owned_fd, &k, &flags))
			continue;
		if ((rc = lo_addr_del(&ta.addr, ta.family, e)))
			return rc;
	}
	return 0;
}

/*
 * Undo what the records (owned_fd, svc_fd; -1 when absent) say was set up
 * on h's interface: filters first (the dataplane stops), then addresses,
 * clsact, and only when all that worked the pins, the record last. The
 * first failure stops it, leaving the pins for the next try.
 */
static int undo(struct tt_host *h, int owned_fd, int svc_fd, struct pias_err *e)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = h->ifindex,
		    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);
	bool qdisc = false;
	int rc;

	if ((rc = detach_ours(h, BPF_TC_INGRESS, TT_PIN_INGRESS, e)) ||
	    (rc = detach_ours(h, BPF_TC_EGRESS, TT_PIN_EGRESS, e)) ||
	    (rc = remove_addrs(owned_fd, svc_fd, &qdisc, e)))
		return rc;
	if (qdisc && (rc = bpf_tc_hook_destroy(&hook)) && rc != -ENOENT && rc != -EINVAL)
		return pias_err_set(e, rc, "deleting the clsact qdisc of %s: %s", h->ifname,
				    strerror(-rc));
	for (size_t i = 0; i < sizeof(pin_names) / sizeof(pin_names[0]); i++)
		if ((rc = pias_pin_unlink(h->dir, pin_names[i], e)))
			return rc;
	return 0;
}

/* What a killed agent left under h->dir: undone from its pinned records. */
static int undo_stale(struct tt_host *h, struct pias_err *e)
{
	struct pias_err in;
	int owned, svc = -ENOENT, rc;

	if ((owned = pinned(h, TT_PIN_OWNED, &in)) < 0 && owned != -ENOENT)
		rc = owned;
	else if ((svc = pinned(h, PIAS_TT_MAP_SERVICES, &in)) < 0 && svc != -ENOENT)
		rc = svc;
	else
		rc = undo(h, owned, svc, &in);

	if (owned >= 0)
		close(owned);
	if (svc >= 0)
		close(svc);
	if (rc)
		return pias_err_set(e, rc, "undoing what an earlier agent left on %s: %s",
				    h->ifname, in.msg);
	return 0;
}

/* The interface, the pin directory, and its lock. */
static int host_init(struct tt_host *h, const char *root, const char *ifname, struct pias_err *e)
{
	int rc;

	if (strlen(ifname) >= IF_NAMESIZE || !(h->ifindex = (int)if_nametoindex(ifname)))
		return pias_err_set(e, -ENODEV, "no interface '%s'", ifname);
	snprintf(h->ifname, sizeof(h->ifname), "%s", ifname);
	if (snprintf(h->dir, sizeof(h->dir), "%s/%s", root, ifname) >= (int)sizeof(h->dir))
		return pias_err_set(e, -ENAMETOOLONG, "pin root '%.60s...' is too long", root);
	if ((rc = pias_pin_root_prepare(h->dir, NULL, e)))
		return rc;
	h->lock_fd = open(h->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (h->lock_fd < 0)
		return pias_err_set(e, -errno, "cannot open %s: %s", h->dir, strerror(errno));
	if (!flock(h->lock_fd, LOCK_EX | LOCK_NB))
		return 0;
	rc = -errno;
	close(h->lock_fd);
	h->lock_fd = -1;
	if (rc == -EWOULDBLOCK)
		return pias_err_set(e, -EBUSY,
				    "another agent runs tunnel mode on %s (%s is locked)", ifname,
				    h->dir);
	return pias_err_set(e, rc, "cannot lock %s: %s", h->dir, strerror(-rc));
}

/* Load and pin; the record first, so that from here on a kill leaves what the next start undoes. */
static int load_and_pin(struct tt_host *h, struct pias_err *e)
{
	struct target *s;
	int rc;

	h->owned_fd = bpf_map_create(BPF_MAP_TYPE_HASH, TT_PIN_OWNED, sizeof(struct pias_addr_key),
				     sizeof(__u32), TT_OWNED_MAX_ENTRIES, NULL);
	if (h->owned_fd < 0)
		return pias_err_set(e, -errno, "creating map %s: %s", TT_PIN_OWNED,
				    strerror(errno));
	if ((rc = pin(h, TT_PIN_OWNED, h->owned_fd, e)))
		return rc;
	h->skel = s = target__open_and_load();
	if (!s)
		return pias_err_set(e, -errno,
				    "loading the tunnel-mode program (bpf/target.bpf.c): %s",
				    strerror(errno));
	if ((rc = pin(h, PIAS_TT_MAP_SERVICES, bpf_map__fd(s->maps.pias_tt_svc), e)) ||
	    (rc = pin(h, PIAS_TT_MAP_STATS, bpf_map__fd(s->maps.pias_tt_stats), e)) ||
	    (rc = pin(h, TT_PIN_INGRESS, bpf_program__fd(s->progs.pias_tt_ingress), e)) ||
	    (rc = pin(h, TT_PIN_EGRESS, bpf_program__fd(s->progs.pias_tt_egress), e)))
		return rc;
	return 0;
}

static int attach_one(struct tt_host *h, enum bpf_tc_attach_point point,
		      const struct bpf_program *prog, struct pias_err *e)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = h->ifindex, .attach_point = point);
	LIBBPF_OPTS(bpf_tc_opts, o, .prog_fd = bpf_program__fd(prog), .handle = TT_TC_HANDLE,
		    .priority = TT_TC_PRIO);
	int rc = bpf_tc_attach(&hook, &o);

	if (rc)
		return pias_err_set(e, rc, "attaching %s to %s's tc %s: %s",
				    bpf_program__name(prog), h->ifname, hook_name(point),
				    strerror(-rc));
	return 0;
}

/*
 * clsact if missing, then both filters. The qdisc is recorded as ours just
 * after it is created: a kill in between leaves an empty clsact behind,
 * which is harmless, where recording first could later delete a clsact
 * that someone else's filters hang on.
 */
static int attach(struct tt_host *h, struct pias_err *e)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = h->ifindex,
		    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);
	struct pias_addr_key hk = host_key();
	int rc = bpf_tc_hook_create(&hook);

	if (!rc)
		rc = record(h, &hk, TT_OWN_QDISC, e);
	else if (rc == -EEXIST)
		rc = 0;
	else
		return pias_err_set(e, rc, "creating the clsact qdisc of %s: %s", h->ifname,
				    strerror(-rc));
	if (rc || (rc = attach_one(h, BPF_TC_INGRESS, h->skel->progs.pias_tt_ingress, e)) ||
	    (rc = attach_one(h, BPF_TC_EGRESS, h->skel->progs.pias_tt_egress, e)))
		return rc;
	return 0;
}

static void host_free(struct tt_host *h)
{
	target__destroy(h->skel);
	if (h->owned_fd >= 0)
		close(h->owned_fd);
	if (h->lock_fd >= 0)
		close(h->lock_fd);
	free(h);
}

/*
 * libbpf's own lines: its warnings and worse, but not the kernel's netlink
 * complaints about a hook that is not there (looking for a dead agent's
 * filters finds none on a clean host): every failure that matters comes
 * back to us as an error code, and our message names it.
 */
static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG || level == LIBBPF_INFO || strstr(fmt, "Kernel error message"))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

int tt_host_open(const char *pin_root, const char *ifname, struct tt_host **out, struct pias_err *e)
{
	struct pias_err ignored;
	struct tt_host *h;
	int rc;

	libbpf_set_print(libbpf_log);
	*out = NULL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return pias_err_set(e, -ENOMEM, "out of memory");
	h->owned_fd = h->lock_fd = -1;
	if ((rc = host_init(h, pin_root ? pin_root : PIAS_TT_PIN_ROOT, ifname, e)) ||
	    (rc = undo_stale(h, e))) {
		/* the stale pins stay: they are the record of what is still to undo */
		host_free(h);
		return rc;
	}
	if ((rc = lo_up(e)) || (rc = load_and_pin(h, e)) || (rc = attach(h, e))) {
		tt_host_close(h, &ignored);
		return rc;
	}
	*out = h;
	return 0;
}

/*
 * Make sure ta's address is on lo, recording whose it is. The record goes
 * in before the address: a kill in between leaves a record of an address
 * that is not there (removing it later is a no-op), never an address of ours
 * without a record. Whether it "was there already" is looked up first; the
 * add's EEXIST catches one that appeared in between.
 */
static int own_addr(struct tt_host *h, const struct pias_ta *ta, struct pias_err *e)
{
	struct pias_addr_key k = addr_key(&ta->addr, ta->family);
	__u32 flags;
	int has, rc;

	if (!bpf_map_lookup_elem(h->owned_fd, &k, &flags)) {
		/* recorded (another TA on this address, or a JAP change): put ours back if it went */
		rc = flags & TT_OWN_ADDED ? lo_addr_add(&ta->addr, ta->family, e) : 0;
		return rc < 0 ? rc : 0;
	}
	has = lo_addr_has(&ta->addr, ta->family, e);
	if (has < 0)
		return has;
	if ((rc = record(h, &k, has ? 0 : TT_OWN_ADDED, e)) || has)
		return rc;
	rc = lo_addr_add(&ta->addr, ta->family, e);
	if (rc == 1)
		return record(h, &k, 0, e);
	if (rc < 0)
		bpf_map_delete_elem(h->owned_fd, &k);
	return rc;
}

/* One JAP of a TA's entry: where its packets come from and what they carry. */
struct tt_jap {
	union pias_addr addr;
	__u16 port; /* 0: none */
	__u64 tag;
};

static bool jap_eq(const struct tt_jap *a, const struct tt_jap *b)
{
	return !memcmp(&a->addr, &b->addr, sizeof(a->addr)) && a->port == b->port &&
	       a->tag == b->tag;
}

/*
 * The entry for ta: svc, with the JAPs it had before (target.h). At the
 * TA's first change of JAP the one it had becomes its first; at every
 * change the one it leaves becomes its last (unless that is the first, or
 * the new one); otherwise both stay as they were.
 */
static struct pias_tt_service with_prev(struct tt_host *h, const struct pias_ta *ta,
					const struct pias_tt_service *svc)
{
	struct pias_tt_service old, v = *svc;
	struct tt_jap now, was, first, last;

	if (bpf_map_lookup_elem(svc_fd(h), ta, &old) || old.family != svc->family)
		return v;
	now = (struct tt_jap){ svc->jap, svc->tunnel_port, svc->tag };
	was = (struct tt_jap){ old.jap, old.tunnel_port, old.tag };
	first = (struct tt_jap){ old.prev_jap, old.prev_tunnel_port, old.prev_tag };
	last = (struct tt_jap){ old.last_jap, old.last_tunnel_port, old.last_tag };
	if (!jap_eq(&now, &was)) {
		if (!first.port)
			first = was;
		else if (!jap_eq(&was, &first))
			last = was;
	}
	if (last.port && (jap_eq(&last, &now) || jap_eq(&last, &first)))
		last = (struct tt_jap){ 0 };
	v.prev_jap = first.addr;
	v.prev_tunnel_port = first.port;
	v.prev_tag = first.tag;
	v.last_jap = last.addr;
	v.last_tunnel_port = last.port;
	v.last_tag = last.tag;
	return v;
}

int tt_host_serve(struct tt_host *h, const struct pias_ta *ta, const struct pias_tt_service *svc,
		  struct pias_err *e)
{
	char s[PIAS_ADDR_STRLEN];
	struct pias_tt_service v;
	int rc = own_addr(h, ta, e);

	if (rc)
		return rc;
	v = with_prev(h, ta, svc);
	if (bpf_map_update_elem(svc_fd(h), ta, &v, BPF_ANY))
		return pias_err_set(e, -errno, "writing the %s entry of %s: %s",
				    PIAS_TT_MAP_SERVICES, pias_ta_str(ta, s, sizeof(s)),
				    strerror(errno));
	return 0;
}

/* Whether a served TA other than the one just removed has address k. */
static bool addr_in_use(const struct tt_host *h, const struct pias_addr_key *k)
{
	struct pias_ta ta, next, *prev = NULL;

	while (!bpf_map_get_next_key(svc_fd(h), prev, &next)) {
		ta = next;
		prev = &ta;
		if (ta.family == k->family && !memcmp(&ta.addr, &k->addr, sizeof(ta.addr)))
			return true;
	}
	return false;
}

int tt_host_unserve(struct tt_host *h, const struct pias_ta *ta, struct pias_err *e)
{
	struct pias_addr_key k = addr_key(&ta->addr, ta->family);
	char s[PIAS_ADDR_STRLEN];
	__u32 flags;
	int rc;

	if (bpf_map_delete_elem(svc_fd(h), ta) && errno != ENOENT)
		return pias_err_set(e, -errno, "removing the %s entry of %s: %s",
				    PIAS_TT_MAP_SERVICES, pias_ta_str(ta, s, sizeof(s)),
				    strerror(errno));
	if (addr_in_use(h, &k) || bpf_map_lookup_elem(h->owned_fd, &k, &flags))
		return 0;
	if ((flags & TT_OWN_ADDED) && (rc = lo_addr_del(&k.addr, k.family, e)))
		return rc;
	bpf_map_delete_elem(h->owned_fd, &k);
	return 0;
}

int tt_host_stats(struct tt_host *h, struct pias_tt_stats *out, struct pias_err *e)
{
	int ncpu = libbpf_num_possible_cpus();
	struct pias_tt_stats *v;
	__u32 zero = 0;

	memset(out, 0, sizeof(*out));
	if (ncpu < 0)
		return pias_err_set(e, ncpu, "counting CPUs: %s", strerror(-ncpu));
	v = calloc(ncpu, sizeof(*v));
	if (!v)
		return pias_err_set(e, -ENOMEM, "out of memory");
	if (bpf_map_lookup_elem(bpf_map__fd(h->skel->maps.pias_tt_stats), &zero, v)) {
		int rc = -errno;

		free(v);
		return pias_err_set(e, rc, "reading %s: %s", PIAS_TT_MAP_STATS, strerror(-rc));
	}
	for (int c = 0; c < ncpu; c++) {
#define TT_SUM(name, text) out->name += v[c].name;
		PIAS_TT_STATS(TT_SUM)
#undef TT_SUM
	}
	free(v);
	return 0;
}

int tt_host_close(struct tt_host *h, struct pias_err *e)
{
	int rc;

	if (!h)
		return 0;
	rc = undo(h, h->owned_fd, svc_fd(h), e);
	if (!rc && rmdir(h->dir) && errno != ENOENT)
		rc = pias_err_set(e, -errno, "cannot remove %s: %s", h->dir, strerror(errno));
	host_free(h);
	return rc;
}
