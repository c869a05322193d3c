// SPDX-License-Identifier: MIT
/*
 * The control-message codec (daemon/msg.c), as piasd meets datagrams:
 * header, MAC, body. Each input is tried twice: as the whole datagram
 * (MAC and all, as anyone can send it) and as header and body with a valid
 * MAC appended (as a proxy holding the key, or a target holding a token,
 * can send it), so that the body decoder is reached whatever the MAC.
 * Whatever decodes must encode again, to the same bytes (the encoding is
 * canonical; VIEW pages to the same decoded page, zlib may pack them
 * otherwise) and to a datagram the decoder takes back unchanged.
 */
#include <string.h>

#include <sodium.h>

#include "fuzz.h"
#include "msg.h"

static const __u8 key[PIAS_KEY_LEN] = { 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
					7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7 };

static struct pias_msg m1, m2; /* 11 KB each: not on the stack */
static __u8 out[PIAS_MSG_VIEW_MAX], dgram[PIAS_MSG_VIEW_MAX + PIAS_MSG_MAC_LEN];

static void one(const __u8 *buf, size_t len)
{
	struct pias_msg_hdr h;
	struct pias_err e;
	int n;

	if (pias_msg_header(buf, len, &h, &e))
		return;
	(void)pias_msg_mac_ok(buf, len, key);
	if (pias_msg_decode(buf, len, &m1, &e))
		return;
	FUZZ_CHECK(m1.hdr.type == h.type && m1.hdr.seq == h.seq, "header and decode disagree");
	n = pias_msg_encode(&m1, key, out, sizeof(out), &e);
	FUZZ_CHECK(n > 0, "a decoded %s does not encode: %s", pias_msg_type_name(m1.hdr.type),
		   e.msg);
	FUZZ_CHECK(pias_msg_mac_ok(out, (size_t)n, key), "encoded MAC");
	FUZZ_CHECK(pias_msg_decode(out, (size_t)n, &m2, &e) == 0, "re-decode: %s", e.msg);
	FUZZ_CHECK(!memcmp(&m1, &m2, sizeof(m1)), "%s: decode(encode(m)) != m",
		   pias_msg_type_name(m1.hdr.type));
	if (m1.hdr.type != PIAS_MSG_VIEW)
		FUZZ_CHECK((size_t)n == len && !memcmp(out, buf, len - PIAS_MSG_MAC_LEN),
			   "%s: %zu bytes re-encode to %d other bytes",
			   pias_msg_type_name(m1.hdr.type), len, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > PIAS_MSG_VIEW_MAX)
		return 0;
	one(data, size);
	/* header and body as given, then the MAC that makes them verify */
	memcpy(dgram, data, size);
	crypto_auth(dgram + size, dgram, size, key);
	one(dgram, size + PIAS_MSG_MAC_LEN);
	return 0;
}
