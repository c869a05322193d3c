// SPDX-License-Identifier: MIT
/*
 * The client half of daemon/ctl_proto.h: connect, write one request line,
 * read the status line, copy the body to stdout.
 */
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl_proto.h"
#include "piasctl.h"

/* "piasctl: ..." on stderr; EXIT_RUNTIME. */
static int __attribute__((format(printf, 1, 2))) say(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", PIASCTL);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_RUNTIME;
}

static int connect_to(struct cli *c, const char *path, int *fd)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = PIAS_CTL_TIMEOUT_MS / 1000,
			      .tv_usec = (PIAS_CTL_TIMEOUT_MS % 1000) * 1000 };
	int s;

	if (strlen(path) >= sizeof(sun.sun_path))
		return cli_bad(c, "socket path '%s' is longer than %zu bytes", path,
			       sizeof(sun.sun_path) - 1);
	strcpy(sun.sun_path, path);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return cli_fail(c, "socket: %s", strerror(errno));
	/* a hung piasd must not hang scripts forever */
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(s, (struct sockaddr *)&sun, sizeof(sun))) {
		int err = errno;

		close(s);
		fprintf(stderr,
			"%s: cannot connect to piasd at %s: %s (is piasd running? "
			"name its socket with -s PATH or $%s)\n",
			PIASCTL, path, strerror(err), PIAS_CTL_SOCKET_ENV);
		return EXIT_RUNTIME;
	}
	*fd = s;
	return 0;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		/* MSG_NOSIGNAL: a piasd that hangs up is an error message, not SIGPIPE */
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static ssize_t read_some(int fd, char *buf, size_t cap)
{
	ssize_t r;

	do
		r = recv(fd, buf, cap, 0);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : r;
}

static const char *why(int err)
{
	return err == EAGAIN || err == EWOULDBLOCK ? "no answer in time" : strerror(err);
}

static int fwrite_all(const char *p, size_t n)
{
	if (n && fwrite(p, 1, n, stdout) != n)
		return say("writing the answer: %s", strerror(errno));
	return 0;
}

/* After "OK\n": the body is whatever follows, up to EOF. */
static int copy_body(int fd, const char *path, char *buf, size_t cap, const char *rest,
		     size_t nrest)
{
	ssize_t r;

	if (fwrite_all(rest, nrest))
		return EXIT_RUNTIME;
	while ((r = read_some(fd, buf, cap)) > 0)
		if (fwrite_all(buf, (size_t)r))
			return EXIT_RUNTIME;
	if (r < 0)
		return say("reading from piasd at %s: %s", path, why((int)-r));
	if (fflush(stdout))
		return say("writing the answer: %s", strerror(errno));
	return EXIT_OK;
}

int ctl_request(struct cli *c, const char *line)
{
	const char *path = piasctl_of(c)->socket;
	char req[PIAS_CTL_REQUEST_MAX + 1], buf[PIAS_CTL_STATUS_MAX + 1];
	size_t len = strlen(line), have = 0;
	char *nl = NULL;
	int fd = -1, r;
	ssize_t n;

	if (len + 1 > PIAS_CTL_REQUEST_MAX)
		return cli_bad(c, "request of %zu bytes; the control socket takes at most %d",
			       len + 1, PIAS_CTL_REQUEST_MAX);
	memcpy(req, line, len);
	req[len++] = '\n';
	r = connect_to(c, path, &fd);
	if (r)
		return r;
	r = write_all(fd, req, len);
	if (r) {
		close(fd);
		return say("sending to piasd at %s: %s", path, why(-r));
	}
	/* The status line: read until its "\n" (the body may come with it). */
	while (!nl && have < sizeof(buf) - 1) {
		n = read_some(fd, buf + have, sizeof(buf) - 1 - have);
		if (n < 0) {
			close(fd);
			return say("reading from piasd at %s: %s", path, why((int)-n));
		}
		if (!n)
			break;
		have += (size_t)n;
		buf[have] = '\0';
		nl = memchr(buf, '\n', have);
	}
	if (!nl) {
		close(fd);
		if (!have)
			return say("piasd at %s closed the connection without an answer", path);
		return say("piasd at %s sent no status line (%s)", path,
			   have >= sizeof(buf) - 1 ? "too long" : "cut short");
	}
	*nl = '\0';
	if (nl > buf && nl[-1] == '\r')
		nl[-1] = '\0';
	if (!strcmp(buf, PIAS_CTL_OK)) {
		r = copy_body(fd, path, buf, sizeof(buf) - 1, nl + 1,
			      have - (size_t)(nl + 1 - buf));
		close(fd);
		return r;
	}
	close(fd);
	if (!strncmp(buf, PIAS_CTL_ERR " ", strlen(PIAS_CTL_ERR) + 1) || !strcmp(buf, PIAS_CTL_ERR))
		return say("%s", buf[3] ? buf + 4 : "piasd reported an error without a message");
	return say("piasd at %s answered something unexpected: '%.80s'", path, buf);
}
