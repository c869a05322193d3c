// SPDX-License-Identifier: MIT
/* keygen, keyring, token: the keys an operator hands out (daemon/keys.h). */
#include <sodium.h>
#include <stdint.h>

#include "addr.h"
#include "piasctl.h"

static int run_keygen(struct cli *c, int argc, char **argv)
{
	char hex[2 * PIAS_KEY_LEN + 1], *pos[CLI_MAX_POS];
	__u8 key[PIAS_KEY_LEN];
	int npos, r;

	if ((r = pctl_parse(c, argc, argv, NULL, pos, &npos)))
		return r < 0 ? EXIT_OK : r;
	if ((r = cli_npos(c, npos, 0, 0)))
		return r;
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

static int run_keyring(struct cli *c, int argc, char **argv)
{
	struct cli_opt o[] = { [O_ID] = OPT_VALUE("--id"), OPT_END };
	char hex[2 * PIAS_KEY_LEN + 1], *pos[CLI_MAX_POS];
	__u8 key[PIAS_KEY_LEN];
	int npos, r;
	__u32 id;

	if ((r = pctl_parse(c, argc, argv, o, pos, &npos)))
		return r < 0 ? EXIT_OK : r;
	if ((r = cli_npos(c, npos, 0, 0)))
		return r;
	if (!o[O_ID].seen)
		return cli_bad(c, "--id N is required (the key's id, 1-%u)", UINT32_MAX);
	if ((r = cli_u32(c, "--id", o[O_ID].value, 1, UINT32_MAX, &id)))
		return r;
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

static int run_token(struct cli *c, int argc, char **argv)
{
	struct cli_opt o[] = {
		[O_KEYFILE] = OPT_VALUE("--group-key-file"), [O_TA] = OPT_VALUE("--ta"), OPT_END
	};
	char hex[2 * PIAS_KEY_LEN + 1], *pos[CLI_MAX_POS];
	__u8 master[PIAS_KEY_LEN], token[PIAS_KEY_LEN];
	struct pias_err e;
	struct pias_ta ta;
	int npos, r;

	if ((r = pctl_parse(c, argc, argv, o, pos, &npos)))
		return r < 0 ? EXIT_OK : r;
	if ((r = cli_npos(c, npos, 0, 0)))
		return r;
	if (!o[O_KEYFILE].seen)
		return cli_bad(c, "--group-key-file FILE is required");
	if (!o[O_TA].seen)
		return cli_bad(c, "--ta TA is required (like udp:203.0.113.1:53)");
	if (pias_ta_parse(o[O_TA].value, &ta, &e))
		return cli_bad(c, "--ta: %s", e.msg);
	/* a file that is missing or holds no key is the environment's fault: 1 */
	if (pias_key_read_file(o[O_KEYFILE].value, master, &e))
		return cli_fail(c, "--group-key-file: %s", e.msg);
	pias_token_derive(master, &ta, token);
	pias_key_to_hex(token, hex);
	printf("%s\n", hex);
	sodium_memzero(master, sizeof(master));
	sodium_memzero(token, sizeof(token));
	sodium_memzero(hex, sizeof(hex));
	return EXIT_OK;
}

const struct cmd cmd_keygen = {
	.name = "keygen",
	.args = "",
	.summary = "print a fresh random key as 64 hex digits",
	.help = "A key file (overlay key, group master key, token) holds one such line.\n",
	.run = run_keygen,
};

const struct cmd cmd_keyring = {
	.name = "keyring",
	.args = "--id N",
	.summary = "print a key ring file with one fresh key, N, to send with",
	.help = "  --id N   the key's id, 1-4294967295; peers name the key by it\n\n"
		"To rotate, add a new key to every proxy's ring and reload (piasctl keys\n"
		"reload), then make it `send` everywhere, then drop the old one.\n",
	.run = run_keyring,
};

const struct cmd cmd_token = {
	.name = "token",
	.args = "--group-key-file FILE --ta TA",
	.summary = "print the registration token of a group (give it to the group's targets)",
	.help = "  --group-key-file FILE   the group master key piasd holds (64 hex digits)\n"
		"  --ta TA                 the group, like udp:203.0.113.1:53\n\n"
		"Targets of TA prove they may join by MACing REGISTER with this token;\n"
		"write it to the file `target join --token-file` reads.\n",
	.run = run_token,
};
