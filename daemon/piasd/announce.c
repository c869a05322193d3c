// SPDX-License-Identifier: MIT
/*
 * Announcing the anycast prefixes only while this proxy can serve: joined
 * to the overlay, not withdrawn by the operator, its dataplane attached to
 * every configured interface, and not cut off from every other proxy. On a change piasd runs the operator's
 * `[anycast] announce_command` with "announce" or "withdraw" (typically it
 * toggles the BGP speaker's static route), asynchronously so the loop never
 * waits on it; a command that fails is run again a second later.
 */
#include <errno.h>
#include <net/if.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "piasd.h"

#define CHECK_NS 1000000000ull /* how often serving is re-evaluated */

extern char **environ;

static bool dataplane_attached(const struct piasd *d)
{
	for (size_t i = 0; i < d->cfg.n_interfaces; i++) {
		int ifindex = (int)if_nametoindex(d->cfg.interfaces[i]);
		__u32 id = 0;

		if (!ifindex || bpf_xdp_query_id(ifindex, 0, &id) || !id)
			return false;
	}
	return true;
}

/*
 * Cut off: other proxies are known and all of them are DEAD to us. Then
 * this proxy is alone on its side of a partition (or its own uplink is
 * broken): it would be the RAP of every group and know no target but its
 * own, so clients that BGP brings here would be dropped until the overlay
 * merges again. A proxy that never heard of another (a one-proxy site)
 * or whose peers all LEFT is not cut off.
 */
static bool cut_off(const struct piasd *d)
{
	return pias_members_alive(&d->node.members) <= 1 &&
	       pias_members_count_state(&d->node.members, PIAS_MEMBER_DEAD) > 0;
}

static pid_t run_hook_cfg(const struct piasd_config *cfg, const char *verb)
{
	char cmd[PATH_MAX + 16], id[16];
	char *argv[] = { "/bin/sh", "-c", cmd, NULL };
	pid_t pid;

	snprintf(cmd, sizeof(cmd), "%s %s", cfg->announce_command, verb);
	snprintf(id, sizeof(id), "%u", cfg->node_id);
	setenv("PIAS_PROXY_ID", id, 1);
	if (posix_spawn(&pid, "/bin/sh", NULL, NULL, argv, environ)) {
		LOG_W("announce_command could not start: %s", cmd);
		return -1;
	}
	return pid;
}

static pid_t run_hook(struct piasd *d, const char *verb)
{
	return run_hook_cfg(&d->cfg, verb);
}

int piasd_withdraw_now(const struct piasd_config *cfg)
{
	pid_t pid;
	int status;

	if (!cfg->announce_command[0])
		return 0;
	pid = run_hook_cfg(cfg, "withdraw");
	for (int i = 0; pid > 0 && i < 100; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
		usleep(100000);
	}
	if (pid > 0)
		kill(pid, SIGKILL);
	return 1;
}

/* Called every tick: reap a finished command, then act on a change. */
void piasd_announce_tick(struct piasd *d, __u64 now)
{
	bool want, isolated;
	int status;

	if (d->announce_pid > 0) {
		pid_t r = waitpid(d->announce_pid, &status, WNOHANG);

		if (r == 0)
			return; /* still running */
		d->announce_pid = 0;
		if (r > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
			d->announced = d->announce_want;
			LOG_I("anycast prefixes %s", d->announced ? "announced" : "withdrawn");
		} else {
			LOG_W("announce_command %s failed (status %d); again in 1 s",
			      d->announce_want ? "announce" : "withdraw", status);
		}
	}
	if (now - d->announce_checked_ns < CHECK_NS && d->announce_checked_ns)
		return;
	d->announce_checked_ns = now;
	isolated = cut_off(d);
	if (isolated != d->isolated)
		LOG_I(isolated ? "cut off: every other proxy is dead to us; not serving"
			       : "in touch with other proxies again");
	d->isolated = isolated;
	want = pias_node_ready(&d->node) && !d->withdrawn && dataplane_attached(d) && !isolated;
	d->serving = want;
	if (!d->cfg.announce_command[0] || (d->announce_known && want == d->announced))
		return;
	d->announce_want = want;
	d->announce_pid = run_hook(d, want ? "announce" : "withdraw");
	if (d->announce_pid > 0)
		d->announce_known = true;
}

/* Shutdown: withdraw and wait for it (bounded), so the route goes with us. */
void piasd_announce_stop(struct piasd *d)
{
	pid_t pid;
	int status;

	if (d->announce_pid > 0)
		waitpid(d->announce_pid, &status, 0);
	d->announce_pid = 0;
	if (!d->cfg.announce_command[0] || (d->announce_known && !d->announced))
		return;
	pid = run_hook(d, "withdraw");
	for (int i = 0; pid > 0 && i < 50; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid) {
			LOG_I("anycast prefixes withdrawn");
			return;
		}
		usleep(100000);
	}
	if (pid > 0) {
		LOG_W("announce_command withdraw did not finish in 5 s; left running");
	}
}
