// SPDX-License-Identifier: MIT
/* JAP state: targets by id (their groups' sets: map_tset.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "maps.h"

static const char *const state_names[] = {
	[PIAS_TARGET_UNUSED] = "unused",
	[PIAS_TARGET_ACTIVE] = "active",
	[PIAS_TARGET_DRAINING] = "draining",
	[PIAS_TARGET_DOWN] = "down",
};

const char *pias_target_state_name(__u8 state)
{
	return state < sizeof(state_names) / sizeof(state_names[0]) ? state_names[state] : "?";
}

int pias_target_state_parse(const char *s, __u8 *state, struct pias_err *e)
{
	/* "unused" is what del writes; it is not a state one sets. */
	for (__u8 i = PIAS_TARGET_ACTIVE; i <= PIAS_TARGET_DOWN; i++)
		if (!strcasecmp(s, state_names[i])) {
			*state = i;
			return 0;
		}
	return pias_err_set(e, -EINVAL, "target state '%s' is not active, draining or down", s);
}

static int check_id(__u32 id, struct pias_err *e)
{
	if (id < 1 || id >= PIAS_MAX_TARGETS)
		return pias_err_set(e, -EINVAL, "target id %u is out of range 1-%u", id,
				    PIAS_MAX_TARGETS - 1);
	return 0;
}

/* t as pias_targets holds it, in v, if it is a target the dataplane may hold. */
static int target_value(__u32 id, const struct pias_target *t, struct pias_target *v,
			struct pias_err *e)
{
	int err = check_id(id, e);

	if (err)
		return err;
	if (t->family != PIAS_AF_INET && t->family != PIAS_AF_INET6)
		return pias_err_set(e, -EINVAL, "target %u: family %u is not IPv4 or IPv6", id,
				    t->family);
	if (t->family == PIAS_AF_INET && (t->addr.v6[1] || t->addr.v6[2] || t->addr.v6[3]))
		return pias_err_set(e, -EINVAL, "target %u: IPv4 address with more than 4 bytes",
				    id);
	if (!t->port)
		return pias_err_set(e, -EINVAL, "target %u: port 0 is not valid", id);
	if (t->state < PIAS_TARGET_ACTIVE || t->state > PIAS_TARGET_DOWN)
		return pias_err_set(e, -EINVAL,
				    "target %u: state %u is not active, draining or down", id,
				    t->state);
	memset(v, 0, sizeof(*v));
	v->addr = t->addr;
	v->port = t->port;
	v->family = t->family;
	v->state = t->state;
	v->weight = t->weight;
	if (t->flags & ~(__u32)PIAS_TARGET_F_TUNNEL)
		return pias_err_set(e, -EINVAL, "target %u: flags 0x%x has unknown bits", id,
				    t->flags);
	v->flags = t->flags;
	/* only a tunnel-mode target has a tag: one elsewhere is a caller's mistake */
	if (t->tag && !(t->flags & PIAS_TARGET_F_TUNNEL))
		return pias_err_set(e, -EINVAL, "target %u: a tunnel tag without tunnel mode", id);
	v->tag = t->tag;
	return 0;
}

int pias_target_set(struct pias_maps *m, __u32 id, const struct pias_target *t, struct pias_err *e)
{
	struct pias_target v;
	int err = target_value(id, t, &v, e);

	return err ? err : pias_map_update(m, PIAS_M_TARGETS, &id, &v, e);
}

int pias_targets_set_many(struct pias_maps *m, const __u32 *ids, const struct pias_target *t,
			  size_t n, struct pias_err *e)
{
	struct pias_target *v = n ? calloc(n, sizeof(*v)) : NULL;
	int err = 0;

	if (n && !v)
		return pias_err_set(e, -ENOMEM, "writing %zu targets: out of memory", n);
	/* all checked before any is written: a bad one writes none */
	for (size_t i = 0; i < n && !err; i++)
		err = target_value(ids[i], &t[i], &v[i], e);
	if (!err)
		err = pias_map_update_many(m, PIAS_M_TARGETS, ids, v, n, e);
	free(v);
	return err;
}

int pias_targets_del_many(struct pias_maps *m, const __u32 *ids, size_t n, struct pias_err *e)
{
	struct pias_target *zero = n ? calloc(n, sizeof(*zero)) : NULL;
	int err = 0;

	if (n && !zero)
		return pias_err_set(e, -ENOMEM, "deleting %zu targets: out of memory", n);
	for (size_t i = 0; i < n && !err; i++)
		err = check_id(ids[i], e);
	/* UNUSED (all zero) is an array entry's empty state; one already so stays so */
	if (!err)
		err = pias_map_update_many(m, PIAS_M_TARGETS, ids, zero, n, e);
	free(zero);
	return err;
}

int pias_target_del(struct pias_maps *m, __u32 id, struct pias_err *e)
{
	struct pias_target old, zero = {};
	int err = check_id(id, e);

	if (err)
		return err;
	err = pias_map_lookup(m, PIAS_M_TARGETS, &id, &old, e);
	if (err)
		return err;
	if (old.state == PIAS_TARGET_UNUSED)
		return pias_err_set(e, -ENOENT, "target %u is not in %s", id,
				    pias_map_name(PIAS_M_TARGETS));
	/* An array entry cannot be deleted: UNUSED (all zero) is its empty state. */
	return pias_map_update(m, PIAS_M_TARGETS, &id, &zero, e);
}
