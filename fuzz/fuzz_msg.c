// SPDX-License-Identifier: MIT
/*
 * The control-message codec (daemon/msg.c), as piasd meets datagrams:
 * header, MAC, body. Each input is tried twice: as the whole datagram
 * (MAC and all, as anyone can send it) and as header and body with a valid
 * MAC appended (as a proxy holding the key, or a target holding a token,
 * can send it), so that the body decoder is reached whatever the MAC.
 * Whatever decodes must encode again, to the same bytes (the encoding is
 * canonical; VIEW pages to the same decoded page, zlib may pack them
 * otherwise) and to a datagram the decoder takes back unchanged. The
 * corpus has a seed of each kind, the batches (REPORTS, REG_BATCH,
 * REG_BATCH_ACK) among them; a batch's entries also go through the tag
 * check a JAP and an agent make of them.
 */
#include <string.h>

#include <sodium.h>

#include "fuzz.h"
#include "msg.h"

static const __u8 key[PIAS_KEY_LEN] = { 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
					7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7 };

static struct pias_msg m1, m2; /* 11 KB each: not on the stack */
static __u8 out[PIAS_MSG_VIEW_MAX], dgram[PIAS_MSG_VIEW_MAX + PIAS_MSG_MAC_LEN];

/* What a JAP does with a REG_BATCH's entries and an agent with a REG_BATCH_ACK's. */
static void batch_tags(const struct pias_msg *m)
{
	struct pias_msg_register reg = { .family = PIAS_AF_INET, .weight = 1 };
	__u8 tag[PIAS_MSG_TAG_LEN];
	__u32 n = 0;

	if (m->hdr.type == PIAS_MSG_REG_BATCH)
		n = m->batch.n;
	else if (m->hdr.type == PIAS_MSG_REG_BATCH_ACK)
		n = m->batch_ack.n;
	for (__u32 i = 0; i < n; i++) {
		if (m->hdr.type == PIAS_MSG_REG_BATCH) {
			reg.ta = m->batch.e[i].ta;
			pias_msg_batch_tag(key, m->hdr.seq, m->batch.jap_id,
					   m->batch.e[i].target_id, &reg, tag);
			(void)pias_msg_tag_eq(tag, m->batch.e[i].tag);
		} else {
			pias_msg_batch_ack_tag(key, m->batch_ack.echo_seq, 1,
					       m->batch_ack.refresh_ms, &reg.ta, i + 1,
					       m->batch_ack.e[i].status, tag);
			(void)pias_msg_tag_eq(tag, m->batch_ack.e[i].tag);
		}
	}
}

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
	batch_tags(&m1);
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
