// SPDX-License-Identifier: MIT
/*
 * piasctl's registration file (tools/piasctl/reg_file.c): a file that
 * loads holds at least one registration, each with a valid TA, an
 * endpoint of its family and a positive weight; a bad one is refused with
 * FILE:LINE (checked by the unit and namespace tests; here: no crash, no
 * leak). Token files are looked up in a scratch directory holding one
 * valid token, "tok".
 */
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "piasctl.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);

static char dir[] = "/tmp/pias-fuzz-regfile.XXXXXX";

/* libFuzzer ends with exit(): the scratch directory goes with it */
static void cleanup(void)
{
	char tok[sizeof(dir) + 4];

	snprintf(tok, sizeof(tok), "%s/tok", dir);
	unlink(tok);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	FILE *f;

	(void)argc;
	(void)argv;
	if (!mkdtemp(dir) || chdir(dir))
		abort();
	atexit(cleanup);
	f = fopen("tok", "w");
	if (!f)
		abort();
	fprintf(f, "%064x\n", 7);
	fclose(f);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cli c = { .prog = "piasctl" };
	struct agent_reg *regs = NULL;
	char path[64];
	size_t n = 0;
	int fd;

	/* a line naming /dev/stdin or a FIFO as its token file would wait */
	if (memchr(data, '/', size))
		return 0;
	fd = fuzz_file(data, size, path, sizeof(path));
	if (fd < 0)
		return 0;
	if (!reg_file_read(&c, path, NULL, 0, 0, &regs, &n)) {
		FUZZ_CHECK(n >= 1 && regs, "loaded with %zu registrations", n);
		for (size_t i = 0; i < n; i++) {
			struct pias_err e;

			FUZZ_CHECK(!pias_ta_check(&regs[i].tgt.ta, &e), "line %zu: %s", i, e.msg);
			FUZZ_CHECK(regs[i].tgt.family == regs[i].tgt.ta.family &&
					   regs[i].tgt.weight > 0 && regs[i].tgt.port,
				   "registration %zu", i);
		}
		free(regs);
	}
	close(fd);
	return 0;
}
