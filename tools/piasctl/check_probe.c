// SPDX-License-Identifier: MIT
/*
 * Health check runs (check_probe.h). Every run arms one timer: it ends the
 * run as failed when the check has not finished in time, and it also
 * carries a failure found while starting (no socket, no fork) out of
 * probe_run, so that done is never called from inside it.
 */
#include <errno.h>
#include <event2/dns.h>
#include <event2/http.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_probe.h"

#define WHY_LEN 128

struct probe {
	struct event_base *base;
	struct pias_check_spec spec;
	struct sockaddr_storage to;
	socklen_t to_len;
	char host[64]; /* the endpoint's address, as text: Host header, environment */
	unsigned int port;
	probe_done_fn done;
	void *arg;

	bool running;
	unsigned int timeout_ms;
	struct event *timer;
	char why[WHY_LEN]; /* a failure found while starting */
	/* what the run of each kind holds */
	int fd;		  /* tcp: the connecting socket; exec: the pidfd */
	struct event *io; /* on fd */
	pid_t pid;	  /* exec */
	struct evhttp_connection *http;
	struct evhttp_request *req;
	struct evdns_base *dns;
	struct evdns_request *dreq;
	struct dns_run *drun; /* the query's callback argument */
};

/*
 * A query's callback argument, its own allocation: a cancelled query is
 * still called back later (DNS_ERR_CANCEL, deferred), perhaps during the
 * next run, and must then find nothing to end.
 */
struct dns_run {
	struct probe *p; /* NULL once cancelled */
};

/* Whatever the run holds goes: sockets closed, a child killed and reaped. */
static void release(struct probe *p)
{
	if (p->io) {
		event_free(p->io);
		p->io = NULL;
	}
	if (p->fd >= 0) {
		close(p->fd);
		p->fd = -1;
	}
	if (p->pid > 0) {
		kill(-p->pid, SIGKILL); /* its process group: what the shell started too */
		waitpid(p->pid, NULL, 0);
		p->pid = 0;
	}
	if (p->dreq) {
		p->drun->p = NULL; /* its callback (DNS_ERR_CANCEL) finds no run */
		evdns_cancel_request(p->dns, p->dreq);
		p->dreq = NULL;
		p->drun = NULL;
	}
	if (p->req && p->http) {
		evhttp_cancel_request(p->req);
		p->req = NULL;
	}
}

static void finish(struct probe *p, bool pass, const char *why)
{
	if (!p->running)
		return;
	p->running = false;
	event_del(p->timer);
	release(p);
	p->done(p->arg, pass, why);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct probe *p = arg;
	char why[WHY_LEN];

	(void)fd;
	(void)what;
	if (p->why[0])
		snprintf(why, sizeof(why), "%s", p->why);
	else
		snprintf(why, sizeof(why), "timed out after %u ms", p->timeout_ms);
	finish(p, false, why);
}

/* A failure while starting: reported from the timer, at once. */
static int fail_now(struct probe *p, const char *what, int err)
{
	struct timeval now = { 0, 0 };

	snprintf(p->why, sizeof(p->why), "%s: %s", what, strerror(err));
	event_del(p->timer);
	event_add(p->timer, &now);
	return 0;
}

/* tcp: the connection is accepted, or refused (RST), or the timer ends it. */
static void on_connected(evutil_socket_t fd, short what, void *arg)
{
	struct probe *p = arg;
	int err = 0;
	socklen_t len = sizeof(err);

	(void)what;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len))
		err = errno;
	if (err) {
		char why[WHY_LEN];

		snprintf(why, sizeof(why), "connect: %s", strerror(err));
		finish(p, false, why);
		return;
	}
	finish(p, true, "connected");
}

static int run_tcp(struct probe *p)
{
	p->fd = socket(p->to.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (p->fd < 0)
		return fail_now(p, "socket", errno);
	if (connect(p->fd, (const struct sockaddr *)&p->to, p->to_len) && errno != EINPROGRESS)
		return fail_now(p, "connect", errno);
	p->io = event_new(p->base, p->fd, EV_WRITE, on_connected, p);
	if (!p->io || event_add(p->io, NULL))
		return fail_now(p, "event", ENOMEM);
	return 0;
}

/* http: any 2xx or 3xx answer to GET PATH. */
static void on_http(struct evhttp_request *req, void *arg)
{
	struct probe *p = arg;
	int code = req ? evhttp_request_get_response_code(req) : 0;
	char why[WHY_LEN];

	p->req = NULL; /* libevent frees it after this callback */
	if (code == 0) {
		finish(p, false, "no HTTP answer (refused, or closed before one)");
		return;
	}
	snprintf(why, sizeof(why), "HTTP %d", code);
	finish(p, code >= 200 && code < 400, why);
}

static int run_http(struct probe *p)
{
	/* evhttp's own timeout later than ours: a silent server is "timed out" */
	struct timeval tv = { p->timeout_ms / 1000 + 1, (p->timeout_ms % 1000) * 1000 };

	/* a fresh connection each run, so that each run tests accept() too */
	if (p->http)
		evhttp_connection_free(p->http);
	p->http = evhttp_connection_base_new(p->base, NULL, p->host, (unsigned short)p->port);
	if (!p->http)
		return fail_now(p, "http", ENOMEM);
	evhttp_connection_set_timeout_tv(p->http, &tv);
	evhttp_connection_set_retries(p->http, 0);
	p->req = evhttp_request_new(on_http, p);
	if (!p->req)
		return fail_now(p, "http", ENOMEM);
	evhttp_add_header(evhttp_request_get_output_headers(p->req), "Host", p->host);
	evhttp_add_header(evhttp_request_get_output_headers(p->req), "User-Agent", "pias-check");
	if (evhttp_make_request(p->http, p->req, EVHTTP_REQ_GET, p->spec.arg)) {
		p->req = NULL; /* freed by libevent on failure */
		return fail_now(p, "http request", EIO);
	}
	return 0;
}

/* dns: the server answers; NXDOMAIN and no data are answers too. */
static void on_dns(int result, char type, int count, int ttl, void *addrs, void *arg)
{
	struct dns_run *run = arg;
	struct probe *p = run->p;
	char why[WHY_LEN];

	(void)type;
	(void)count;
	(void)ttl;
	(void)addrs;
	free(run);
	if (!p)
		return; /* cancelled: its run has ended */
	p->dreq = NULL;
	p->drun = NULL;
	snprintf(why, sizeof(why), "DNS %s", evdns_err_to_string(result));
	finish(p, result == DNS_ERR_NONE || result == DNS_ERR_NOTEXIST || result == DNS_ERR_NODATA,
	       why);
}

static int run_dns(struct probe *p)
{
	char timeout[16];

	if (!p->dns) {
		p->dns = evdns_base_new(p->base, 0); /* no resolv.conf: the endpoint only */
		if (!p->dns)
			return fail_now(p, "dns", ENOMEM);
		snprintf(timeout, sizeof(timeout), "%u.%03u", p->timeout_ms / 1000,
			 p->timeout_ms % 1000);
		if (evdns_base_nameserver_sockaddr_add(p->dns, (const struct sockaddr *)&p->to,
						       p->to_len, 0) ||
		    evdns_base_set_option(p->dns, "timeout:", timeout) ||
		    evdns_base_set_option(p->dns, "attempts:", "1") ||
		    evdns_base_set_option(p->dns, "randomize-case:", "0"))
			return fail_now(p, "dns setup", EINVAL);
	}
	p->drun = calloc(1, sizeof(*p->drun));
	if (!p->drun)
		return fail_now(p, "dns", ENOMEM);
	p->drun->p = p;
	p->dreq =
		evdns_base_resolve_ipv4(p->dns, p->spec.arg, DNS_QUERY_NO_SEARCH, on_dns, p->drun);
	if (!p->dreq) {
		free(p->drun);
		p->drun = NULL;
		return fail_now(p, "dns query", EIO);
	}
	return 0;
}

/* exec: the command's exit status; the pidfd becomes readable when it ends. */
static void on_exited(evutil_socket_t fd, short what, void *arg)
{
	struct probe *p = arg;
	char why[WHY_LEN];
	int st = 0;

	(void)fd;
	(void)what;
	if (waitpid(p->pid, &st, 0) < 0)
		st = -1;
	p->pid = 0;
	if (WIFEXITED(st))
		snprintf(why, sizeof(why), "exit status %d", WEXITSTATUS(st));
	else
		snprintf(why, sizeof(why), "killed by signal %d",
			 WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	finish(p, WIFEXITED(st) && WEXITSTATUS(st) == 0, why);
}

static int run_exec(struct probe *p)
{
	char port[8];

	snprintf(port, sizeof(port), "%u", p->port);
	p->pid = fork();
	if (p->pid < 0) {
		p->pid = 0;
		return fail_now(p, "fork", errno);
	}
	if (p->pid == 0) {
		/* its own process group, so that a timeout kills what it started */
		setpgid(0, 0);
		setenv("PIAS_CHECK_ADDR", p->host, 1);
		setenv("PIAS_CHECK_PORT", port, 1);
		execl("/bin/sh", "sh", "-c", p->spec.arg, (char *)NULL);
		_exit(127);
	}
	setpgid(p->pid, p->pid); /* both sides: no race with the kill */
	p->fd = (int)syscall(SYS_pidfd_open, p->pid, 0);
	if (p->fd < 0)
		return fail_now(p, "pidfd_open", errno);
	p->io = event_new(p->base, p->fd, EV_READ, on_exited, p);
	if (!p->io || event_add(p->io, NULL))
		return fail_now(p, "event", ENOMEM);
	return 0;
}

struct probe *probe_new(struct event_base *base, const struct pias_check_spec *spec,
			const struct sockaddr_storage *to, socklen_t to_len, probe_done_fn done,
			void *arg)
{
	struct probe *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->base = base;
	p->spec = *spec;
	p->to = *to;
	p->to_len = to_len;
	p->done = done;
	p->arg = arg;
	p->fd = -1;
	if (to->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)to;

		evutil_inet_ntop(AF_INET6, &s6->sin6_addr, p->host, sizeof(p->host));
		p->port = ntohs(s6->sin6_port);
	} else {
		const struct sockaddr_in *s4 = (const void *)to;

		evutil_inet_ntop(AF_INET, &s4->sin_addr, p->host, sizeof(p->host));
		p->port = ntohs(s4->sin_port);
	}
	p->timer = evtimer_new(base, on_timer, p);
	if (!p->timer) {
		free(p);
		return NULL;
	}
	return p;
}

int probe_run(struct probe *p, unsigned int timeout_ms)
{
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };

	if (p->running)
		return -EBUSY;
	p->running = true;
	p->timeout_ms = timeout_ms;
	p->why[0] = 0;
	event_add(p->timer, &tv);
	switch (p->spec.kind) {
	case PIAS_CHECK_TCP:
		return run_tcp(p);
	case PIAS_CHECK_HTTP:
		return run_http(p);
	case PIAS_CHECK_DNS:
		return run_dns(p);
	case PIAS_CHECK_EXEC:
		return run_exec(p);
	}
	return fail_now(p, "check", EINVAL);
}

bool probe_running(const struct probe *p)
{
	return p->running;
}

void probe_free(struct probe *p)
{
	if (!p)
		return;
	p->running = false;
	release(p);
	if (p->http)
		evhttp_connection_free(p->http);
	if (p->dns) {
		/*
		 * Queries cancelled or failed here are called back deferred, and
		 * only those callbacks free them (and their runs): let the loop
		 * deliver them now, before it goes away.
		 */
		evdns_base_free(p->dns, 1);
		event_base_loop(p->base, EVLOOP_NONBLOCK);
	}
	event_free(p->timer);
	free(p);
}
