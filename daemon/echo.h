/* SPDX-License-Identifier: MIT */
/*
 * The dataplane echo between proxies (docs/protocol.md section 1, "Echo"),
 * as piasd sends it (kind 7) and checks what comes back (kind 8): the
 * tunnel header, then a body of the time the echo went out and a SipHash
 * of (asking id, asked id, that time) under a secret of this process. The
 * answering XDP program echoes the body untouched, so an answer proves
 * itself fresh and ours without any state here (like the cookies); a
 * copy replayed later than max_age is refused.
 */
#ifndef PIAS_DAEMON_ECHO_H
#define PIAS_DAEMON_ECHO_H

#include <stddef.h>

#include <pias/tunnel.h>

#define PIAS_ECHO_LEN	     (PIAS_TUN_HLEN + PIAS_ECHO_BODY_LEN) /* the UDP payload: 36 */
#define PIAS_ECHO_SECRET_LEN 16

/* Writes the echo request from self to peer, with our tag for peer, sent at now. */
void pias_echo_request(__u8 out[PIAS_ECHO_LEN], __u32 self, __u32 peer, __u64 tag, __u64 now,
		       const __u8 secret[PIAS_ECHO_SECRET_LEN]);

/*
 * An answer to one of our echoes, sent at most max_age_ns before now?
 * 0 with the answering proxy in *peer and the tag it carried in *tag (the
 * caller checks it is one it accepts from peer); -EBADMSG otherwise.
 */
int pias_echo_reply_check(const __u8 *b, size_t len, __u32 self, __u64 now, __u64 max_age_ns,
			  const __u8 secret[PIAS_ECHO_SECRET_LEN], __u32 *peer, __u64 *tag);

#endif
