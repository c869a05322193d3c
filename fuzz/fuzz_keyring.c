// SPDX-License-Identifier: MIT
/*
 * The overlay key ring (daemon/keys.c): a ring that loads has a send key
 * among its keys; an error names FILE:LINE and never shows key material
 * (no 64 hex digits of the file, wherever they stand).
 */
#include <ctype.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "keys.h"

/*
 * Does msg show a key: any run of 64 hex digits found anywhere in the file?
 * A key pasted where a section or a name should be is key material too, so
 * the loader echoes only names it knows (send, key ids).
 */
static bool shows_key(const char *msg, const char *file)
{
	int run = 0;

	for (const char *p = file; *p; p++) {
		run = isxdigit((unsigned char)*p) ? run + 1 : 0;
		if (run >= 2 * PIAS_KEY_LEN) {
			char key[2 * PIAS_KEY_LEN + 1];

			memcpy(key, p - 2 * PIAS_KEY_LEN + 1, 2 * PIAS_KEY_LEN);
			key[2 * PIAS_KEY_LEN] = '\0';
			if (strstr(msg, key))
				return true;
		}
	}
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pias_keyring kr = {};
	struct pias_err e = { "" };
	char path[64];
	__u32 id = 0;
	int fd = fuzz_file(data, size, path, sizeof(path));
	char *text;

	if (fd < 0)
		return 0;
	text = fuzz_string(data, size);
	if (pias_keyring_load(path, &kr, &e)) {
		FUZZ_CHECK(!strncmp(e.msg, path, strlen(path)), "error without the file: %s",
			   e.msg);
		FUZZ_CHECK(!shows_key(e.msg, text), "an error shows key material: %s", e.msg);
	} else {
		FUZZ_CHECK(kr.n >= 1 && kr.n <= PIAS_KEYRING_MAX, "%zu keys", kr.n);
		FUZZ_CHECK(pias_keyring_send(&kr, &id) && id == kr.send_id, "no send key");
		for (size_t i = 0; i < kr.n; i++)
			FUZZ_CHECK(kr.keys[i].id && pias_keyring_find(&kr, kr.keys[i].id),
				   "key %zu", i);
	}
	free(text);
	close(fd);
	return 0;
}
