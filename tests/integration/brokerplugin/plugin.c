/*
 * The plugin of the broker tests: each argument is one step, run in order,
 * each printing "PROBE NAME RESULT" (RESULT "ok ..." or "denied ERRNO ...").
 *
 *   read:NAME:PATH        open(PATH, O_RDONLY): prints its contents, then
 *                         tries write(2) through the descriptor (NAME-write)
 *   open:NAME:PATH        openat(AT_FDCWD, PATH, O_RDONLY)
 *   create:NAME:PATH      open(PATH, O_WRONLY|O_CREAT|O_EXCL, 0777) and write
 *   connect:NAME:IP:PORT  socket(AF_INET) + connect, then reads a line
 *   race:NAME:GOOD:BAD:N  N opens of a buffer another thread keeps flipping
 *                         between GOOD and BAD: counts what each got
 *   xopen:NAME:PATH       pb_open(PATH, O_RDONLY) over the explicit protocol,
 *                         then a write through it
 *   xcreate:NAME:PATH     pb_open(PATH, O_WRONLY|O_CREAT|O_EXCL) and write
 *   xconnect:NAME:DEST    pb_connect(DEST), then reads a line
 *   sleep:NAME:SECONDS    sleeps (a plugin to exec into)
 *
 * Benchmark steps print "PROBE NAME ok ns=NS" (the mean of N operations):
 *
 *   bench-open:NAME:PATH:N          open + close
 *   bench-xopen:NAME:PATH:N         pb_open + close
 *   bench-connect:NAME:IP:PORT:N    socket + connect + close
 *   bench-xconnect:NAME:N:DEST      pb_connect + close
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "broker.h"

static const char *errname(int e)
{
	switch (e) {
	case EACCES: return "EACCES";
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case EEXIST: return "EEXIST";
	case ELOOP: return "ELOOP";
	case EBADF: return "EBADF";
	case EROFS: return "EROFS";
	case EISDIR: return "EISDIR";
	case ECONNREFUSED: return "ECONNREFUSED";
	case ENETUNREACH: return "ENETUNREACH";
	case EHOSTUNREACH: return "EHOSTUNREACH";
	case ENOTCONN: return "ENOTCONN";
	case EXDEV: return "EXDEV";
	}
	static char buf[32];
	snprintf(buf, sizeof buf, "errno%d", e);
	return buf;
}

static void denied(const char *name, int e)
{
	printf("PROBE %s denied %s\n", name, errname(e));
}

/* contents prints up to 200 bytes of fd as "ok <contents>" and tries a
 * write through it. */
static void contents(const char *name, int fd)
{
	char buf[256];
	ssize_t n = read(fd, buf, 200);
	if (n < 0) {
		denied(name, errno);
	} else {
		buf[n] = '\0';
		char *nl = strchr(buf, '\n');
		if (nl)
			*nl = '\0';
		printf("PROBE %s ok %s\n", name, buf);
	}
	char wname[128];
	snprintf(wname, sizeof wname, "%s-write", name);
	if (write(fd, "x", 1) == 1)
		printf("PROBE %s ok wrote\n", wname);
	else
		denied(wname, errno);
}

static void readline_from(const char *name, int fd)
{
	char buf[256];
	ssize_t n = read(fd, buf, sizeof buf - 1);
	if (n < 0) {
		denied(name, errno);
		return;
	}
	buf[n] = '\0';
	char *nl = strchr(buf, '\n');
	if (nl)
		*nl = '\0';
	printf("PROBE %s ok %s\n", name, buf);
}

static char race_buf[4096];
static const char *race_good, *race_bad;
static atomic_int race_stop;

static void *flipper(void *arg)
{
	(void)arg;
	size_t lg = strlen(race_good) + 1, lb = strlen(race_bad) + 1;
	while (!atomic_load(&race_stop)) {
		memcpy(race_buf, race_bad, lb);
		memcpy(race_buf, race_good, lg);
	}
	return NULL;
}

static void race(const char *name, const char *good, const char *bad, int n)
{
	race_good = good;
	race_bad = bad;
	memcpy(race_buf, good, strlen(good) + 1);
	pthread_t th;
	if (pthread_create(&th, NULL, flipper, NULL) != 0) {
		printf("PROBE %s denied pthread_create\n", name);
		return;
	}
	int got_good = 0, got_bad = 0, failed = 0, other = 0;
	char buf[64];
	for (int i = 0; i < n; i++) {
		int fd = open(race_buf, O_RDONLY);
		if (fd < 0) {
			failed++;
			continue;
		}
		ssize_t r = read(fd, buf, sizeof buf - 1);
		close(fd);
		buf[r > 0 ? r : 0] = '\0';
		if (strncmp(buf, "allowed", 7) == 0)
			got_good++;
		else if (strncmp(buf, "secret", 6) == 0)
			got_bad++;
		else
			other++;
	}
	atomic_store(&race_stop, 1);
	pthread_join(th, NULL);
	printf("PROBE %s ok good=%d bad=%d failed=%d other=%d\n", name, got_good, got_bad, failed, other);
}

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* bench runs op n times and prints the mean in nanoseconds; op returns a
 * descriptor to close, or -1. */
static void bench(const char *name, int n, int (*op)(const char *, const char *), const char *a, const char *b)
{
	long long start = now_ns();
	for (int i = 0; i < n; i++) {
		int fd = op(a, b);
		if (fd < 0) {
			printf("PROBE %s denied %s at %d\n", name, errname(errno), i);
			return;
		}
		close(fd);
	}
	printf("PROBE %s ok ns=%lld\n", name, (now_ns() - start) / (n > 0 ? n : 1));
}

static int op_open(const char *path, const char *unused)
{
	(void)unused;
	return open(path, O_RDONLY | O_CLOEXEC);
}

static int op_xopen(const char *path, const char *unused)
{
	(void)unused;
	return pb_open(path, O_RDONLY | O_CLOEXEC);
}

static int op_connect(const char *ip, const char *port)
{
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -1;
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(port))};
	inet_pton(AF_INET, ip, &sin.sin_addr);
	if (connect(s, (struct sockaddr *)&sin, sizeof sin) != 0) {
		int e = errno;
		close(s);
		errno = e;
		return -1;
	}
	return s;
}

static int op_xconnect(const char *dest, const char *unused)
{
	(void)unused;
	return pb_connect(dest);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 1; i < argc; i++) {
		char *step = strdup(argv[i]);
		char *kind = strtok(step, ":");
		char *name = strtok(NULL, ":");
		char *a = strtok(NULL, ":");
		char *b = strtok(NULL, ":");
		char *c = strtok(NULL, ":");
		if (kind == NULL || name == NULL || a == NULL) {
			printf("PROBE step%d denied bad-step\n", i);
			continue;
		}
		if (strcmp(kind, "read") == 0 || strcmp(kind, "open") == 0) {
			int fd = strcmp(kind, "read") == 0 ? open(a, O_RDONLY) : openat(AT_FDCWD, a, O_RDONLY | O_CLOEXEC);
			if (fd < 0) {
				denied(name, errno);
				continue;
			}
			contents(name, fd);
			close(fd);
		} else if (strcmp(kind, "create") == 0) {
			int fd = open(a, O_WRONLY | O_CREAT | O_EXCL, 0777);
			if (fd < 0) {
				denied(name, errno);
				continue;
			}
			printf("PROBE %s ok %s\n", name, write(fd, "made", 4) == 4 ? "wrote" : errname(errno));
			close(fd);
		} else if (strcmp(kind, "connect") == 0 && b != NULL) {
			int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
			if (s < 0) {
				denied(name, errno);
				continue;
			}
			struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(b))};
			inet_pton(AF_INET, a, &sin.sin_addr);
			if (connect(s, (struct sockaddr *)&sin, sizeof sin) != 0) {
				denied(name, errno);
				close(s);
				continue;
			}
			readline_from(name, s);
			close(s);
		} else if (strcmp(kind, "race") == 0 && c != NULL) {
			race(name, a, b, atoi(c));
		} else if (strcmp(kind, "xopen") == 0 || strcmp(kind, "xcreate") == 0) {
			int create = strcmp(kind, "xcreate") == 0;
			int fd = pb_open(a, create ? O_WRONLY | O_CREAT | O_EXCL : O_RDONLY);
			if (fd < 0) {
				printf("PROBE %s denied %s %s\n", name, errname(errno), pb_last_error());
				continue;
			}
			if (create)
				printf("PROBE %s ok %s\n", name, write(fd, "made", 4) == 4 ? "wrote" : errname(errno));
			else
				contents(name, fd);
			close(fd);
		} else if (strcmp(kind, "sleep") == 0) {
			sleep((unsigned)atoi(a));
			printf("PROBE %s ok\n", name);
		} else if (strcmp(kind, "bench-open") == 0 && b != NULL) {
			bench(name, atoi(b), op_open, a, NULL);
		} else if (strcmp(kind, "bench-xopen") == 0 && b != NULL) {
			bench(name, atoi(b), op_xopen, a, NULL);
		} else if (strcmp(kind, "bench-connect") == 0 && c != NULL) {
			bench(name, atoi(c), op_connect, a, b);
		} else if (strcmp(kind, "bench-xconnect") == 0 && b != NULL) {
			/* NAME:N:DEST, DEST holding ':' */
			const char *dest = argv[i] + strlen(kind) + 1 + strlen(name) + 1 + strlen(a) + 1;
			bench(name, atoi(a), op_xconnect, dest, NULL);
		} else if (strcmp(kind, "xconnect") == 0) {
			/* DEST holds ':', so it is everything after NAME. */
			const char *dest = argv[i] + strlen(kind) + 1 + strlen(name) + 1;
			int fd = pb_connect(dest);
			if (fd < 0) {
				printf("PROBE %s denied %s %s\n", name, errname(errno), pb_last_error());
				continue;
			}
			readline_from(name, fd);
			close(fd);
		} else {
			printf("PROBE %s denied unknown-step\n", name);
		}
		free(step);
	}
	return 0;
}
