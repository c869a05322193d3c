/* SPDX-License-Identifier: MIT */
/*
 * What the libFuzzer harnesses share. Each fuzz_*.c defines
 * LLVMFuzzerTestOneInput; a broken promise aborts (FUZZ_CHECK), which
 * libFuzzer reports as a crash with the input that caused it.
 */
#ifndef PIAS_FUZZ_H
#define PIAS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define FUZZ_CHECK(cond, ...)                                                                      \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz: %s:%d: %s: ", __FILE__, __LINE__, #cond);           \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* data as a NUL-terminated string (malloc'd; the caller frees). */
char *fuzz_string(const uint8_t *data, size_t size);

/*
 * data as the contents of a file, for parsers that take a path: a memfd,
 * named "/proc/self/fd/N" in path (at least 32 bytes). Returns the fd to
 * close, or -1.
 */
int fuzz_file(const uint8_t *data, size_t size, char *path, size_t len);

#endif
