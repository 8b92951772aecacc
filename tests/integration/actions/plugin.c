/* A test plugin for the violation actions (tests/integration/actions_test.go):
 * it makes calls its profile denies and prints, one "PROBE name result" line
 * each, what it saw. getpriority(2) is the denied call: no group of a
 * default manifest grants it, and it is harmless where it runs (log, audit).
 * Built statically by the test: gcc -static -pthread. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void probe(const char *name, long ret, int err)
{
	if (ret < 0)
		printf("PROBE %s -1 %d\n", name, err);
	else
		printf("PROBE %s %ld\n", name, ret);
	fflush(stdout);
}

/* denied makes the denied call the raw way (no libc wrapper logic). */
static long denied(int *err)
{
	errno = 0;
	long r = syscall(SYS_getpriority, PRIO_PROCESS, 0);
	*err = errno;
	return r;
}

static void call(const char *name)
{
	int err;
	long r = denied(&err);
	probe(name, r, err);
}

static void *thread_main(void *arg)
{
	(void)arg;
	printf("PROBE thread.before 0\n");
	fflush(stdout);
	call("thread.call");
	return NULL;
}

static volatile sig_atomic_t trapped;
static volatile int trap_syscall, trap_code, trap_arch;

static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	trapped = 1;
	trap_syscall = si->si_syscall;
	trap_code = si->si_code;
	trap_arch = (int)si->si_arch;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: plugin call|thread|trap|fork|two|decode\n");
		return 2;
	}
	const char *mode = argv[1];
	printf("PROBE start 0\n");
	fflush(stdout);
	if (strcmp(mode, "call") == 0) {
		call("call");
	} else if (strcmp(mode, "thread") == 0) {
		/* The denied call is made by a second thread; with kill-thread
		 * only that thread dies and join returns. */
		pthread_t t;
		if (pthread_create(&t, NULL, thread_main, NULL) != 0) {
			probe("thread.create", -1, errno);
			return 1;
		}
		pthread_join(t, NULL);
		printf("PROBE thread.joined 0\n");
		fflush(stdout);
	} else if (strcmp(mode, "trap") == 0) {
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_sigaction = on_sigsys;
		sa.sa_flags = SA_SIGINFO;
		sigaction(SIGSYS, &sa, NULL);
		int err;
		long r = denied(&err);
		/* Without a handler changing the registers, the "return value"
		 * of a trapped call is its own number (the call did not run). */
		printf("PROBE trap.handled %d\n", (int)trapped);
		printf("PROBE trap.si_syscall %d\n", trap_syscall);
		printf("PROBE trap.si_code %d\n", trap_code);
		printf("PROBE trap.si_arch %#x\n", (unsigned)trap_arch);
		printf("PROBE trap.ret %ld\n", r);
		printf("PROBE trap.nr %d\n", (int)SYS_getpriority);
		fflush(stdout);
	} else if (strcmp(mode, "fork") == 0) {
		/* The denied call from a child process, then from the parent:
		 * what records it must follow the fork. */
		pid_t child = fork();
		if (child == 0) {
			call("child.call");
			_exit(0);
		}
		int status;
		waitpid(child, &status, 0);
		call("parent.call");
	} else if (strcmp(mode, "two") == 0) {
		call("getpriority");
		errno = 0;
		long r = syscall(SYS_setpriority, PRIO_PROCESS, 0, 0);
		int err = errno;
		probe("setpriority", r, err);
	} else if (strcmp(mode, "decode") == 0) {
		/* Denied by argument: their records name the arguments. */
		long r;
		char c = 'x';
		errno = 0;
		r = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		probe("socket", r, errno);
		errno = 0;
		r = syscall(SYS_openat, AT_FDCWD, "/tmp/out", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		probe("openat", r, errno);
		errno = 0;
		r = syscall(SYS_clone, CLONE_NEWUSER | CLONE_NEWNS | SIGCHLD, 0, 0, 0, 0);
		probe("clone", r, errno);
		errno = 0;
		r = ioctl(0, TIOCSTI, &c);
		probe("ioctl", r, errno);
	} else {
		fprintf(stderr, "unknown mode %s\n", mode);
		return 2;
	}
	printf("PROBE end 0\n");
	fflush(stdout);
	return 0;
}
