// SPDX-License-Identifier: MIT
/*
 * Overlay key ring, key files and group tokens: see keys.h.
 *
 * Keys are secrets: error messages name the file, line and key id but never
 * echo a value, and every copy on the heap or stack is wiped before release.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>
#include <sodium.h>

#include "ini_file.h"
#include "keys.h"

#define HEX_LEN	   (2 * PIAS_KEY_LEN)
#define HEX_DIGITS "0123456789abcdefABCDEF"

static const char token_label[] = "PIAS group token v1"; /* without its NUL */

/* randombytes_buf needs libsodium initialised; once per process. */
static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;

static void sodium_start(void)
{
	if (sodium_init() < 0)
		abort(); /* no randomness: generating a key now would be worse */
}

static void sodium_ready(void)
{
	pthread_once(&sodium_once, sodium_start);
}

/* Parse hex into key only if all of it is exactly 64 hex digits; why names the problem. */
static int hex_to_key(const char *hex, __u8 key[PIAS_KEY_LEN], struct pias_err *why)
{
	size_t n = strlen(hex), good = strspn(hex, HEX_DIGITS);
	__u8 tmp[PIAS_KEY_LEN];
	size_t bin_len = 0;
	const char *end = NULL;

	if (good < n)
		return pias_err_set(why, -EINVAL,
				    "character %zu is not a hex digit (expected %d hex digits)",
				    good + 1, HEX_LEN);
	if (n != HEX_LEN)
		return pias_err_set(why, -EINVAL, "%zu hex digits, expected %d", n, HEX_LEN);
	if (sodium_hex2bin(tmp, sizeof(tmp), hex, n, NULL, &bin_len, &end) ||
	    bin_len != sizeof(tmp) || end != hex + n) {
		sodium_memzero(tmp, sizeof(tmp));
		return pias_err_set(why, -EINVAL, "not %d hex digits", HEX_LEN);
	}
	memcpy(key, tmp, sizeof(tmp));
	sodium_memzero(tmp, sizeof(tmp));
	return 0;
}

int pias_key_from_hex(const char *hex, __u8 key[PIAS_KEY_LEN], struct pias_err *e)
{
	struct pias_err why;
	int err = hex_to_key(hex, key, &why);

	if (err)
		return pias_err_set(e, err, "key: %s", why.msg);
	return 0;
}

void pias_key_to_hex(const __u8 key[PIAS_KEY_LEN], char out[2 * PIAS_KEY_LEN + 1])
{
	sodium_bin2hex(out, HEX_LEN + 1, key, PIAS_KEY_LEN);
}

void pias_key_generate(__u8 key[PIAS_KEY_LEN])
{
	sodium_ready();
	randombytes_buf(key, PIAS_KEY_LEN);
}

void pias_token_derive(const __u8 master[PIAS_KEY_LEN], const struct pias_ta *ta,
		       __u8 token[PIAS_KEY_LEN])
{
	__u8 in[sizeof(token_label) - 1 + PIAS_MSG_TA_LEN];

	_Static_assert(PIAS_KEY_LEN == crypto_auth_BYTES, "a token is one MAC");
	memcpy(in, token_label, sizeof(token_label) - 1);
	pias_msg_ta_put(ta, in + sizeof(token_label) - 1);
	sodium_ready();
	crypto_auth(token, in, sizeof(in), master);
}

__u64 pias_target_tun_tag(const __u8 master[PIAS_KEY_LEN], __u32 jap_id, const struct pias_ta *ta,
			  const union pias_addr *addr, __u8 family)
{
	__u8 sub[crypto_shorthash_KEYBYTES], in[4 + PIAS_MSG_TA_LEN + 1 + 16];
	__u64 tag;

	sodium_ready();
	/* a key of its own: the tag never tells anything about a token */
	crypto_kdf_derive_from_key(sub, sizeof(sub), 2, "piastgt2", master);
	in[0] = (__u8)(jap_id >> 24), in[1] = (__u8)(jap_id >> 16), in[2] = (__u8)(jap_id >> 8);
	in[3] = (__u8)jap_id;
	pias_msg_ta_put(ta, in + 4);
	in[4 + PIAS_MSG_TA_LEN] = family;
	memcpy(in + 5 + PIAS_MSG_TA_LEN, addr->bytes, 16);
	crypto_shorthash((unsigned char *)&tag, in, sizeof(in), sub);
	sodium_memzero(sub, sizeof(sub));
	return tag;
}

int pias_key_read_file(const char *path, __u8 key[PIAS_KEY_LEN], struct pias_err *e)
{
	/* Room for the key, generous whitespace, and one byte to notice more. */
	char buf[4 * HEX_LEN + 1];
	struct pias_err why;
	size_t n, start, end;
	FILE *f;
	int err;

	f = fopen(path, "r");
	if (!f) {
		err = errno;
		return pias_err_set(e, -err, "%s: cannot open: %s", path, strerror(err));
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	err = ferror(f) ? errno : 0;
	fclose(f);
	if (err) {
		sodium_memzero(buf, sizeof(buf));
		return pias_err_set(e, -EIO, "%s: read failed: %s", path, strerror(err));
	}
	buf[n] = '\0';
	if (n == sizeof(buf) - 1) {
		sodium_memzero(buf, sizeof(buf));
		return pias_err_set(e, -EINVAL, "%s: too long for one key of %d hex digits", path,
				    HEX_LEN);
	}
	if (strlen(buf) != n) {
		sodium_memzero(buf, sizeof(buf));
		return pias_err_set(e, -EINVAL, "%s: contains a NUL byte (expected %d hex digits)",
				    path, HEX_LEN);
	}
	start = strspn(buf, " \t\r\n");
	for (end = n; end > start && strchr(" \t\r\n", buf[end - 1]); end--)
		;
	buf[end] = '\0';
	err = hex_to_key(buf + start, key, &why);
	sodium_memzero(buf, sizeof(buf));
	if (err)
		return pias_err_set(e, err, "%s: %s", path, why.msg);
	return 0;
}

const __u8 *pias_keyring_find(const struct pias_keyring *kr, __u32 id)
{
	size_t i;

	for (i = 0; i < kr->n; i++)
		if (kr->keys[i].id == id)
			return kr->keys[i].key;
	return NULL;
}

const __u8 *pias_keyring_send(const struct pias_keyring *kr, __u32 *id)
{
	const __u8 *k = pias_keyring_find(kr, kr->send_id);

	if (k && id)
		*id = kr->send_id;
	return k;
}

/* Reader and handler state of one key ring file. */
static const char *const key_sections[] = { "keys", NULL };

struct kload {
	struct ini_file in; /* first: name, file, line, failure */
	struct pias_keyring kr;
	int key_line[PIAS_KEYRING_MAX]; /* where keys[i] was set */
	int send_line;			/* 0: not set */
};

/* Record the first error as "NAME:LINE: WHAT: MSG" and stop. */
static int fail(struct kload *l, int line, int code, const char *what, const char *msg)
{
	return ini_file_fail(&l->in, line, code, what, msg);
}

/* A key id or send's value: 1..UINT32_MAX in decimal digits only. */
void pias_keyring_tun_tags(const struct pias_keyring *kr, __u32 self, __u32 peer,
			   struct pias_tun_tags *t)
{
	__u8 keys[PIAS_KEYRING_MAX][PIAS_TUN_KEY_LEN];
	size_t send = 0;

	PIAS_STATIC_ASSERT(PIAS_KEY_LEN == PIAS_TUN_KEY_LEN, "tunnel tags come from overlay keys");
	for (size_t i = 0; i < kr->n; i++) {
		memcpy(keys[i], kr->keys[i].key, PIAS_TUN_KEY_LEN);
		if (kr->keys[i].id == kr->send_id)
			send = i;
	}
	pias_tun_tags_derive((const __u8(*)[PIAS_TUN_KEY_LEN])keys, kr->n, send, self, peer, t);
	sodium_memzero(keys, sizeof(keys));
}

static bool parse_id(const char *s, __u32 *id)
{
	unsigned long long v;

	if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 10)
		return false;
	v = strtoull(s, NULL, 10);
	if (v < 1 || v > UINT32_MAX)
		return false;
	*id = (__u32)v;
	return true;
}

static int handle_send(struct kload *l, const char *what, const char *value)
{
	char msg[96];
	__u32 id;

	if (l->send_line) {
		snprintf(msg, sizeof(msg), "duplicate key (first set on line %d)", l->send_line);
		return fail(l, l->in.lineno, -EINVAL, what, msg);
	}
	if (!parse_id(value, &id))
		return fail(l, l->in.lineno, -EINVAL, what,
			    "expected the id of a listed key (1-4294967295)");
	l->kr.send_id = id;
	l->send_line = l->in.lineno;
	return 0;
}

static int handle_key(struct kload *l, const char *what, __u32 id, const char *value)
{
	struct pias_err why;
	char msg[96];
	size_t i;
	int err;

	for (i = 0; i < l->kr.n; i++) {
		if (l->kr.keys[i].id != id)
			continue;
		snprintf(msg, sizeof(msg), "duplicate key id (first set on line %d)",
			 l->key_line[i]);
		return fail(l, l->in.lineno, -EINVAL, what, msg);
	}
	if (l->kr.n == PIAS_KEYRING_MAX) {
		snprintf(msg, sizeof(msg), "more than %d keys", PIAS_KEYRING_MAX);
		return fail(l, l->in.lineno, -E2BIG, what, msg);
	}
	err = hex_to_key(value, l->kr.keys[l->kr.n].key, &why);
	if (err)
		return fail(l, l->in.lineno, err, what, why.msg);
	l->kr.keys[l->kr.n].id = id;
	l->key_line[l->kr.n] = l->in.lineno;
	l->kr.n++;
	return 0;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct kload *l = user;
	char what[128];
	__u32 id;

	if (l->in.failed)
		return 0;
	/*
	 * A name is echoed only when it is one this file may hold (send, or
	 * digits that fit a key id): anything else may be a key pasted on
	 * the wrong side of '=', and errors end up in logs.
	 */
	if (!*section)
		return !fail(l, l->in.lineno, -EINVAL, "key", "outside the [keys] section");
	if (strcmp(section, "keys")) {
		ini_file_fail_section(&l->in, section);
		return 0;
	}
	if (!strcmp(name, "send")) {
		snprintf(what, sizeof(what), "[keys] send");
		return !handle_send(l, what, value);
	}
	if (strspn(name, "0123456789") != strlen(name) || strlen(name) > 10)
		return !fail(l, l->in.lineno, -EINVAL, "[keys]",
			     "unknown key name (expected a key id 1-4294967295 or send)");
	snprintf(what, sizeof(what), "[keys] %s", name);
	if (!parse_id(name, &id))
		return !fail(l, l->in.lineno, -EINVAL, what, "key id is not a number 1-4294967295");
	return !handle_key(l, what, id, value);
}

/* Checks across lines, once the whole file is read. */
static int finish(struct kload *l)
{
	int eof = l->in.lineno ? l->in.lineno : 1; /* an empty file still has a line 1 */
	char msg[96];

	if (!l->kr.n)
		return fail(l, eof, -EINVAL, "[keys]", "no keys");
	if (!l->send_line)
		return fail(l, eof, -EINVAL, "[keys] send", "missing (required)");
	if (!pias_keyring_find(&l->kr, l->kr.send_id)) {
		snprintf(msg, sizeof(msg), "names key %u, which is not listed", l->kr.send_id);
		return fail(l, l->send_line, -EINVAL, "[keys] send", msg);
	}
	return 0;
}

int pias_keyring_load(const char *path, struct pias_keyring *kr, struct pias_err *e)
{
	struct kload *l;
	int ret, err;
	FILE *f;

	f = fopen(path, "r");
	if (!f) {
		err = errno;
		return pias_err_set(e, -err, "%s: cannot open: %s", path, strerror(err));
	}
	l = calloc(1, sizeof(*l));
	if (!l) {
		fclose(f);
		return pias_err_set(e, -ENOMEM, "%s: out of memory", path);
	}
	l->in.name = path;
	l->in.f = f;
	l->in.e = e;
	l->in.sections = key_sections;
	l->in.expected = "keys";
	l->in.dedent = true;
	l->in.secret = true;
	ret = ini_parse_stream(ini_file_reader, &l->in, handler, l);
	if (l->in.failed) {
		/* the error is in e */
	} else if (ret > 0) {
		fail(l, ret, -EINVAL, "syntax error", "expected '[keys]' or 'key = value'");
	} else if (ret < 0) {
		fail(l, l->in.lineno, -ENOMEM, "error", "out of memory");
	} else if (ferror(f)) {
		fail(l, l->in.lineno, -EIO, "error", "read failed");
	} else if (!finish(l)) {
		*kr = l->kr;
	}
	ret = l->in.failed ? l->in.code : 0;
	fclose(f);
	sodium_memzero(l, sizeof(*l));
	free(l);
	return ret;
}
