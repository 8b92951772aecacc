/*
 * broker.h: the plugin's side of plugbox's explicit broker protocol, in one
 * header (C99, POSIX; Linux and FreeBSD). Include it in one or more files;
 * every function is static.
 *
 *   int fd = pb_open("/srv/in/photo.png", O_RDONLY | O_CLOEXEC);
 *   int s  = pb_connect("tcp:127.0.0.1:8080");
 *
 * Both return a descriptor, or -1 with errno set: EACCES when no rule of the
 * plugin's manifest grants the request, ENOENT, EEXIST, ELOOP (a symbolic
 * link on the way), EISDIR (not a regular file), ECONNREFUSED, EHOSTUNREACH,
 * EINVAL, EIO, or ENOTCONN when the plugin has no broker descriptor.
 * pb_last_error() returns the broker's message for the last failure.
 *
 * The broker's socket is the descriptor named "broker" in LISTEN_FDNAMES
 * (sd_listen_fds(3): descriptors 3.. in the order named). The protocol, one
 * SOCK_SEQPACKET message each way:
 *
 *   open PATH FLAGS     FLAGS: read | write | readwrite, then any of
 *                       ,create ,excl ,trunc ,append ,nonblock ,sync
 *   connect DEST        DEST as the manifest writes it: tcp:HOST:PORT, unix:PATH
 *
 * answered "ok" with one descriptor (SCM_RIGHTS) or "error ENAME message".
 * Requests are written with write(2) and replies read with recvmsg(2), the
 * two calls plugbox's profile allows a plugin with broker rules. Should the
 * broker be gone, the write raises SIGPIPE unless the plugin ignores it.
 * Requests on one socket are answered in order: calls from several threads
 * at once need the caller's own lock.
 */
#ifndef PLUGBOX_BROKER_H
#define PLUGBOX_BROKER_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#define PB_MAX_MESSAGE (4095 + 64)

static char pb_error_text[256];

/* pb_last_error returns the broker's message for the last failed call. */
static const char *pb_last_error(void) { return pb_error_text; }

/* pb_broker_fd returns the broker's descriptor, or -1 (errno ENOTCONN). */
static int pb_broker_fd(void)
{
	const char *names = getenv("LISTEN_FDNAMES");
	int fd = 3;
	while (names != NULL && *names != '\0') {
		const char *end = strchr(names, ':');
		size_t len = end != NULL ? (size_t)(end - names) : strlen(names);
		if (len == 6 && memcmp(names, "broker", 6) == 0)
			return fd;
		if (end == NULL)
			break;
		names = end + 1;
		fd++;
	}
	errno = ENOTCONN;
	return -1;
}

static int pb_errno_of(const char *name, size_t len)
{
	static const struct {
		const char *name;
		int value;
	} table[] = {
		{"EACCES", EACCES}, {"ENOENT", ENOENT}, {"EEXIST", EEXIST},
		{"ELOOP", ELOOP}, {"EINVAL", EINVAL}, {"EISDIR", EISDIR},
		{"ECONNREFUSED", ECONNREFUSED}, {"EHOSTUNREACH", EHOSTUNREACH},
	};
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
		if (strlen(table[i].name) == len && memcmp(table[i].name, name, len) == 0)
			return table[i].value;
	return EIO;
}

/* pb_request sends one request and returns the descriptor of an "ok". */
static int pb_request(const char *msg, size_t len, int cloexec)
{
	int sock = pb_broker_fd();
	if (sock < 0)
		return -1;
	if (len > PB_MAX_MESSAGE) {
		errno = ENAMETOOLONG;
		return -1;
	}
	/* write(2), not send(2): a plugin's profile allows it anyway. */
	ssize_t n;
	do
		n = write(sock, msg, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;

	char reply[512];
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} control;
	struct iovec iov = {reply, sizeof reply - 1};
	struct msghdr mh;
	memset(&mh, 0, sizeof mh);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = control.buf;
	mh.msg_controllen = sizeof control.buf;
	do
		n = recvmsg(sock, &mh, cloexec ? MSG_CMSG_CLOEXEC : 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	if (n == 0) {
		errno = ENOTCONN;
		return -1;
	}
	reply[n] = '\0';
	int fd = -1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len >= CMSG_LEN(sizeof(int)))
			memcpy(&fd, CMSG_DATA(c), sizeof fd);
	if (strcmp(reply, "ok") == 0 && fd >= 0) {
		pb_error_text[0] = '\0';
		return fd;
	}
	if (fd >= 0)
		close(fd);
	if (strncmp(reply, "error ", 6) != 0) {
		snprintf(pb_error_text, sizeof pb_error_text, "malformed broker reply");
		errno = EIO;
		return -1;
	}
	const char *name = reply + 6, *text = strchr(name, ' ');
	size_t nlen = text != NULL ? (size_t)(text - name) : strlen(name);
	snprintf(pb_error_text, sizeof pb_error_text, "%s", text != NULL ? text + 1 : "");
	errno = pb_errno_of(name, nlen);
	return -1;
}

/* pb_open asks the broker to open path; flags are this system's O_* flags
 * (O_RDONLY, O_WRONLY or O_RDWR with O_CREAT, O_EXCL, O_TRUNC, O_APPEND,
 * O_NONBLOCK, O_SYNC, O_CLOEXEC). */
static int pb_open(const char *path, int flags)
{
	const char *access = "read";
	if ((flags & O_ACCMODE) == O_WRONLY)
		access = "write";
	else if ((flags & O_ACCMODE) == O_RDWR)
		access = "readwrite";
	char msg[PB_MAX_MESSAGE + 1];
	int n = snprintf(msg, sizeof msg, "open %s %s%s%s%s%s%s%s", path, access,
			 flags & O_CREAT ? ",create" : "", flags & O_EXCL ? ",excl" : "",
			 flags & O_TRUNC ? ",trunc" : "", flags & O_APPEND ? ",append" : "",
			 flags & O_NONBLOCK ? ",nonblock" : "", flags & O_SYNC ? ",sync" : "");
	if (n < 0 || (size_t)n >= sizeof msg) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return pb_request(msg, (size_t)n, (flags & O_CLOEXEC) != 0);
}

/* pb_connect asks the broker for a connection to dest, a destination as the
 * manifest names it ("tcp:api.internal:443"); the socket is close-on-exec. */
static int pb_connect(const char *dest)
{
	char msg[PB_MAX_MESSAGE + 1];
	int n = snprintf(msg, sizeof msg, "connect %s", dest);
	if (n < 0 || (size_t)n >= sizeof msg) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return pb_request(msg, (size_t)n, 1);
}

#endif /* PLUGBOX_BROKER_H */
