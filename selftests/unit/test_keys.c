// SPDX-License-Identifier: MIT
/* daemon/keys: key ring files, key files, hex, group tokens. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "keys.h"
#include "unit.h"

#define HEX_A "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define HEX_B "FFEEDDCCBBAA99887766554433221100ffeeddccbbaa99887766554433221100"
#define HEX_C "5555555555555555555555555555555555555555555555555555555555555555"

/* text into a fresh file under /tmp; its name in path[32]. */
static void write_tmp(char path[32], const char *text)
{
	int fd;
	size_t n = strlen(text);

	strcpy(path, "/tmp/pias-keys-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, n), (ssize_t)n);
	close(fd);
}

/* Load text as a key ring; the return code, e filled. */
static int load(const char *text, struct pias_keyring *kr, struct pias_err *e, char path[32])
{
	int ret;

	write_tmp(path, text);
	ret = pias_keyring_load(path, kr, e);
	unlink(path);
	return ret;
}

/* Loading text fails with "FILE:LINE: want" and leaves the ring untouched. */
static void assert_ring_bad(const char *text, int line, const char *want)
{
	struct pias_keyring kr, before;
	struct pias_err e = {};
	char path[32], full[PIAS_ERR_LEN];

	memset(&kr, 0x5a, sizeof(kr));
	before = kr;
	assert_int_not_equal(load(text, &kr, &e, path), 0);
	snprintf(full, sizeof(full), "%s:%d: %s", path, line, want);
	if (strcmp(e.msg, full))
		fail_msg("got '%s', want '%s'", e.msg, full);
	assert_memory_equal(&kr, &before, sizeof(kr));
}

/*
 * Tunnel tags: what proxy 1 sends to 2 is what 2 accepts from 1, under the
 * send key and under every key of the ring during a rotation; other pairs,
 * the other direction and other keys give other tags.
 */
static void test_tun_tags(void **state)
{
	struct pias_keyring old, both, next;
	struct pias_tun_tags at1, at2, x;
	struct pias_err e = {};
	char path[32];

	(void)state;
	assert_int_equal(load("[keys]\n1 = " HEX_A "\nsend = 1\n", &old, &e, path), 0);
	assert_int_equal(load("[keys]\n1 = " HEX_A "\n2 = " HEX_B "\nsend = 1\n", &both, &e, path),
			 0);
	assert_int_equal(load("[keys]\n1 = " HEX_A "\n2 = " HEX_B "\nsend = 2\n", &next, &e, path),
			 0);
	pias_keyring_tun_tags(&old, 1, 2, &at1);
	pias_keyring_tun_tags(&old, 2, 1, &at2);
	assert_int_equal(at1.n_rx, 1);
	assert_true(at1.tx == at2.rx[0] && at2.tx == at1.rx[0]);
	assert_true(at1.tx != at2.tx); /* the direction counts */
	pias_keyring_tun_tags(&old, 1, 3, &x);
	assert_true(x.tx != at1.tx && x.rx[0] != at1.rx[0]); /* so does the peer */
	assert_true(at1.tx == pias_tun_tag(old.keys[0].key, 1, 2));

	/* rotation step 1: 2 holds both keys and still sends with the old one */
	pias_keyring_tun_tags(&both, 2, 1, &at2);
	assert_int_equal(at2.n_rx, 2);
	assert_true(at2.rx[0] == at1.tx); /* 1 (old ring) -> 2: accepted */
	assert_true(at2.tx == at1.rx[0]); /* 2 -> 1 (old ring): accepted */
	/* step 2: 2 sends with the new key; 1, with both, accepts it */
	pias_keyring_tun_tags(&next, 2, 1, &at2);
	pias_keyring_tun_tags(&both, 1, 2, &at1);
	assert_true(at2.tx == at1.rx[1] && at2.tx != at1.rx[0]);
	assert_true(at2.tx == pias_tun_tag(both.keys[1].key, 2, 1));
}

static void test_ring_good(void **state)
{
	struct pias_keyring kr;
	struct pias_err e = {};
	__u8 a[PIAS_KEY_LEN], b[PIAS_KEY_LEN];
	const __u8 *k;
	char path[32];
	__u32 id = 0;
	int i;

	(void)state;
	for (i = 0; i < PIAS_KEY_LEN; i++) {
		a[i] = i;
		b[i] = i < 16 ? 0xff - 0x11 * i : 0xff - 0x11 * (i - 16);
	}
	assert_int_equal(load("; overlay keys\n"
			      "[keys]\n"
			      "1 = " HEX_A "\n"
			      "\t  4294967295=" HEX_B "   \n"
			      "# rotate: send the new one\n"
			      "send = 4294967295\n",
			      &kr, &e, path),
			 0);
	assert_int_equal(kr.n, 2);
	assert_int_equal(kr.send_id, UINT32_MAX);
	k = pias_keyring_find(&kr, 1);
	assert_non_null(k);
	assert_memory_equal(k, a, PIAS_KEY_LEN);
	k = pias_keyring_send(&kr, &id);
	assert_non_null(k);
	assert_int_equal(id, UINT32_MAX);
	assert_memory_equal(k, b, PIAS_KEY_LEN);
	assert_null(pias_keyring_find(&kr, 2));
	assert_null(pias_keyring_find(&kr, 0));

	/* A full ring. */
	assert_int_equal(load("[keys]\n1=" HEX_A "\n2=" HEX_A "\n3=" HEX_A "\n4=" HEX_A "\n5=" HEX_A
			      "\n6=" HEX_A "\n7=" HEX_A "\n8=" HEX_C "\nsend=8\n",
			      &kr, &e, path),
			 0);
	assert_int_equal(kr.n, PIAS_KEYRING_MAX);
	assert_int_equal(kr.send_id, 8);
	/* send may come first. */
	assert_int_equal(load("[keys]\nsend = 3\n3 = " HEX_C "\n", &kr, &e, path), 0);
	assert_int_equal(kr.n, 1);
	assert_int_equal(pias_keyring_send(&kr, &id)[0], 0x55);
	assert_int_equal(id, 3);
}

static void test_ring_bad(void **state)
{
	(void)state;
	assert_ring_bad("[keys]\n1 = " HEX_A "\n1 = " HEX_B "\nsend = 1\n", 3,
			"[keys] 1: duplicate key id (first set on line 2)");
	assert_ring_bad("[keys]\n7 = " HEX_A "\n2 = " HEX_B "\n07 = " HEX_C "\nsend = 7\n", 4,
			"[keys] 07: duplicate key id (first set on line 2)");
	assert_ring_bad("[keys]\n1 = 0001\nsend = 1\n", 2, "[keys] 1: 4 hex digits, expected 64");
	assert_ring_bad("[keys]\n1 = " HEX_A "0\nsend = 1\n", 2,
			"[keys] 1: 65 hex digits, expected 64");
	assert_ring_bad("[keys]\n1 = zz" HEX_A "\nsend = 1\n", 2,
			"[keys] 1: character 1 is not a hex digit (expected 64 hex digits)");
	assert_ring_bad("[keys]\n1 =\nsend = 1\n", 2, "[keys] 1: 0 hex digits, expected 64");
	assert_ring_bad("[keys]\n1 = " HEX_A "\n", 2, "[keys] send: missing (required)");
	assert_ring_bad("[keys]\n1 = " HEX_A "\nsend = 2\n\n", 3,
			"[keys] send: names key 2, which is not listed");
	assert_ring_bad("[keys]\n1 = " HEX_A "\nsend = 1\nsend = 1\n", 4,
			"[keys] send: duplicate key (first set on line 3)");
	assert_ring_bad("[keys]\n1 = " HEX_A "\nsend = one\n", 3,
			"[keys] send: expected the id of a listed key (1-4294967295)");
	assert_ring_bad("[keys]\n1 = " HEX_A "\nsend = 0\n", 3,
			"[keys] send: expected the id of a listed key (1-4294967295)");
	assert_ring_bad("[keys]\n0 = " HEX_A "\nsend = 1\n", 2,
			"[keys] 0: key id is not a number 1-4294967295");
	assert_ring_bad("[keys]\n4294967296 = " HEX_A "\nsend = 1\n", 2,
			"[keys] 4294967296: key id is not a number 1-4294967295");
	assert_ring_bad("[keys]\nsend = 1\nkey1 = " HEX_A "\n", 3,
			"[keys]: unknown key name (expected a key id 1-4294967295 or send)");
	assert_ring_bad("[keys]\n1 = " HEX_A "\nsend = 1\n[other]\n", 4,
			"section: unknown section (expected keys)");
	assert_ring_bad("[keys]\n1 = " HEX_A "\n[overlay]\nx = 1\nsend = 1\n", 3,
			"section: unknown section (expected keys)");
	assert_ring_bad("1 = " HEX_A "\n", 1, "key: outside the [keys] section");
	/* a key pasted as a section or a name is not echoed into logs */
	assert_ring_bad("[keys]\n1 = " HEX_A "\nsend = 1\n[" HEX_A "]\n", 4,
			"section: unknown section (expected keys)");
	assert_ring_bad("[keys]\n" HEX_A " = 1\nsend = 1\n", 2,
			"[keys]: unknown key name (expected a key id 1-4294967295 or send)");
	assert_ring_bad("[" HEX_A "]\n1 = 2\n", 1, "section: unknown section (expected keys)");
	assert_ring_bad("[keys]\n1 = " HEX_A "\nthis is not ini\nsend = 1\n", 3,
			"syntax error: expected '[keys]' or 'key = value'");
	assert_ring_bad("[keys]\n", 1, "[keys]: no keys");
	assert_ring_bad("", 1, "[keys]: no keys");
	assert_ring_bad("[keys]\n1=" HEX_A "\n2=" HEX_A "\n3=" HEX_A "\n4=" HEX_A "\n5=" HEX_A
			"\n6=" HEX_A "\n7=" HEX_A "\n8=" HEX_A "\n9=" HEX_A "\nsend=1\n",
			10, "[keys] 9: more than 8 keys");
}

/* Error messages never echo key material. */
static void test_ring_no_secret_in_errors(void **state)
{
	struct pias_keyring kr;
	struct pias_err e = {};
	char path[32];

	(void)state;
	assert_int_equal(load("[keys]\n1 = " HEX_C "5\nsend = 1\n", &kr, &e, path), -EINVAL);
	assert_null(strstr(e.msg, "5555"));
	assert_int_equal(load("[keys]\n1 = " HEX_C "\n1 = " HEX_C "\nsend=1\n", &kr, &e, path),
			 -EINVAL);
	assert_null(strstr(e.msg, "5555"));
}

static void test_ring_missing_file(void **state)
{
	struct pias_keyring kr;
	struct pias_err e = {};

	(void)state;
	assert_int_equal(pias_keyring_load("/nonexistent/pias-keys", &kr, &e), -ENOENT);
	assert_string_equal(e.msg,
			    "/nonexistent/pias-keys: cannot open: No such file or directory");
}

static void test_key_file(void **state)
{
	__u8 k[PIAS_KEY_LEN], want[PIAS_KEY_LEN], before[PIAS_KEY_LEN];
	struct pias_err e = {};
	char path[32], msg[PIAS_ERR_LEN];
	int i;

	(void)state;
	for (i = 0; i < PIAS_KEY_LEN; i++)
		want[i] = i;
	write_tmp(path, HEX_A);
	assert_int_equal(pias_key_read_file(path, k, &e), 0);
	assert_memory_equal(k, want, PIAS_KEY_LEN);
	unlink(path);
	write_tmp(path, "\n\t  " HEX_A " \r\n\n");
	assert_int_equal(pias_key_read_file(path, k, &e), 0);
	assert_memory_equal(k, want, PIAS_KEY_LEN);
	unlink(path);

	memset(k, 0x77, sizeof(k));
	memcpy(before, k, sizeof(k));
#define BAD_FILE(text, why)                                                                        \
	do {                                                                                       \
		write_tmp(path, text);                                                             \
		assert_int_equal(pias_key_read_file(path, k, &e), -EINVAL);                        \
		snprintf(msg, sizeof(msg), "%s: %s", path, why);                                   \
		assert_string_equal(e.msg, msg);                                                   \
		assert_memory_equal(k, before, sizeof(k));                                         \
		unlink(path);                                                                      \
	} while (0)
	BAD_FILE("", "0 hex digits, expected 64");
	BAD_FILE("  \n", "0 hex digits, expected 64");
	BAD_FILE(HEX_A HEX_A, "128 hex digits, expected 64");
	BAD_FILE(HEX_A " " HEX_A, "character 65 is not a hex digit (expected 64 hex digits)");
	BAD_FILE("0x" HEX_A, "character 2 is not a hex digit (expected 64 hex digits)");
	BAD_FILE("[keys]\n1 = " HEX_A "\n",
		 "character 1 is not a hex digit (expected 64 hex digits)");
	{
		char big[1024];

		memset(big, '0', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		BAD_FILE(big, "too long for one key of 64 hex digits");
	}
#undef BAD_FILE
	assert_int_equal(pias_key_read_file("/nonexistent/key", k, &e), -ENOENT);
	assert_msg_has(e.msg, "/nonexistent/key: cannot open");
}

static void test_hex(void **state)
{
	__u8 k[PIAS_KEY_LEN], k2[PIAS_KEY_LEN];
	char hex[2 * PIAS_KEY_LEN + 1];
	struct pias_err e = {};

	(void)state;
	assert_int_equal(pias_key_from_hex(HEX_B, k, &e), 0);
	assert_int_equal(k[0], 0xff);
	assert_int_equal(k[31], 0x00);
	pias_key_to_hex(k, hex);
	assert_string_equal(hex,
			    "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100");
	assert_int_equal(pias_key_from_hex(hex, k2, &e), 0);
	assert_memory_equal(k, k2, PIAS_KEY_LEN);

	memcpy(k2, k, sizeof(k));
	assert_int_equal(pias_key_from_hex("abc", k, &e), -EINVAL);
	assert_string_equal(e.msg, "key: 3 hex digits, expected 64");
	assert_int_equal(pias_key_from_hex(HEX_A "00", k, &e), -EINVAL);
	assert_int_equal(pias_key_from_hex("g" HEX_A, k, &e), -EINVAL);
	assert_string_equal(e.msg, "key: character 1 is not a hex digit (expected 64 hex digits)");
	assert_int_equal(pias_key_from_hex("", k, &e), -EINVAL);
	assert_memory_equal(k, k2, PIAS_KEY_LEN); /* untouched on failure */
}

static void test_generate(void **state)
{
	__u8 a[PIAS_KEY_LEN], b[PIAS_KEY_LEN], zero[PIAS_KEY_LEN] = {};

	(void)state;
	pias_key_generate(a);
	pias_key_generate(b);
	assert_memory_not_equal(a, b, PIAS_KEY_LEN);
	assert_memory_not_equal(a, zero, PIAS_KEY_LEN);
}

static void test_token(void **state)
{
	__u8 m1[PIAS_KEY_LEN], m2[PIAS_KEY_LEN], t1[PIAS_KEY_LEN], t2[PIAS_KEY_LEN];
	__u8 t3[PIAS_KEY_LEN], t4[PIAS_KEY_LEN], t5[PIAS_KEY_LEN], want[PIAS_KEY_LEN];
	__u8 in[19 + PIAS_MSG_TA_LEN];
	struct pias_ta ta = { .family = PIAS_AF_INET, .proto = PIAS_PROTO_UDP, .port = 53 };
	struct pias_ta ta2;
	struct pias_err e;

	(void)state;
	assert_int_equal(pias_key_from_hex(HEX_A, m1, &e), 0);
	assert_int_equal(pias_key_from_hex(HEX_B, m2, &e), 0);
	ta.addr.bytes[0] = 203;
	ta.addr.bytes[3] = 10;

	/* Deterministic. */
	pias_token_derive(m1, &ta, t1);
	pias_token_derive(m1, &ta, t2);
	assert_memory_equal(t1, t2, PIAS_KEY_LEN);
	/* Exactly HMAC-SHA-512-256(master, label || TA on the wire). */
	memcpy(in, "PIAS group token v1", 19);
	in[19] = PIAS_AF_INET;
	in[20] = PIAS_PROTO_UDP;
	in[21] = 0;
	in[22] = 53;
	memset(in + 23, 0, 16);
	in[23] = 203;
	in[26] = 10;
	assert_int_equal(sizeof(in), 39);
	crypto_auth_hmacsha512256(want, in, sizeof(in), m1);
	assert_memory_equal(t1, want, PIAS_KEY_LEN);
	/* Per master key. */
	pias_token_derive(m2, &ta, t3);
	assert_memory_not_equal(t1, t3, PIAS_KEY_LEN);
	/* Per TA: port, protocol, address. */
	ta2 = ta;
	ta2.port = 54;
	pias_token_derive(m1, &ta2, t4);
	assert_memory_not_equal(t1, t4, PIAS_KEY_LEN);
	ta2 = ta;
	ta2.proto = PIAS_PROTO_TCP;
	pias_token_derive(m1, &ta2, t5);
	assert_memory_not_equal(t1, t5, PIAS_KEY_LEN);
	ta2 = ta;
	ta2.addr.bytes[3] = 11;
	pias_token_derive(m1, &ta2, t5);
	assert_memory_not_equal(t1, t5, PIAS_KEY_LEN);
	ta2 = ta;
	ta2.family = PIAS_AF_INET6;
	pias_token_derive(m1, &ta2, t5);
	assert_memory_not_equal(t1, t5, PIAS_KEY_LEN);
}

/* A target's REGISTER MACed with its token verifies at the JAP, not with another TA's. */
static void test_token_register(void **state)
{
	static __u8 buf[PIAS_MSG_MAX];
	struct pias_msg *m = calloc(1, sizeof(*m)), *d = calloc(1, sizeof(*m));
	__u8 master[PIAS_KEY_LEN], tok[PIAS_KEY_LEN], other[PIAS_KEY_LEN];
	struct pias_err e;
	int len;

	(void)state;
	assert_non_null(m);
	assert_non_null(d);
	pias_key_generate(master);
	m->hdr.type = PIAS_MSG_REGISTER;
	m->hdr.seq = 1700000000000000000ull;
	m->reg.ta.family = PIAS_AF_INET6;
	m->reg.ta.proto = PIAS_PROTO_TCP;
	m->reg.ta.port = 443;
	m->reg.ta.addr.bytes[0] = 0x20;
	m->reg.family = PIAS_AF_INET;
	m->reg.port = 8443;
	m->reg.weight = 1;
	pias_token_derive(master, &m->reg.ta, tok);
	len = pias_msg_encode(m, tok, buf, sizeof(buf), &e);
	assert_true(len > 0);
	/* The JAP: decode, derive the token of the claimed TA, verify. */
	assert_int_equal(pias_msg_decode(buf, len, d, &e), 0);
	pias_token_derive(master, &d->reg.ta, other);
	assert_true(pias_msg_mac_ok(buf, len, other));
	d->reg.ta.port = 444;
	pias_token_derive(master, &d->reg.ta, other);
	assert_false(pias_msg_mac_ok(buf, len, other));
	free(m);
	free(d);
}

int test_keys(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tun_tags),
		cmocka_unit_test(test_ring_good),
		cmocka_unit_test(test_ring_bad),
		cmocka_unit_test(test_ring_no_secret_in_errors),
		cmocka_unit_test(test_ring_missing_file),
		cmocka_unit_test(test_key_file),
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_generate),
		cmocka_unit_test(test_token),
		cmocka_unit_test(test_token_register),
	};

	return cmocka_run_group_tests_name("keys", tests, NULL, NULL);
}
