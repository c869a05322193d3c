// SPDX-License-Identifier: MIT
/* piasd's config file (daemon/config.c): a bad one names the line at fault. */
#include <string.h>

#include "config.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct piasd_config cfg;
	struct pias_err e = { "" };
	char *text = fuzz_string(data, size);

	if (piasd_config_load_string("fuzz.conf", text, &cfg, &e))
		FUZZ_CHECK(!strncmp(e.msg, "fuzz.conf", 9) && strlen(e.msg) > 10,
			   "an error that does not name the file: '%s'", e.msg);
	free(text);
	return 0;
}
