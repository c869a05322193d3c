// SPDX-License-Identifier: MIT
/*
 * Tags of tunnel packets between proxies (docs/protocol.md section 1,
 * "Tag"): computed here, once per (key, pair) when piasd writes a proxy's
 * entry, so that the dataplane only compares 8 bytes per packet.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "maps.h"

/* Derived keys are bound to this use: a tag never reveals the MAC key. */
#define TAG_KDF_CONTEXT "piastun2"
#define TAG_KDF_SUBKEY	1

PIAS_STATIC_ASSERT(crypto_kdf_KEYBYTES == PIAS_TUN_KEY_LEN, "overlay keys are KDF master keys");
PIAS_STATIC_ASSERT(crypto_shorthash_BYTES == PIAS_TUN_TAG_LEN, "a tag is one SipHash-2-4 output");

__u64 pias_tun_tag(const __u8 key[PIAS_TUN_KEY_LEN], __u32 from, __u32 to)
{
	__u8 sub[crypto_shorthash_KEYBYTES], in[8];
	__u64 tag;

	if (sodium_init() < 0)
		abort();
	crypto_kdf_derive_from_key(sub, sizeof(sub), TAG_KDF_SUBKEY, TAG_KDF_CONTEXT, key);
	/* ids in network order: the tag is the same on every host */
	in[0] = (__u8)(from >> 24), in[1] = (__u8)(from >> 16), in[2] = (__u8)(from >> 8);
	in[3] = (__u8)from;
	in[4] = (__u8)(to >> 24), in[5] = (__u8)(to >> 16), in[6] = (__u8)(to >> 8);
	in[7] = (__u8)to;
	crypto_shorthash((unsigned char *)&tag, in, sizeof(in), sub);
	sodium_memzero(sub, sizeof(sub));
	return tag;
}

void pias_tun_tags_derive(const __u8 (*keys)[PIAS_TUN_KEY_LEN], size_t n, size_t send, __u32 self,
			  __u32 peer, struct pias_tun_tags *t)
{
	memset(t, 0, sizeof(*t));
	if (n > PIAS_TUN_RX_TAGS)
		n = PIAS_TUN_RX_TAGS;
	if (send < n)
		t->tx = pias_tun_tag(keys[send], self, peer);
	for (size_t i = 0; i < n; i++)
		t->rx[t->n_rx++] = pias_tun_tag(keys[i], peer, self);
}
