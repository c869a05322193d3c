// SPDX-License-Identifier: MIT
/* The control socket's request line: see ctl_line.h. */
#include <errno.h>

#include "ctl_line.h"
#include "ctl_proto.h"

int pias_ctl_split(char *line, size_t len, char *words[PIAS_CTL_WORDS_MAX], struct pias_err *e)
{
	int n = 0;

	if (len >= PIAS_CTL_REQUEST_MAX)
		return pias_err_set(e, -E2BIG, "request longer than %d bytes",
				    PIAS_CTL_REQUEST_MAX);
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)line[i];

		if (ch < 0x20 || ch == 0x7f)
			return pias_err_set(e, -EINVAL,
					    "control character 0x%02x at byte %zu of the request",
					    ch, i);
	}
	for (size_t i = 0; i < len;) {
		while (i < len && line[i] == ' ')
			line[i++] = '\0';
		if (i == len)
			break;
		if (n == PIAS_CTL_WORDS_MAX)
			return pias_err_set(e, -E2BIG, "more than %d words", PIAS_CTL_WORDS_MAX);
		words[n++] = &line[i];
		while (i < len && line[i] != ' ')
			i++;
	}
	return n;
}
