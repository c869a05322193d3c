/* SPDX-License-Identifier: MIT */
/*
 * Keys of the overlay (proxy-to-proxy MACs) and group tokens (target
 * registration), all 32 bytes, with libsodium doing the crypto.
 *
 * Overlay key ring file (INI, read with libinih; errors name FILE:LINE):
 *
 *   [keys]
 *   1 = <64 hex digits>
 *   2 = <64 hex digits>
 *   send = 2
 *
 * Every listed key is accepted on receipt (the header names its key id);
 * `send` is the one used to send. Rotation without a restart: add the new
 * key everywhere and reload (SIGHUP or `piasctl keys reload`), then make it
 * `send` everywhere and reload, then drop the old one and reload.
 *
 * Group tokens: token(ta) = HMAC-SHA-512-256(group master key,
 * "PIAS group token v1" || TA in wire order). Proxies hold only the master
 * key; the operator issues each group its token (`piasctl token`), and a
 * target proves it may join ta by MACing its REGISTER with token(ta).
 */
#ifndef PIAS_DAEMON_KEYS_H
#define PIAS_DAEMON_KEYS_H

#include <stddef.h>

#include <pias/addr.h>

#include "err.h"
#include "maps.h"
#include "msg.h"

#define PIAS_KEYRING_MAX PIAS_TUN_RX_TAGS /* a receiver holds a tunnel tag per key */

struct pias_keyring {
	struct {
		__u32 id; /* 1..UINT32_MAX */
		__u8 key[PIAS_KEY_LEN];
	} keys[PIAS_KEYRING_MAX];
	size_t n;
	__u32 send_id; /* one of keys[].id */
};

/*
 * The tunnel tags between proxies self and peer under this ring
 * (include/pias/tunnel.h): send with the send key, accept every key's.
 */
void pias_keyring_tun_tags(const struct pias_keyring *kr, __u32 self, __u32 peer,
			   struct pias_tun_tags *t);

/*
 * The tunnel tag between JAP jap_id and its tunnel-mode target at addr for
 * ta (docs/protocol.md 3.6): fixed for that registration, so a JAP's
 * restart or a refresh gives the same, and only holders of the group
 * master key can compute it.
 */
__u64 pias_target_tun_tag(const __u8 master[PIAS_KEY_LEN], __u32 jap_id, const struct pias_ta *ta,
			  const union pias_addr *addr, __u8 family);

/* Load a key ring file; on failure *kr is untouched and e names FILE:LINE. */
int pias_keyring_load(const char *path, struct pias_keyring *kr, struct pias_err *e);

/* The key with id, or NULL. */
const __u8 *pias_keyring_find(const struct pias_keyring *kr, __u32 id);

/* The key to send with; its id in *id. */
const __u8 *pias_keyring_send(const struct pias_keyring *kr, __u32 *id);

/* A file holding one key as 64 hex digits (surrounding whitespace allowed). */
int pias_key_read_file(const char *path, __u8 key[PIAS_KEY_LEN], struct pias_err *e);

/* 64 hex digits of key into out (65 bytes with the NUL). */
void pias_key_to_hex(const __u8 key[PIAS_KEY_LEN], char out[2 * PIAS_KEY_LEN + 1]);

/* 64 hex digits into key; -EINVAL otherwise. */
int pias_key_from_hex(const char *hex, __u8 key[PIAS_KEY_LEN], struct pias_err *e);

/* A fresh random key (libsodium randombytes). */
void pias_key_generate(__u8 key[PIAS_KEY_LEN]);

/* token(ta) from the group master key, as above. */
void pias_token_derive(const __u8 master[PIAS_KEY_LEN], const struct pias_ta *ta,
		       __u8 token[PIAS_KEY_LEN]);

#endif
