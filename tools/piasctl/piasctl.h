/* SPDX-License-Identifier: MIT */
/*
 * piasctl: the operator's tool for piasd. Its commands, grouped by the file
 * that implements them, and what they share: the global options, option
 * parsing by lib/cli's dispatcher (without pias-maps' --pin-root), the log
 * line.
 *
 *   main.c        the command table, global options (-s SOCKET)
 *   cmd_ctl.c     show, drain, withdraw, flush bindings, keys reload
 *   ctl_client.c  one request over piasd's control socket (daemon/ctl_proto.h)
 *   cmd_keys.c    keygen, keyring, token
 *   cmd_target.c  target join, target leave: options
 *   reg_file.c    target join --file: the registration list
 *   agent_loop.c  the registration agent (daemon/agent.h) on a UDP socket
 *   agent_health.c  --check: a checker per endpoint, rise and fall
 *   check_probe.c one check run: tcp, http, dns, exec
 *   tunnel_target.c  tunnel mode on the target host: program, filters, pins, lo
 *   lo_addr.c     addresses on lo over rtnetlink
 *   log.c         timestamped lines on stderr
 */
#ifndef PIAS_PIASCTL_H
#define PIAS_PIASCTL_H

#include <stdbool.h>
#include <sys/socket.h>

#include "addr.h"
#include "agent.h"
#include "agent_health.h"
#include "cli.h"
#include "keys.h"

#define PIASCTL "piasctl"

/* struct cli first, so that a command's struct cli * is also this. */
struct piasctl {
	struct cli cli;
	const char *socket; /* -s, $PIASD_SOCKET, or the default */
};

static inline struct piasctl *piasctl_of(struct cli *c)
{
	return (struct piasctl *)c;
}

extern const struct cmd cmd_show, cmd_drain, cmd_undrain, cmd_dial, cmd_withdraw,
	cmd_flush_bindings, cmd_keys_reload;
extern const struct cmd cmd_target_join, cmd_target_leave;
extern const struct cmd cmd_keygen, cmd_keyring, cmd_token;

/* Send line to piasd, print the answer's body; exit status. */
int ctl_request(struct cli *c, const char *line);

/* A line on stderr: "2025-01-31 12:00:00.123 piasctl: ...". */
void log_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* What `target join` and `target leave` run. */
enum agent_mode {
	AGENT_FOREVER, /* join: refresh until a signal, then leave */
	AGENT_ONCE,    /* join --once: until the first ACK */
	AGENT_LEAVE,   /* leave: until the LEAVE is acknowledged */
};

/* One registration the agent keeps: the target, its group's token, where REGISTER goes. */
struct agent_reg {
	struct pias_agent_target tgt;
	__u8 token[PIAS_KEY_LEN];
	struct sockaddr_storage reg;
	socklen_t reg_len;
	char reg_str[PIAS_ADDR_STRLEN]; /* for messages */
	struct pias_check_spec check;	/* check= on its --file line; kind 0: --check's */
};

struct agent_opts {
	enum agent_mode mode;
	struct agent_reg *regs; /* --ta: one; --file: one per line */
	size_t n;
	struct sockaddr_storage src; /* bind here if src_len */
	socklen_t src_len;
	const char *src_str;
	unsigned int timeout_s; /* ONCE, LEAVE */
	/* --mode tunnel: the target de-tunnels (tunnel_target.h) on ifname */
	bool tunnel;
	const char *ifname;
	const char *pin_dir;	 /* NULL: PIAS_TT_PIN_ROOT */
	unsigned int mtu;	 /* largest packet towards the JAP */
	struct check_opts check; /* --check: registered only while it passes */
};

int agent_run(struct cli *c, const struct agent_opts *o);

/*
 * The registrations of `target join --file FILE`, one a line:
 *
 *   TA ENDPOINT TOKEN-FILE [WEIGHT] [policy=P] [serial=N] [check=C]  # comment
 *
 * Blank lines and comments are skipped. reg_addr/reg_family/reg_port: the
 * --registration service, or reg_family 0 for each TA's own address, port
 * 6638. On success *regs (free()) holds *n >= 1 entries; on an error, a
 * "FILE:LINE: ..." message went out through cli_bad or cli_fail.
 */
int reg_file_read(struct cli *c, const char *path, const union pias_addr *reg_addr, __u8 reg_family,
		  __u16 reg_port, struct agent_reg **regs, size_t *n);

/* a (family) and port as a socket address; its length. agent_reg.c */
socklen_t agent_sockaddr(const union pias_addr *a, __u8 family, __u16 port,
			 struct sockaddr_storage *ss);

/* Fill r's registration service (the TA's own address when reg_family is 0). */
void agent_reg_service(struct agent_reg *r, const union pias_addr *reg_addr, __u8 reg_family,
		       __u16 reg_port);

#endif
