/*
 * The plugin the library tests run in plugbox sandboxes. argv[1] picks what
 * it does; descriptors are found by name in LISTEN_FDNAMES (fd 3 on).
 *
 *   io     reads stdin and the "input" descriptor, writes
 *          "out:<input>|<stdin>" to "output", a line on stdout and stderr,
 *          tries ptrace(PTRACE_TRACEME) (the profile denies it) and exits 7
 *   exit N exits with status N
 *   sleep  says "ready" on stdout and waits for a signal
 *   echo   sends back whatever arrives on "host" until end-of-file
 *   upper  copies stdin to stdout in upper case
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <unistd.h>

/* fd_named returns the descriptor LISTEN_FDNAMES calls name, or -1. */
static int fd_named(const char *name)
{
	const char *names = getenv("LISTEN_FDNAMES");
	size_t len = strlen(name);
	int fd = 3;
	while (names && *names) {
		const char *end = strchr(names, ':');
		size_t n = end ? (size_t)(end - names) : strlen(names);
		if (n == len && strncmp(names, name, n) == 0)
			return fd;
		if (!end)
			break;
		names = end + 1;
		fd++;
	}
	return -1;
}

/* slurp reads fd to its end into buf (NUL-terminated), returning the length. */
static size_t slurp(int fd, char *buf, size_t size)
{
	size_t got = 0;
	while (got + 1 < size) {
		ssize_t n = read(fd, buf + got, size - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	buf[got] = 0;
	return got;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int do_io(void)
{
	static char in[4096], std[4096], out[9000];
	int input = fd_named("input"), output = fd_named("output");
	if (input < 0 || output < 0) {
		fprintf(stderr, "no input or output descriptor\n");
		return 2;
	}
	slurp(0, std, sizeof std);
	slurp(input, in, sizeof in);
	int n = snprintf(out, sizeof out, "out:%s|%s", in, std);
	write_all(output, out, (size_t)n);
	close(output);
	errno = 0;
	long r = ptrace(PTRACE_TRACEME, 0, 0, 0);
	printf("stdout ok; ptrace %s\n", r == 0 ? "allowed" : strerror(errno));
	fprintf(stderr, "stderr ok\n");
	return 7;
}

static int do_echo(void)
{
	static char buf[65536];
	int host = fd_named("host");
	if (host < 0) {
		fprintf(stderr, "no host descriptor\n");
		return 2;
	}
	for (;;) {
		ssize_t n = read(host, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n == 0 ? 0 : 3;
		if (write_all(host, buf, (size_t)n) < 0)
			return 4;
	}
}

static int do_upper(void)
{
	int c;
	while ((c = getchar()) != EOF)
		putchar(toupper(c));
	return 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	if (strcmp(mode, "io") == 0)
		return do_io();
	if (strcmp(mode, "exit") == 0 && argc > 2)
		return atoi(argv[2]);
	if (strcmp(mode, "sleep") == 0) {
		write_all(1, "ready\n", 6);
		for (;;)
			pause();
	}
	if (strcmp(mode, "echo") == 0)
		return do_echo();
	if (strcmp(mode, "upper") == 0)
		return do_upper();
	fprintf(stderr, "usage: plugin io | exit N | sleep | echo | upper\n");
	return 2;
}
