// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "addr.h"
#include "events.h"

/* Returned by the sample callback to make libbpf stop; never a real errno here. */
#define STOP_SENTINEL (-ECANCELED)

struct pias_event_reader {
	struct ring_buffer *rb;
	pias_event_fn fn;
	void *arg;
	int handled;
	int stopped;
	unsigned long malformed;
};

const char *pias_event_type_name(__u32 type)
{
	switch (type) {
	case PIAS_EV_MISS:
		return "miss";
	case PIAS_EV_BOUND:
		return "bound";
	case PIAS_EV_NO_GROUP:
		return "no_group";
	case PIAS_EV_INVALIDATE:
		return "invalidate";
	case PIAS_EV_CONN_MISS:
		return "conn_miss";
	}
	return NULL;
}

const char *pias_event_format(const struct pias_event *ev, char *buf, size_t len)
{
	const char *name = pias_event_type_name(ev->type);
	char ta[PIAS_ADDR_STRLEN], client[PIAS_ADDR_STRLEN], unknown[24];
	int n;

	if (!name) {
		snprintf(unknown, sizeof(unknown), "type%u", ev->type);
		name = unknown;
	}
	n = snprintf(buf, len, "%s iap=%u rap=%u jap=%u ta=%s", name, ev->iap_id, ev->rap_id,
		     ev->jap_id, pias_ta_str(&ev->ta, ta, sizeof(ta)));
	if (ev->type == PIAS_EV_CONN_MISS && n >= 0 && (size_t)n < len)
		snprintf(buf + n, len - n, " client=%s port=%u",
			 pias_addr_str(&ev->client, ev->ta.family, client, sizeof(client)),
			 ev->client_port);
	return buf;
}

static int on_sample(void *ctx, void *data, size_t size)
{
	struct pias_event_reader *r = ctx;
	struct pias_event ev;

	if (size < sizeof(ev)) {
		r->malformed++;
		return 0;
	}
	/* Ring buffer records are 8-byte aligned, but copy: fn may keep it. */
	memcpy(&ev, data, sizeof(ev));
	r->handled++;
	if (r->fn(&ev, r->arg)) {
		r->stopped = 1;
		return STOP_SENTINEL;
	}
	return 0;
}

struct pias_event_reader *pias_event_reader_new(int map_fd, pias_event_fn fn, void *arg,
						struct pias_err *e)
{
	struct pias_event_reader *r = calloc(1, sizeof(*r));

	if (!r) {
		pias_err_set(e, -ENOMEM, "out of memory");
		return NULL;
	}
	r->fn = fn;
	r->arg = arg;
	r->rb = ring_buffer__new(map_fd, on_sample, r, NULL);
	if (!r->rb) {
		pias_err_set(e, -errno, "cannot read the %s ring buffer: %s", "pias_events",
			     strerror(errno));
		free(r);
		return NULL;
	}
	return r;
}

int pias_event_reader_poll(struct pias_event_reader *r, int timeout_ms, struct pias_err *e)
{
	int err;

	r->handled = 0;
	r->stopped = 0;
	err = ring_buffer__poll(r->rb, timeout_ms);
	if (err == STOP_SENTINEL && r->stopped)
		return r->handled;
	if (err < 0)
		return pias_err_set(e, err, "reading events failed: %s", strerror(-err));
	return r->handled;
}

unsigned long pias_event_reader_malformed(const struct pias_event_reader *r)
{
	return r->malformed;
}

int pias_event_reader_fd(const struct pias_event_reader *r)
{
	return ring_buffer__epoll_fd(r->rb);
}

void pias_event_reader_free(struct pias_event_reader *r)
{
	if (!r)
		return;
	ring_buffer__free(r->rb);
	free(r);
}
