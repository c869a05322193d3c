// SPDX-License-Identifier: MIT
/* The dataplane echo as piasd sends and checks it: see echo.h. */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "echo.h"

PIAS_STATIC_ASSERT(crypto_shorthash_KEYBYTES == PIAS_ECHO_SECRET_LEN, "a SipHash key");

static void put32(__u8 *p, __u32 v)
{
	p[0] = (__u8)(v >> 24), p[1] = (__u8)(v >> 16), p[2] = (__u8)(v >> 8), p[3] = (__u8)v;
}

static __u32 get32(const __u8 *p)
{
	return (__u32)p[0] << 24 | (__u32)p[1] << 16 | (__u32)p[2] << 8 | p[3];
}

static void put64(__u8 *p, __u64 v)
{
	put32(p, (__u32)(v >> 32));
	put32(p + 4, (__u32)v);
}

static __u64 get64(const __u8 *p)
{
	return (__u64)get32(p) << 32 | get32(p + 4);
}

/* The body's proof: SipHash(secret, asking id || asked id || sent). */
static void proof(__u8 out[8], __u32 self, __u32 peer, __u64 sent,
		  const __u8 secret[PIAS_ECHO_SECRET_LEN])
{
	__u8 in[16];

	put32(in, self);
	put32(in + 4, peer);
	put64(in + 8, sent);
	crypto_shorthash(out, in, sizeof(in), secret);
}

void pias_echo_request(__u8 out[PIAS_ECHO_LEN], __u32 self, __u32 peer, __u64 tag, __u64 now,
		       const __u8 secret[PIAS_ECHO_SECRET_LEN])
{
	memset(out, 0, PIAS_ECHO_LEN);
	out[0] = PIAS_TUN_VERSION;
	out[1] = PIAS_KIND_ECHO_REQUEST;
	out[3] = 1; /* hops */
	put32(out + 4, self);
	put32(out + 8, peer);
	memcpy(out + 12, &tag, PIAS_TUN_TAG_LEN);
	put64(out + PIAS_TUN_HLEN, now);
	proof(out + PIAS_TUN_HLEN + 8, self, peer, now, secret);
}

int pias_echo_reply_check(const __u8 *b, size_t len, __u32 self, __u64 now, __u64 max_age_ns,
			  const __u8 secret[PIAS_ECHO_SECRET_LEN], __u32 *peer, __u64 *tag)
{
	__u8 want[8];
	__u64 sent;

	if (len != PIAS_ECHO_LEN || b[0] != PIAS_TUN_VERSION || b[1] != PIAS_KIND_ECHO_REPLY ||
	    b[2] || get32(b + 4) != self || !get32(b + 8))
		return -EBADMSG;
	*peer = get32(b + 8);
	sent = get64(b + PIAS_TUN_HLEN);
	if (sent > now || now - sent > max_age_ns)
		return -EBADMSG;
	proof(want, self, *peer, sent, secret);
	if (sodium_memcmp(want, b + PIAS_TUN_HLEN + 8, sizeof(want)))
		return -EBADMSG;
	memcpy(tag, b + 12, PIAS_TUN_TAG_LEN);
	return 0;
}
