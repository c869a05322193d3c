// SPDX-License-Identifier: MIT
/*
 * The control socket's request line (daemon/ctl_line.c): split into at
 * most PIAS_CTL_WORDS_MAX non-empty words without spaces or control
 * characters, which joined by single spaces give the line with its runs
 * of spaces collapsed and its ends trimmed.
 */
#include <string.h>

#include "ctl_line.h"
#include "ctl_proto.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line = fuzz_string(data, size), *orig = fuzz_string(data, size);
	char *words[PIAS_CTL_WORDS_MAX], *joined = calloc(1, size + 1), *want = calloc(1, size + 1);
	struct pias_err e = { "" };
	size_t j = 0, k = 0;
	int n = pias_ctl_split(line, size, words, &e);

	FUZZ_CHECK(joined && want, "memory");
	if (n < 0) {
		FUZZ_CHECK(e.msg[0], "an error without a message");
		goto out;
	}
	FUZZ_CHECK(n <= PIAS_CTL_WORDS_MAX && size < PIAS_CTL_REQUEST_MAX, "%d words", n);
	for (int i = 0; i < n; i++) {
		size_t l = strlen(words[i]);

		FUZZ_CHECK(l > 0, "empty word %d", i);
		for (size_t c = 0; c < l; c++)
			FUZZ_CHECK((unsigned char)words[i][c] > 0x20 && words[i][c] != 0x7f,
				   "word %d byte %zu is 0x%02x", i, c, (unsigned char)words[i][c]);
		if (i)
			joined[j++] = ' ';
		memcpy(joined + j, words[i], l);
		j += l;
	}
	for (size_t i = 0; i < size; i++) {
		if (orig[i] == ' ' && (!k || want[k - 1] == ' '))
			continue;
		want[k++] = orig[i];
	}
	if (k && want[k - 1] == ' ')
		k--;
	FUZZ_CHECK(j == k && !memcmp(joined, want, k), "'%s' split and joined is '%.*s'", orig,
		   (int)j, joined);
out:
	free(line);
	free(orig);
	free(joined);
	free(want);
	return 0;
}
