/*
 * wordcount: the example plugin. It reads its "data" descriptor, counts
 * lines, words and bytes, and writes the counts to its "log" descriptor;
 * nothing else. The descriptors are found by name in LISTEN_FDNAMES (from
 * fd 3 on, the sd_listen_fds(3) convention).
 *
 * Data whose first line is "#!escape" plays a compromised plugin: it tries
 * what such a plugin would (read the host's files, open a network socket,
 * trace itself) and reports on the log what each attempt got.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

static int fd_named(const char *name)
{
	const char *names = getenv("LISTEN_FDNAMES");
	size_t len = strlen(name);
	for (int fd = 3; names && *names; fd++) {
		const char *end = strchr(names, ':');
		size_t n = end ? (size_t)(end - names) : strlen(names);
		if (n == len && strncmp(names, name, n) == 0)
			return fd;
		if (!end)
			break;
		names = end + 1;
	}
	return -1;
}

/* attempt reports on log what a forbidden call returned. */
static void attempt(FILE *log, const char *what, long ret)
{
	if (ret < 0)
		fprintf(log, "  %-28s refused: %s\n", what, strerror(errno));
	else
		fprintf(log, "  %-28s SUCCEEDED\n", what);
}

static void escape(FILE *log)
{
	fprintf(log, "trying to escape:\n");
	errno = 0;
	attempt(log, "open /etc/passwd", open("/etc/passwd", O_RDONLY));
	errno = 0;
	attempt(log, "socket(AF_INET, SOCK_STREAM)", socket(AF_INET, SOCK_STREAM, 0));
	errno = 0;
	attempt(log, "ptrace(PTRACE_TRACEME)", ptrace(PTRACE_TRACEME, 0, 0, 0));
	errno = 0;
	attempt(log, "setuid(0)", setuid(0));
}

int main(void)
{
	int data = fd_named("data"), logfd = fd_named("log");
	if (data < 0 || logfd < 0) {
		fprintf(stderr, "wordcount: needs the descriptors \"data\" and \"log\" (LISTEN_FDNAMES)\n");
		return 2;
	}
	FILE *log = fdopen(logfd, "w");
	if (!log)
		return 2;
	static char buf[65536];
	unsigned long lines = 0, words = 0, bytes = 0;
	int inword = 0, first = 1;
	ssize_t n;
	while ((n = read(data, buf, sizeof buf)) > 0) {
		if (first && n >= 8 && memcmp(buf, "#!escape", 8) == 0)
			escape(log);
		first = 0;
		for (ssize_t i = 0; i < n; i++) {
			char c = buf[i];
			int space = c == ' ' || c == '\n' || c == '\t' || c == '\r';
			lines += c == '\n';
			words += !space && !inword;
			inword = !space;
		}
		bytes += (unsigned long)n;
	}
	if (n < 0) {
		fprintf(log, "read data: %s\n", strerror(errno));
		return 1;
	}
	fprintf(log, "%lu lines, %lu words, %lu bytes\n", lines, words, bytes);
	return fclose(log) == 0 ? 0 : 1;
}
