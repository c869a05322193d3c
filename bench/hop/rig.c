// SPDX-License-Identifier: MIT
/*
 * The hop benchmark's namespaces (rig.h). Built with ip(8) and sysctl(8)
 * commands that read like the plan in rig.h; XDP attachment and the
 * AF_PACKET socket that starts the loop are done by moving the calling
 * thread into a namespace with setns(2), since both resolve interface
 * indexes in the caller's namespace.
 */
#define _GNU_SOURCE
#include "rig.h"
#include "../../selftests/lib/pkt.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *const ns_role[RIG_NS_COUNT] = { "ends", "dut" };

static int run_argv(char *const argv[])
{
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return -1;
	if (!pid) {
		execvp(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/*
 * cmd in namespace ns (RIG_NS_COUNT: home). nsenter keeps the host's
 * mounts, so bpffs pins are seen; own_sys runs it under ip netns exec,
 * which mounts the namespace's own /sys (for /sys/class/net of its links).
 */
static int ns_sh(const struct rig *r, enum rig_ns ns, int own_sys, const char *cmd)
{
	char net[96];
	int rc;

	if (ns == RIG_NS_COUNT) {
		char *argv[] = { "sh", "-c", (char *)cmd, NULL };

		rc = run_argv(argv);
	} else if (own_sys) {
		char *argv[] = { "ip", "netns", "exec",	     (char *)r->ns[ns],
				 "sh", "-c",	(char *)cmd, NULL };

		rc = run_argv(argv);
	} else {
		snprintf(net, sizeof(net), "--net=/run/netns/%s", r->ns[ns]);
		char *argv[] = { "nsenter", net, "sh", "-c", (char *)cmd, NULL };

		rc = run_argv(argv);
	}
	if (rc)
		fprintf(stderr, "pias-hop: '%s'%s%s: exit %d\n", cmd,
			ns < RIG_NS_COUNT ? " in " : "", ns < RIG_NS_COUNT ? r->ns[ns] : "", rc);
	return rc;
}

int rig_sh(const struct rig *r, enum rig_ns ns, const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return ns_sh(r, ns, 0, cmd);
}

int rig_enter(const struct rig *r, enum rig_ns ns)
{
	int fd = ns == RIG_NS_COUNT ? r->home_fd : r->ns_fd[ns];

	if (setns(fd, CLONE_NEWNET)) {
		fprintf(stderr, "pias-hop: setns: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

#define GEN_MAC	    "02:00:00:00:00:0a"
#define DUT_IN_MAC  "02:00:00:00:00:01"
#define DUT_OUT_MAC "02:00:00:00:01:01"
#define SINK_MAC    "02:00:00:00:01:02"
#define SYSCTL_HOST "sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv4.conf.all.rp_filter=0"

static int build(struct rig *r)
{
	const char *e = r->ns[RIG_ENDS], *d = r->ns[RIG_DUT];

	for (int i = 0; i < RIG_NS_COUNT; i++)
		if (rig_sh(r, RIG_NS_COUNT, "ip netns add %s", r->ns[i]))
			return -1;
	r->up = 1;
	if (rig_sh(r, RIG_NS_COUNT,
		   "ip link add name hg0 netns %s address " GEN_MAC " type veth peer name hd0 "
		   "netns %s address " DUT_IN_MAC,
		   e, d) ||
	    rig_sh(r, RIG_NS_COUNT,
		   "ip link add name hd1 netns %s address " DUT_OUT_MAC " type veth peer name hs0 "
		   "netns %s address " SINK_MAC,
		   d, e))
		return -1;
	/* no IPv6 (no router solicitations or MLD in the counts), no rp_filter */
	if (rig_sh(r, RIG_ENDS,
		   SYSCTL_HOST "; ip link set lo up; ip addr add " RIG_GEN_ADDR "/24 dev hg0; "
			       "ip link set hg0 up; ip addr add " RIG_SINK_ADDR "/24 dev hs0; "
			       "ip link set hs0 up") ||
	    rig_sh(r, RIG_DUT,
		   SYSCTL_HOST
		   " net.ipv4.conf.default.rp_filter=0 net.ipv4.ip_forward=1; "
		   "ip link set lo up; "
		   "ip addr add " RIG_DUT_IN_ADDR "/24 dev hd0; ip link set hd0 up; "
		   "ip addr add " RIG_DUT_OUT "/24 dev hd1; ip link set hd1 up; "
		   "ip neigh replace " RIG_GEN_ADDR " lladdr " GEN_MAC " dev hd0 nud permanent; "
		   "ip neigh replace " RIG_SINK_ADDR " lladdr " SINK_MAC " dev hd1 nud permanent; "
		   "ip neigh replace " RIG_TARGET_ADDR " lladdr " SINK_MAC
		   " dev hd1 nud permanent; "
		   "ip route add " RIG_CLIENTS " via " RIG_SINK_ADDR " dev hd1"))
		return -1;
	return 0;
}

static int open_ns(struct rig *r)
{
	char path[128];

	for (int i = 0; i < RIG_NS_COUNT; i++) {
		snprintf(path, sizeof(path), "/run/netns/%s", r->ns[i]);
		r->ns_fd[i] = open(path, O_RDONLY | O_CLOEXEC);
		if (r->ns_fd[i] < 0) {
			fprintf(stderr, "pias-hop: %s: %s\n", path, strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* The interface's index in namespace ns, or 0. */
static int ifindex_in(struct rig *r, enum rig_ns ns, const char *name)
{
	int i;

	if (rig_enter(r, ns))
		return 0;
	i = (int)if_nametoindex(name);
	rig_enter(r, RIG_NS_COUNT);
	if (!i)
		fprintf(stderr, "pias-hop: no %s in %s\n", name, r->ns[ns]);
	return i;
}

int rig_up(struct rig *r, int cpu_gen, int cpu_dut)
{
	memset(r, 0, sizeof(*r));
	for (int i = 0; i < RIG_NS_COUNT; i++) {
		r->ns_fd[i] = -1;
		snprintf(r->ns[i], sizeof(r->ns[i]), "pias-hop-%d-%s", (int)getpid(), ns_role[i]);
	}
	r->cpu_gen = cpu_gen;
	r->cpu_dut = cpu_dut;
	r->home_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (r->home_fd < 0 || build(r) || open_ns(r))
		return -1;
	/* the test packet builder's parser (selftests/lib/pkt.h) */
	pkt_mac(r->gen_mac, GEN_MAC);
	pkt_mac(r->dut_in_mac, DUT_IN_MAC);
	pkt_mac(r->dut_out_mac, DUT_OUT_MAC);
	pkt_mac(r->sink_mac, SINK_MAC);
	r->gen_if = ifindex_in(r, RIG_ENDS, "hg0");
	r->dut_in = ifindex_in(r, RIG_DUT, "hd0");
	r->dut_out = ifindex_in(r, RIG_DUT, "hd1");
	r->sink_if = ifindex_in(r, RIG_ENDS, "hs0");
	return r->gen_if && r->dut_in && r->dut_out && r->sink_if ? 0 : -1;
}

void rig_down(struct rig *r)
{
	if (!r->up)
		return;
	r->up = 0;
	rig_enter(r, RIG_NS_COUNT);
	for (int i = 0; i < RIG_NS_COUNT; i++) {
		if (r->ns_fd[i] >= 0)
			close(r->ns_fd[i]);
		r->ns_fd[i] = -1;
		rig_sh(r, RIG_NS_COUNT, "ip netns del %s 2>/dev/null || true", r->ns[i]);
	}
}

/* The one kthread named napi/DEV-<id>; 0 if none or more than one. */
static pid_t napi_thread(const char *dev)
{
	char prefix[32], path[300], comm[64];
	DIR *d = opendir("/proc");
	struct dirent *de;
	pid_t found = 0;
	int n = 0;

	if (!d)
		return 0;
	snprintf(prefix, sizeof(prefix), "napi/%s-", dev);
	while ((de = readdir(d))) {
		FILE *f;

		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f) && !strncmp(comm, prefix, strlen(prefix))) {
			found = (pid_t)atoi(de->d_name);
			n++;
		}
		fclose(f);
	}
	closedir(d);
	if (n != 1) {
		fprintf(stderr, "pias-hop: %d threads napi/%s-*: %s\n", n, dev,
			n ? "another rig up?" : "threaded NAPI did not start");
		return 0;
	}
	return found;
}

static int pin(pid_t pid, int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(pid, sizeof(set), &set)) {
		fprintf(stderr, "pias-hop: pinning task %d to CPU %d: %s\n", (int)pid, cpu,
			strerror(errno));
		return -1;
	}
	return 0;
}

int rig_threads(struct rig *r)
{
	if (ns_sh(r, RIG_DUT, 1, "echo 1 > /sys/class/net/hd0/threaded") ||
	    ns_sh(r, RIG_ENDS, 1, "echo 1 > /sys/class/net/hs0/threaded"))
		return -1;
	r->dut_napi = napi_thread("hd0");
	r->sink_napi = napi_thread("hs0");
	if (!r->dut_napi || !r->sink_napi)
		return -1;
	return pin(r->dut_napi, r->cpu_dut) || pin(r->sink_napi, r->cpu_gen) ? -1 : 0;
}

long long rig_cpu_ns(pid_t pid)
{
	char path[64];
	long long ns = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%lld", &ns) != 1)
		ns = -1;
	fclose(f);
	return ns;
}
