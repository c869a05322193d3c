// SPDX-License-Identifier: MIT
/* Registration cookies: see cookie.h. */
#include <string.h>

#include <sodium.h>

#include "cookie.h"

_Static_assert(crypto_shorthash_siphashx24_BYTES == PIAS_MSG_COOKIE_LEN,
	       "a cookie is one SipHash-2-4-128 output");
_Static_assert(crypto_shorthash_siphashx24_KEYBYTES == PIAS_COOKIE_SECRET_LEN,
	       "a cookie secret is one SipHash key");

bool pias_cookie_due(const struct pias_cookie_jar *j, __u64 now)
{
	return !j->have_cur || now - j->rotated_ns >= PIAS_COOKIE_PERIOD_NS;
}

void pias_cookie_rotate(struct pias_cookie_jar *j, __u64 now,
			const __u8 secret[PIAS_COOKIE_SECRET_LEN])
{
	if (j->have_cur) {
		memcpy(j->prev, j->cur, sizeof(j->prev));
		j->have_prev = true;
	}
	memcpy(j->cur, secret, sizeof(j->cur));
	j->have_cur = true;
	j->rotated_ns = now;
}

/* What the cookie covers, in a fixed layout: the wire TA, then the rest. */
static size_t cookie_input(const struct pias_msg_register *r, const struct pias_peer *from,
			   __u8 *in)
{
	size_t n = 0;

	pias_msg_ta_put(&r->ta, in);
	n += PIAS_MSG_TA_LEN;
	in[n++] = r->family;
	in[n++] = r->flags;
	in[n++] = r->port >> 8;
	in[n++] = r->port & 0xff;
	memcpy(in + n, r->addr.bytes, 16);
	n += 16;
	in[n++] = from->family;
	in[n++] = from->port >> 8;
	in[n++] = from->port & 0xff;
	memcpy(in + n, from->addr.bytes, 16);
	return n + 16;
}

static void hash(const __u8 secret[PIAS_COOKIE_SECRET_LEN], const __u8 *in, size_t n,
		 __u8 out[PIAS_MSG_COOKIE_LEN])
{
	crypto_shorthash_siphashx24(out, in, n, secret);
}

void pias_cookie_make(const struct pias_cookie_jar *j, const struct pias_msg_register *r,
		      const struct pias_peer *from, __u8 out[PIAS_MSG_COOKIE_LEN])
{
	__u8 in[PIAS_MSG_TA_LEN + 4 + 16 + 3 + 16];

	hash(j->cur, in, cookie_input(r, from, in), out);
}

bool pias_cookie_ok(const struct pias_cookie_jar *j, const struct pias_msg_register *r,
		    const struct pias_peer *from)
{
	__u8 in[PIAS_MSG_TA_LEN + 4 + 16 + 3 + 16], want[PIAS_MSG_COOKIE_LEN];
	size_t n = cookie_input(r, from, in);
	bool ok = false;

	if (j->have_cur) {
		hash(j->cur, in, n, want);
		ok |= !sodium_memcmp(want, r->cookie, sizeof(want));
	}
	if (j->have_prev) {
		hash(j->prev, in, n, want);
		ok |= !sodium_memcmp(want, r->cookie, sizeof(want));
	}
	return ok;
}
