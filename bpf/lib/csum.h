/* SPDX-License-Identifier: MIT */
/*
 * Internet checksum helpers (RFC 1071, incremental updates per RFC 1624).
 * Values are taken as raw memory words; the one's complement sum does not
 * care about byte order as long as checksum and data are read alike.
 */
#ifndef PIAS_BPF_CSUM_H
#define PIAS_BPF_CSUM_H

#include "defs.h"

static __always_inline __u16 csum_fold(__u64 s)
{
	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)~s;
}

/* Adds the two 16-bit halves of a 32-bit word. */
static __always_inline __u32 csum_word32(__u32 w)
{
	return (w & 0xffff) + (w >> 16);
}

/* *sum covers a 32-bit field that changes from 'from' to 'to'. */
static __always_inline void csum_replace4(__u16 *sum, __u32 from, __u32 to)
{
	__u32 s = (__u16) ~*sum;

	s += csum_word32(~from) + csum_word32(to);
	*sum = csum_fold(s);
}

static __always_inline void csum_replace2(__u16 *sum, __u16 from, __u16 to)
{
	__u32 s = (__u16) ~*sum;

	s += (__u16)~from + to;
	*sum = csum_fold(s);
}

static __always_inline void csum_replace16(__u16 *sum, const __u32 *from, const __u32 *to)
{
	__u32 s = (__u16) ~*sum;

	s += csum_word32(~from[0]) + csum_word32(to[0]);
	s += csum_word32(~from[1]) + csum_word32(to[1]);
	s += csum_word32(~from[2]) + csum_word32(to[2]);
	s += csum_word32(~from[3]) + csum_word32(to[3]);
	*sum = csum_fold(s);
}

/*
 * Checksum of a 20-byte IPv4 header given as its five raw 32-bit words
 * (check field 0), summed in registers: a header just written and read
 * back would stall its loads on the stores of smaller fields.
 */
static __always_inline __u16 csum_ipv4_words(const __u32 w[5])
{
	return csum_fold((__u64)csum_word32(w[0]) + csum_word32(w[1]) + csum_word32(w[2]) +
			 csum_word32(w[3]) + csum_word32(w[4]));
}

/*
 * Writes a 20-byte IPv4 header given as its five raw words (check 0) at
 * hdr, with its checksum: stores only, nothing read back.
 */
static __always_inline void ipv4_hdr_put(void *hdr, const __u32 w[5])
{
	__u32 *hw = hdr;

	hw[0] = w[0];
	hw[1] = w[1];
	hw[2] = w[2];
	hw[3] = w[3];
	hw[4] = w[4];
	((struct iphdr *)hdr)->check = csum_ipv4_words(w);
}

/* Full checksum of a 20-byte IPv4 header (its check field must be 0). */
static __always_inline __u16 csum_ipv4_hdr(const void *hdr)
{
	const __u16 *w = hdr;
	__u32 s = 0;

#pragma unroll
	for (int i = 0; i < 10; i++)
		s += w[i];
	return csum_fold(s);
}

#endif
