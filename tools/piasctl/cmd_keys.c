// SPDX-License-Identifier: MIT
/* keygen, keyring, token: the keys an operator hands out (daemon/keys.h). */
#include <sodium.h>
#include <stdint.h>

#include "addr.h"
#include "piasctl.h"

static int run_keygen(struct cli *c, const struct cli_args *a)
{
	char hex[2 * PIAS_KEY_LEN + 1];
	__u8 key[PIAS_KEY_LEN];

	(void)c;
	(void)a;
	pias_key_generate(key);
	pias_key_to_hex(key, hex);
	printf("%s\n", hex);
	sodium_memzero(key, sizeof(key));
	sodium_memzero(hex, sizeof(hex));
	return EXIT_OK;
}

enum {
	O_ID,
};

static const struct cli_opt keyring_opts[] = {
	[O_ID] = { "--id", CLI_U32, "N", "the key's id, 1-4294967295; peers name the key by it",
		   .min = 1, .max = UINT32_MAX, .flags = CLI_REQUIRED },
	CLI_OPT_END,
};

static int run_keyring(struct cli *c, const struct cli_args *a)
{
	char hex[2 * PIAS_KEY_LEN + 1];
	__u32 id = a->v[O_ID].n;
	__u8 key[PIAS_KEY_LEN];

	(void)c;
	pias_key_generate(key);
	pias_key_to_hex(key, hex);
	printf("[keys]\n%u = %s\nsend = %u\n", id, hex, id);
	sodium_memzero(key, sizeof(key));
	sodium_memzero(hex, sizeof(hex));
	return EXIT_OK;
}

enum {
	O_KEYFILE,
	O_TA,
};

static const struct cli_opt token_opts[] = {
	[O_KEYFILE] = { "--group-key-file", CLI_STR, "FILE",
			"the group master key piasd holds (64 hex digits)", .flags = CLI_REQUIRED },
	[O_TA] = { "--ta", CLI_TA, "TA", "the group, like udp:203.0.113.1:53",
		   .flags = CLI_REQUIRED },
	CLI_OPT_END,
};

static int run_token(struct cli *c, const struct cli_args *a)
{
	__u8 master[PIAS_KEY_LEN], token[PIAS_KEY_LEN];
	char hex[2 * PIAS_KEY_LEN + 1];
	struct pias_err e;

	/* a file that is missing or holds no key is the environment's fault: 1 */
	if (pias_key_read_file(a->v[O_KEYFILE].s, master, &e))
		return cli_fail(c, "--group-key-file: %s", e.msg);
	pias_token_derive(master, &a->v[O_TA].ta, token);
	pias_key_to_hex(token, hex);
	printf("%s\n", hex);
	sodium_memzero(master, sizeof(master));
	sodium_memzero(token, sizeof(token));
	sodium_memzero(hex, sizeof(hex));
	return EXIT_OK;
}

const struct cmd cmd_keygen = {
	.name = "keygen",
	.summary = "print a fresh random key as 64 hex digits",
	.help = "A key file (overlay key, group master key, token) holds one such line.\n",
	.run = run_keygen,
};

const struct cmd cmd_keyring = {
	.name = "keyring",
	.opts = keyring_opts,
	.summary = "print a key ring file with one fresh key, N, to send with",
	.help = "\nTo rotate, add a new key to every proxy's ring and reload (piasctl keys\n"
		"reload), then make it `send` everywhere, then drop the old one.\n",
	.run = run_keyring,
};

const struct cmd cmd_token = {
	.name = "token",
	.opts = token_opts,
	.summary = "print the registration token of a group (give it to the group's targets)",
	.help = "\nTargets of TA prove they may join by MACing REGISTER with this token;\n"
		"write it to the file `target join --token-file` reads.\n",
	.run = run_token,
};
