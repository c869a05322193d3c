// SPDX-License-Identifier: MIT
/*
 * The node's IAP: RAPs' BINDINGs, JAPs' INVALIDATEs, the refresh tick and
 * the operator's flush go to the IAP cache (iap.h); its actions become
 * binding writes and QUERYs to RAPs.
 */
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "node_priv.h"

static void binding_put(struct pias_node *n, const struct pias_iap_action *a)
{
	char ta[PIAS_ADDR_STRLEN + 16];
	struct pias_err e;
	int err = 0;

	if (n->io.binding_put)
		err = n->io.binding_put(n->io.ctx, &a->ta, &a->binding, &a->set, &e);
	node_write_done(n, err, &e);
	if (err)
		return;
	NODE_INC(n, bindings_installed);
	if (!node_log_on(n, PIAS_NODE_LOG_DEBUG))
		return;
	pias_ta_str(&a->ta, ta, sizeof(ta));
	if (a->binding.flags & PIAS_BINDING_F_NEGATIVE)
		NODE_LOG_D(n, "binding installed: %s has no group", ta);
	else
		NODE_LOG_D(n, "binding installed: %s -> JAP %u, generation %u", ta,
			   a->binding.jap_id, a->binding.generation);
}

static void iap_apply(struct pias_node *n)
{
	struct pias_err e;

	for (size_t i = 0; i < n->iap_acts.n; i++) {
		const struct pias_iap_action *a = &n->iap_acts.a[i];
		struct pias_msg m;

		switch (a->kind) {
		case PIAS_IAP_SEND_QUERY:
			memset(&m, 0, sizeof(m));
			m.hdr.type = PIAS_MSG_QUERY;
			m.query.ta = a->ta;
			node_send(n, a->rap_id, &m);
			NODE_INC(n, queries_sent);
			break;
		case PIAS_IAP_BINDING_SET:
			binding_put(n, a);
			break;
		case PIAS_IAP_BINDING_DEL:
			if (n->io.binding_del)
				node_write_done(n, n->io.binding_del(n->io.ctx, &a->ta, &e), &e);
			break;
		}
	}
	node_flush(n);
}

/* A call of the cache with the node's action list, applied if it succeeded. */
#define IAP_DO(n, call)                                                                            \
	({                                                                                         \
		int _r = NODE_RUN((n)->iap_acts, call);                                            \
		if (!_r)                                                                           \
			iap_apply(n);                                                              \
		_r;                                                                                \
	})

static int binding(struct pias_node *n, const struct pias_msg_binding *b, __u32 from, __u64 now,
		   struct pias_err *e)
{
	__u64 life = (__u64)b->lifetime_ms * 1000000ull;
	struct pias_group set = { .count = 0 };

	if (b->flags & PIAS_MSG_BINDING_F_NEGATIVE)
		return IAP_DO(n,
			      pias_iap_negative(&n->iap, from, &b->ta, life, now, &n->iap_acts, e));
	if (b->flags & PIAS_MSG_BINDING_F_SET) {
		set.count = b->n_japs;
		set.policy = b->policy;
		memcpy(set.japs, b->japs, sizeof(set.japs));
		set.nscopes = b->n_scopes;
		memcpy(set.scopes, b->scopes, sizeof(set.scopes));
	}
	return IAP_DO(n, pias_iap_binding_set(&n->iap, from, &b->ta, b->jap_id, &set, b->generation,
					      life, now, &n->iap_acts, e));
}

int node_iap_recv(struct pias_node *n, const struct pias_msg *m, __u64 now, struct pias_err *e)
{
	const struct pias_iap_entry *en;
	__u32 gen;

	if (m->hdr.type == PIAS_MSG_BINDING)
		return binding(n, &m->binding, m->hdr.sender_id, now, e);
	en = pias_iap_entry(&n->iap, &m->inval.ta);
	/* 0: the JAP does not know the generation; whatever is installed */
	gen = m->inval.generation ?: (en ? en->b.generation : 0);
	NODE_INC(n, invalidations_rcvd);
	return IAP_DO(n, pias_iap_invalidate(&n->iap, m->hdr.sender_id, &m->inval.ta, gen, now,
					     &n->iap_acts, e));
}

void node_iap_jap_dead(struct pias_node *n, __u32 id, __u64 now)
{
	struct pias_err e;

	if (IAP_DO(n, pias_iap_jap_dead(&n->iap, id, now, &n->iap_acts, &e)))
		NODE_LOG_W(n, "IAP: JAP %u dead: %s", id, e.msg);
}

void node_iap_tick(struct pias_node *n, __u64 now)
{
	struct pias_err e;

	if (IAP_DO(n, pias_iap_tick(&n->iap, now, node_rap_of, n, &n->iap_acts, &e)))
		NODE_LOG_W(n, "iap tick: %s", e.msg);
}

int pias_node_flush_bindings(struct pias_node *n, struct pias_err *e)
{
	return IAP_DO(n, pias_iap_flush(&n->iap, &n->iap_acts, e));
}

int pias_node_restore_binding(struct pias_node *n, const struct pias_ta *ta,
			      const struct pias_binding *b, const struct pias_group *set,
			      __u64 lifetime_ns, struct pias_err *e)
{
	return pias_iap_restore(&n->iap, ta, b, set, lifetime_ns, e);
}

int node_iap_init(struct pias_node *n, struct pias_err *e)
{
	static const struct pias_iap_config zero;
	const struct pias_iap_config *ic = &n->cfg.iap;

	return pias_iap_init(&n->iap, memcmp(ic, &zero, sizeof(*ic)) ? ic : NULL, e);
}

void node_iap_free(struct pias_node *n)
{
	pias_iap_free(&n->iap);
	free(n->iap_acts.a);
	n->iap_acts = (struct pias_iap_actions){ 0 };
}
