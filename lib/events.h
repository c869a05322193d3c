/* SPDX-License-Identifier: MIT */
/*
 * Reading the dataplane's events (the pias_events ring buffer) and printing
 * them one per line:
 *
 *   bound iap=1 rap=2 jap=3 ta=udp:203.0.113.10:53
 *
 * A ring buffer has one consumer position: two readers split the events
 * between them, so only one (the daemon, or pias-maps events) should read.
 */
#ifndef PIAS_LIB_EVENTS_H
#define PIAS_LIB_EVENTS_H

#include <stddef.h>

#include <pias/events.h>

#include "err.h"

/* "miss", "bound", "no_group", "invalidate", or NULL. */
const char *pias_event_type_name(__u32 type);

/* One line, no newline; returns buf. */
const char *pias_event_format(const struct pias_event *ev, char *buf, size_t len);

/* Called per event; a non-zero return stops the current poll after this event. */
typedef int (*pias_event_fn)(const struct pias_event *ev, void *arg);

struct pias_event_reader;

struct pias_event_reader *pias_event_reader_new(int map_fd, pias_event_fn fn, void *arg,
						struct pias_err *e);
/*
 * Wait up to timeout_ms (-1: forever) and hand every waiting event to fn.
 * Returns the number handled, or -errno (-EINTR when a signal came).
 */
int pias_event_reader_poll(struct pias_event_reader *r, int timeout_ms, struct pias_err *e);
/* Records too short to be an event (a mismatched dataplane build). */
unsigned long pias_event_reader_malformed(const struct pias_event_reader *r);
/* An fd that becomes readable when events wait, for an event loop. */
int pias_event_reader_fd(const struct pias_event_reader *r);
void pias_event_reader_free(struct pias_event_reader *r);

#endif
