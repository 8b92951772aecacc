/*
 * plugbox-shim: the last program that runs before a plugbox plugin.
 *
 * libcontainer execs it, from a sealed memfd, in place of the plugin. It
 * reads its configuration from the descriptor named by argv[1] (the format
 * is documented in doc.go), then, in this order:
 *
 *   0. checks that every bind mount create verified shows the host file
 *      create checked (device and inode): a path swapped between that
 *      check and libcontainer's mount is refused;
 *   1. resolves the plugin's executable (PATH from its own environment);
 *   2. closes every descriptor but 0..keep-1 (and the monitor socket);
 *   3. applies Landlock (best ABI the kernel has, scoping from ABI 6);
 *   4. sets process.rlimits;
 *   5. loads the ready BPF program with seccomp(2) and, with a monitor,
 *      waits until the monitor has taken the listener with pidfd_getfd;
 *   6. for a process without no_new_privs, which may only load the filter
 *      holding CAP_SYS_ADMIN, sets the process.capabilities libcontainer
 *      would have set (libcontainer left it CAP_SYS_ADMIN for step 5): the
 *      bounding and ambient sets before the filter, the effective,
 *      permitted and inheritable ones with one capset(2) after it;
 *   7. execve's the plugin with its own environment.
 *
 * With a trace record it also notes, in a shared page, when each step
 * ended (CLOCK_MONOTONIC), for plugbox's start-up waterfall.
 *
 * Any failure prints one line on stderr naming the step and exits 127, so a
 * plugin never runs with a layer that was asked for and not applied.
 *
 * There is no libc: raw system calls, one thread, no allocation but mmap.
 * That keeps the program a few kilobytes, its start free of a C runtime's
 * setup calls, and its behaviour independent of the rlimits it is started
 * under (RLIMIT_AS 1 GiB with a 9 GiB stack breaks a threaded runtime).
 */
#include <stddef.h>
#include <stdint.h>

#if defined(__x86_64__)
enum {
	NR_read = 0, NR_write = 1, NR_close = 3, NR_mmap = 9, NR_fcntl = 72, NR_sendmsg = 46,
	NR_execve = 59, NR_prctl = 157, NR_exit_group = 231, NR_openat = 257,
	NR_faccessat = 269, NR_prlimit64 = 302, NR_seccomp = 317, NR_statx = 332,
	NR_clock_gettime = 228,
	NR_capget = 125, NR_capset = 126,
};
#elif defined(__aarch64__)
enum {
	NR_read = 63, NR_write = 64, NR_close = 57, NR_mmap = 222, NR_fcntl = 25, NR_sendmsg = 211,
	NR_execve = 221, NR_prctl = 167, NR_exit_group = 94, NR_openat = 56,
	NR_faccessat = 48, NR_prlimit64 = 261, NR_seccomp = 277, NR_statx = 291,
	NR_clock_gettime = 113,
	NR_capget = 90, NR_capset = 91,
};
#else
#error "plugbox-shim is written for x86_64 and aarch64"
#endif
/* Numbered alike on every architecture. */
enum {
	NR_close_range = 436, NR_faccessat2 = 439,
	NR_landlock_create_ruleset = 444, NR_landlock_add_rule = 445, NR_landlock_restrict_self = 446,
};

#define AT_FDCWD (-100)
#define AT_EMPTY_PATH 0x1000
#define AT_EACCESS 0x200
#define O_CLOEXEC 02000000
#define O_PATH 010000000
#define X_OK 1
#define F_GETFD 1
#define F_SETFD 2
#define FD_CLOEXEC 1
#define PROT_READ 1
#define PROT_WRITE 2
#define MAP_SHARED 1
#define MAP_PRIVATE 2
#define MAP_ANONYMOUS 0x20
#define PR_SET_DUMPABLE 4
#define PR_CAPBSET_READ 23
#define PR_CAPBSET_DROP 24
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_IS_SET 1
#define PR_CAP_AMBIENT_LOWER 3
#define LINUX_CAPABILITY_VERSION_3 0x20080522u
#define STATX_TYPE 1u
#define STATX_INO 0x100u
#define AT_SYMLINK_NOFOLLOW 0x100
#define STATX_SIZE 0x200u
#define S_IFMT 0170000
#define S_IFDIR 0040000
#define EINTR 4
#define EBADF 9
#define EACCES 13
#define EMFILE 24
#define ENOENT 2
#define SECCOMP_SET_MODE_FILTER 1
#define SECCOMP_FILTER_FLAG_NEW_LISTENER 8u
#define LANDLOCK_CREATE_RULESET_VERSION 1u
#define LANDLOCK_RULE_PATH_BENEATH 1

/* Landlock rights a rule on a file (not a directory) may carry. */
#define LL_FILE_RIGHTS (0x1ull | 0x2ull | 0x4ull | (1ull << 14) | (1ull << 15))

/* Configuration record tags (doc.go). */
enum {
	TAG_END = 0, TAG_ARGV = 1, TAG_KEEP_FDS = 2, TAG_MONITOR_FD = 3, TAG_RLIMIT = 4,
	TAG_LANDLOCK = 5, TAG_LANDLOCK_PATH = 6, TAG_SECCOMP = 7, TAG_TRACE = 8,
	TAG_CAPS = 9, TAG_BIND = 10,
};

/* Trace stages (doc.go): the step that ends when the record is written. */
enum {
	TRACE_START = 1, TRACE_RESOLVED = 2, TRACE_FDS = 3, TRACE_LANDLOCK = 4,
	TRACE_RLIMITS = 5, TRACE_FILTER = 6,
};
static const char magic[8] = {'P', 'B', 'S', 'H', 'I', 'M', '0', '1'};
/* What the shim tells the monitor before it loads the filter. */
static const char announce_tag[8] = {'P', 'B', 'L', 'I', 'S', 'T', 'E', 'N'};

#if defined(__x86_64__)
static inline long sys6(long n, long a, long b, long c, long d, long e, long f)
{
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	long ret;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}
__asm__(".text\n"
	".global _start\n"
	".type _start,@function\n"
	"_start:\n"
	"	xor %ebp, %ebp\n"
	"	mov %rsp, %rdi\n"
	"	and $-16, %rsp\n"
	"	call shim_main\n"
	"	hlt\n");
#else
static inline long sys6(long n, long a, long b, long c, long d, long e, long f)
{
	register long x8 __asm__("x8") = n;
	register long x0 __asm__("x0") = a;
	register long x1 __asm__("x1") = b;
	register long x2 __asm__("x2") = c;
	register long x3 __asm__("x3") = d;
	register long x4 __asm__("x4") = e;
	register long x5 __asm__("x5") = f;
	__asm__ volatile("svc 0"
			 : "+r"(x0)
			 : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
			 : "memory");
	return x0;
}
__asm__(".text\n"
	".global _start\n"
	".type _start,%function\n"
	"_start:\n"
	"	mov x29, #0\n"
	"	mov x30, #0\n"
	"	mov x0, sp\n"
	"	bl shim_main\n"
	"	brk #0\n");
#endif

#define sys1(n, a) sys6(n, (long)(a), 0, 0, 0, 0, 0)
#define sys2(n, a, b) sys6(n, (long)(a), (long)(b), 0, 0, 0, 0)
#define sys3(n, a, b, c) sys6(n, (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define sys4(n, a, b, c, d) sys6(n, (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)
#define sys5(n, a, b, c, d, e) sys6(n, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), 0)

/* The compiler may emit calls to these even in freestanding code. */
void *memcpy(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;
	while (n--)
		*d++ = *s++;
	return dst;
}

void *memset(void *dst, int c, size_t n)
{
	unsigned char *d = dst;
	while (n--)
		*d++ = (unsigned char)c;
	return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;
	for (; n; n--, x++, y++)
		if (*x != *y)
			return *x - *y;
	return 0;
}

static size_t slen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

/* ---- messages ---- */

struct msg {
	char buf[1536];
	size_t n;
};

static void put(struct msg *m, const char *s)
{
	while (*s && m->n < sizeof m->buf - 2)
		m->buf[m->n++] = *s++;
}

static void put_u(struct msg *m, unsigned long v)
{
	char tmp[24];
	int i = 0;
	do {
		tmp[i++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (i-- && m->n < sizeof m->buf - 2)
		m->buf[m->n++] = tmp[i];
}

static const struct {
	unsigned char nr;
	const char *name;
	const char *text;
} errnos[] = {
	{1, "EPERM", "operation not permitted"}, {2, "ENOENT", "no such file or directory"},
	{3, "ESRCH", "no such process"}, {4, "EINTR", "interrupted system call"},
	{5, "EIO", "input/output error"}, {7, "E2BIG", "argument list too long"},
	{8, "ENOEXEC", "exec format error"}, {9, "EBADF", "bad file descriptor"},
	{12, "ENOMEM", "cannot allocate memory"}, {13, "EACCES", "permission denied"},
	{14, "EFAULT", "bad address"}, {16, "EBUSY", "device or resource busy"},
	{20, "ENOTDIR", "not a directory"}, {21, "EISDIR", "is a directory"},
	{22, "EINVAL", "invalid argument"}, {23, "ENFILE", "too many open files in system"},
	{24, "EMFILE", "too many open files"}, {26, "ETXTBSY", "text file busy"},
	{32, "EPIPE", "broken pipe"}, {36, "ENAMETOOLONG", "file name too long"},
	{38, "ENOSYS", "function not implemented"}, {40, "ELOOP", "too many levels of symbolic links"},
	{95, "EOPNOTSUPP", "operation not supported"}, {111, "ECONNREFUSED", "connection refused"},
};

static void put_errno(struct msg *m, long err)
{
	for (size_t i = 0; i < sizeof errnos / sizeof errnos[0]; i++) {
		if (errnos[i].nr == err) {
			put(m, errnos[i].text);
			put(m, " (");
			put(m, errnos[i].name);
			put(m, ")");
			return;
		}
	}
	put(m, "errno ");
	put_u(m, (unsigned long)err);
}

static void start(struct msg *m, const char *layer)
{
	m->n = 0;
	put(m, "plugbox: sandbox setup failed, plugin not started: ");
	put(m, layer);
	put(m, ": ");
}

static __attribute__((noreturn)) void die(struct msg *m, long err)
{
	if (err) {
		put(m, ": ");
		put_errno(m, err);
	}
	m->buf[m->n++] = '\n';
	sys3(NR_write, 2, m->buf, m->n);
	for (;;)
		sys1(NR_exit_group, 127);
}

static __attribute__((noreturn)) void fail(const char *layer, const char *what, long err)
{
	struct msg m;
	start(&m, layer);
	put(&m, what);
	die(&m, err);
}

/* ---- configuration ---- */

struct record {
	uint32_t tag, len;
	const unsigned char *data;
};

struct config {
	const unsigned char *buf;
	size_t size;
	const char *argv; /* argc NUL-terminated strings */
	uint32_t argv_len, argc;
	uint32_t keep;
	long monitor_fd; /* -1: none */
	int landlock;    /* a TAG_LANDLOCK record was given */
	uint64_t ll_handled, ll_scoped;
	uint32_t ll_flags;
	const unsigned char *bpf;
	uint32_t bpf_len, seccomp_flags;
	long trace_fd; /* -1: none */
	int caps; /* a TAG_CAPS record was given */
	uint64_t cap_eff, cap_prm, cap_inh, cap_bnd, cap_amb;
};

static uint32_t u32at(const unsigned char *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof v);
	return v;
}

static uint64_t u64at(const unsigned char *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof v);
	return v;
}

/* next reads the record at *off and moves *off to the following one; it
 * returns 0 at TAG_END. The caller has validated the buffer. */
static int next(const struct config *c, size_t *off, struct record *r)
{
	r->tag = u32at(c->buf + *off);
	r->len = u32at(c->buf + *off + 4);
	r->data = c->buf + *off + 8;
	*off += 8 + (((size_t)r->len + 7) & ~(size_t)7);
	return r->tag != TAG_END;
}

static __attribute__((noreturn)) void bad_config(const char *what)
{
	fail("config", what, 0);
}

static int nul_terminated(const unsigned char *p, uint32_t len)
{
	return len > 0 && p[len - 1] == 0;
}

static void parse(struct config *c)
{
	if (c->size < 16 || memcmp(c->buf, magic, sizeof magic) != 0)
		bad_config("not a plugbox-shim configuration (bad magic)");
	size_t off = 8;
	int end = 0, have_keep = 0;
	while (!end) {
		if (c->size - off < 8)
			bad_config("truncated record header");
		uint32_t tag = u32at(c->buf + off), len = u32at(c->buf + off + 4);
		if ((size_t)len > c->size - off - 8)
			bad_config("record longer than the configuration");
		const unsigned char *p = c->buf + off + 8;
		switch (tag) {
		case TAG_END:
			end = 1;
			break;
		case TAG_ARGV:
			if (!nul_terminated(p, len))
				bad_config("argv is not NUL-terminated");
			c->argv = (const char *)p;
			c->argv_len = len;
			c->argc = 0;
			for (uint32_t i = 0; i < len; i++)
				c->argc += p[i] == 0;
			if (p[0] == 0)
				bad_config("process.args[0] is empty");
			break;
		case TAG_KEEP_FDS:
			if (len != 4)
				bad_config("keep-fds record size");
			c->keep = u32at(p);
			have_keep = 1;
			break;
		case TAG_MONITOR_FD:
			if (len != 4)
				bad_config("monitor-fd record size");
			c->monitor_fd = u32at(p);
			break;
		case TAG_RLIMIT:
			if (len != 24 || u32at(p) > 15)
				bad_config("rlimit record");
			break;
		case TAG_LANDLOCK:
			if (len != 24)
				bad_config("landlock record size");
			c->landlock = 1;
			c->ll_handled = u64at(p);
			c->ll_scoped = u64at(p + 8);
			c->ll_flags = u32at(p + 16);
			break;
		case TAG_LANDLOCK_PATH:
			if (len < 10 || !nul_terminated(p + 8, len - 8))
				bad_config("landlock path record");
			break;
		case TAG_TRACE:
			if (len != 8)
				bad_config("trace record size");
			c->trace_fd = u32at(p);
			break;
		case TAG_SECCOMP:
			if (len < 16 || (len - 8) % 8 != 0 || (len - 8) / 8 > 4096)
				bad_config("seccomp record: the program must be 1 to 4096 instructions");
			c->seccomp_flags = u32at(p);
			c->bpf = p + 8;
			c->bpf_len = len - 8;
			break;
		case TAG_BIND:
			if (len < 18 || !nul_terminated(p + 16, len - 16) || p[16] != '/')
				bad_config("bind record");
			break;
		case TAG_CAPS:
			if (len != 40)
				bad_config("capabilities record size");
			c->caps = 1;
			c->cap_eff = u64at(p);
			c->cap_prm = u64at(p + 8);
			c->cap_inh = u64at(p + 16);
			c->cap_bnd = u64at(p + 24);
			c->cap_amb = u64at(p + 32);
			break;
		default:
			bad_config("unknown record (the shim and plugbox are from different builds)");
		}
		off += 8 + (((size_t)len + 7) & ~(size_t)7);
		if (off > c->size && !end)
			bad_config("truncated configuration");
	}
	if (!c->argv)
		bad_config("no argv record");
	if (!have_keep || c->keep < 3)
		bad_config("no keep-fds record (at least 3)");
	if (c->monitor_fd >= 0 && (uint32_t)c->monitor_fd < c->keep)
		bad_config("the monitor socket is among the descriptors the plugin keeps");
	if ((c->seccomp_flags & SECCOMP_FILTER_FLAG_NEW_LISTENER) && c->monitor_fd < 0)
		bad_config("a seccomp listener is asked for without a monitor socket");
	if (c->caps && (!c->bpf || (c->seccomp_flags & SECCOMP_FILTER_FLAG_NEW_LISTENER)))
		bad_config("a capabilities record needs a seccomp filter without a listener");
}

struct statx_buf {
	uint32_t mask, blksize;
	uint64_t attributes;
	uint32_t nlink, uid, gid;
	uint16_t mode, pad0;
	uint64_t ino, size, blocks, attributes_mask;
	unsigned char rest[192];
};

static long fd_statx(long fd, unsigned mask, struct statx_buf *st)
{
	return sys5(NR_statx, fd, "", AT_EMPTY_PATH, mask, st);
}

/* check_binds fails unless each bind mount shows the host file create
 * checked: what create verified by path, libcontainer mounted by path. */
static void check_binds(const struct config *c)
{
	size_t off = 8;
	struct record r;
	while (next(c, &off, &r)) {
		if (r.tag != TAG_BIND)
			continue;
		const char *path = (const char *)r.data + 16;
		struct statx_buf st;
		long e = sys5(NR_statx, AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_TYPE | STATX_INO, &st);
		/* stx_dev_major and stx_dev_minor follow the four timestamps. */
		uint32_t major = u32at(st.rest + 72), minor = u32at(st.rest + 76);
		if (e == 0 && st.ino == u64at(r.data) && major == u32at(r.data + 8) && minor == u32at(r.data + 12))
			continue;
		struct msg m;
		start(&m, "bind mounts");
		put(&m, path);
		if (e) {
			put(&m, ": the mount point cannot be read");
			die(&m, -e);
		}
		put(&m, " shows another file than the host path create checked (device ");
		put_u(&m, major);
		put(&m, ":");
		put_u(&m, minor);
		put(&m, " inode ");
		put_u(&m, st.ino);
		put(&m, ", checked ");
		put_u(&m, u32at(r.data + 8));
		put(&m, ":");
		put_u(&m, u32at(r.data + 12));
		put(&m, " inode ");
		put_u(&m, u64at(r.data));
		put(&m, "): the host path was swapped after the check; find what replaces it, then run again");
		die(&m, 0);
	}
}

static void load(struct config *c, const char *arg)
{
	long fd = 0;
	if (!*arg)
		bad_config("usage: plugbox-shim CONFIG-FD (plugbox starts it; it is not a command)");
	for (const char *p = arg; *p; p++) {
		if (*p < '0' || *p > '9' || fd > 1 << 20)
			bad_config("usage: plugbox-shim CONFIG-FD (plugbox starts it; it is not a command)");
		fd = fd * 10 + (*p - '0');
	}
	struct statx_buf st;
	long r = fd_statx(fd, STATX_SIZE, &st);
	if (r < 0)
		fail("config", "read the configuration descriptor", -r);
	if (st.size < 16 || st.size > (64u << 20))
		bad_config("configuration size out of range");
	r = sys6(NR_mmap, 0, (long)st.size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (r < 0 && r > -4096)
		fail("config", "map the configuration", -r);
	c->buf = (const unsigned char *)r;
	c->size = st.size;
}

/* ---- 1. the executable ---- */

static const char *getenv_path(char **envp)
{
	for (; *envp; envp++) {
		const char *e = *envp;
		if (e[0] == 'P' && e[1] == 'A' && e[2] == 'T' && e[3] == 'H' && e[4] == '=')
			return e + 5;
	}
	return 0;
}

/* executable returns 0 when path names an executable regular file. */
static long executable(const char *path)
{
	long r = sys4(NR_faccessat2, AT_FDCWD, path, X_OK, AT_EACCESS);
	if (r == -38) /* ENOSYS: before Linux 5.8 */
		r = sys3(NR_faccessat, AT_FDCWD, path, X_OK);
	if (r < 0)
		return r;
	struct statx_buf st;
	r = sys5(NR_statx, AT_FDCWD, path, 0, STATX_TYPE, &st);
	if (r < 0)
		return r;
	return (st.mode & S_IFMT) == S_IFDIR ? -EACCES : 0;
}

static __attribute__((noreturn)) void exec_fail(const char *name, const char *why, long err)
{
	struct msg m;
	start(&m, "exec");
	put(&m, "process.args[0] \"");
	put(&m, name);
	put(&m, "\"");
	put(&m, why);
	die(&m, err);
}

/* resolve finds the plugin's executable as exec.LookPath does: a name with
 * a slash as it is, any other in the absolute directories of PATH. */
static const char *resolve(const char *name, char **envp, char *buf, size_t size)
{
	for (const char *p = name; *p; p++) {
		if (*p == '/') {
			long r = executable(name);
			if (r < 0)
				exec_fail(name, "", -r);
			return name;
		}
	}
	const char *path = getenv_path(envp);
	if (!path)
		exec_fail(name, ": not found (PATH is not set in process.env)", 0);
	long denied = 0;
	size_t nlen = slen(name);
	for (const char *dir = path;;) {
		const char *end = dir;
		while (*end && *end != ':')
			end++;
		size_t dlen = (size_t)(end - dir);
		/* Relative entries would resolve against the cwd: skipped. */
		if (dlen > 0 && dir[0] == '/' && dlen + 1 + nlen < size) {
			memcpy(buf, dir, dlen);
			buf[dlen] = '/';
			memcpy(buf + dlen + 1, name, nlen + 1);
			long r = executable(buf);
			if (r == 0)
				return buf;
			if (r == -EACCES)
				denied = r;
		}
		if (!*end)
			break;
		dir = end + 1;
	}
	struct msg m;
	start(&m, "exec");
	put(&m, "process.args[0] \"");
	put(&m, name);
	put(&m, "\": not found in PATH ");
	put(&m, path);
	die(&m, -denied);
}

/* ---- 2. descriptors ---- */

static void close_fds(const struct config *c)
{
	long r;
	unsigned keep = c->keep;
	if (c->monitor_fd >= 0) {
		unsigned mfd = (unsigned)c->monitor_fd;
		if (mfd > keep && (r = sys3(NR_close_range, keep, mfd - 1, 0)) < 0)
			fail("descriptors", "close_range", -r);
		keep = mfd + 1;
		if ((r = sys3(NR_fcntl, mfd, F_SETFD, FD_CLOEXEC)) < 0)
			fail("descriptors", "the monitor socket", -r);
	}
	if ((r = sys3(NR_close_range, keep, ~0u, 0)) < 0)
		fail("descriptors", "close_range (needs Linux 5.9)", -r);
}

/* ---- 3. Landlock ---- */

struct ll_ruleset_attr {
	uint64_t handled_access_fs, handled_access_net, scoped;
};

struct ll_path_beneath {
	uint64_t allowed_access;
	int32_t parent_fd;
} __attribute__((packed));

static void landlock(const struct config *c)
{
	if (!c->landlock)
		return;
	long abi = sys3(NR_landlock_create_ruleset, 0, 0, LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 1) {
		if (c->ll_flags & 1)
			return; /* bestEffort: run without it */
		fail("landlock", "this kernel has no Landlock (Linux 5.13+ with landlock in lsm=); set \"bestEffort\": true in annotation org.plugbox.landlock to run without it", abi < 0 ? -abi : 0);
	}
	/* Best effort within the ABI: drop the rights this kernel lacks. */
	uint64_t fs = abi >= 5 ? 0xffff : abi >= 3 ? 0x7fff : abi >= 2 ? 0x3fff : 0x1fff;
	struct ll_ruleset_attr attr = {
		.handled_access_fs = c->ll_handled & fs,
		.scoped = abi >= 6 ? c->ll_scoped & 0x3 : 0,
	};
	long rfd = sys3(NR_landlock_create_ruleset, &attr, sizeof attr, 0);
	if (rfd < 0)
		fail("landlock", "landlock_create_ruleset", -rfd);
	size_t off = 8;
	struct record r;
	while (next(c, &off, &r)) {
		if (r.tag != TAG_LANDLOCK_PATH)
			continue;
		const char *path = (const char *)r.data + 8;
		uint64_t access = u64at(r.data) & attr.handled_access_fs;
		long fd = sys4(NR_openat, AT_FDCWD, path, O_PATH | O_CLOEXEC, 0);
		if (fd == -ENOENT)
			continue; /* a path this rootfs lacks grants nothing */
		struct msg m;
		if (fd < 0) {
			start(&m, "landlock");
			put(&m, path);
			die(&m, -fd);
		}
		struct statx_buf st;
		long e = fd_statx(fd, STATX_TYPE, &st);
		if (e < 0) {
			start(&m, "landlock");
			put(&m, path);
			die(&m, -e);
		}
		if ((st.mode & S_IFMT) != S_IFDIR)
			access &= LL_FILE_RIGHTS;
		if (access) {
			struct ll_path_beneath pb = {.allowed_access = access, .parent_fd = (int32_t)fd};
			e = sys4(NR_landlock_add_rule, rfd, LANDLOCK_RULE_PATH_BENEATH, &pb, 0);
			if (e < 0) {
				start(&m, "landlock");
				put(&m, "add rule for ");
				put(&m, path);
				die(&m, -e);
			}
		}
		sys1(NR_close, fd);
	}
	long e = sys2(NR_landlock_restrict_self, rfd, 0);
	if (e < 0)
		fail("landlock", "landlock_restrict_self (process.noNewPrivileges must be true)", -e);
	sys1(NR_close, rfd);
}

/* ---- 4. rlimits ---- */

static const char *const rlimit_names[16] = {
	"RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_DATA", "RLIMIT_STACK", "RLIMIT_CORE", "RLIMIT_RSS",
	"RLIMIT_NPROC", "RLIMIT_NOFILE", "RLIMIT_MEMLOCK", "RLIMIT_AS", "RLIMIT_LOCKS",
	"RLIMIT_SIGPENDING", "RLIMIT_MSGQUEUE", "RLIMIT_NICE", "RLIMIT_RTPRIO", "RLIMIT_RTTIME",
};

static void rlimits(const struct config *c)
{
	size_t off = 8;
	struct record r;
	while (next(c, &off, &r)) {
		if (r.tag != TAG_RLIMIT)
			continue;
		uint32_t res = u32at(r.data);
		uint64_t lim[2] = {u64at(r.data + 8), u64at(r.data + 16)};
		long e = sys4(NR_prlimit64, 0, res, lim, 0);
		if (e < 0) {
			struct msg m;
			start(&m, "rlimits");
			put(&m, "process.rlimits ");
			put(&m, rlimit_names[res]);
			put(&m, " (raising a hard limit needs CAP_SYS_RESOURCE)");
			die(&m, -e);
		}
	}
}

/* ---- 5. seccomp and the listener handover ---- */

struct sock_fprog {
	unsigned short len;
	const void *filter;
};

struct iovec {
	const void *base;
	size_t len;
};

struct msghdr {
	void *name;
	uint32_t namelen;
	struct iovec *iov;
	size_t iovlen;
	void *control;
	size_t controllen;
	int flags;
};

/* lowest_free_fd is the number the kernel gives the next descriptor. */
static long lowest_free_fd(void)
{
	for (long fd = 0; fd < 1 << 20; fd++)
		if (sys2(NR_fcntl, fd, F_GETFD) == -EBADF)
			return fd;
	return -1;
}

static void seccomp(const struct config *c)
{
	if (!c->bpf)
		return;
	struct sock_fprog prog = {.len = (unsigned short)(c->bpf_len / 8), .filter = c->bpf};
	int listen = (c->seccomp_flags & SECCOMP_FILTER_FLAG_NEW_LISTENER) != 0;
	long lfd = -1, r;
	if (listen) {
		/* The kernel attaches this process's credentials (SO_PASSCRED on
		 * the monitor's end): the monitor learns our pid from the kernel,
		 * translated into its own pid namespace, and the listener's number. */
		lfd = lowest_free_fd();
		unsigned char note[12];
		uint32_t n = (uint32_t)lfd;
		memcpy(note, announce_tag, 8);
		memcpy(note + 8, &n, 4);
		struct iovec iov = {note, sizeof note};
		struct msghdr mh = {.iov = &iov, .iovlen = 1};
		r = sys3(NR_sendmsg, c->monitor_fd, &mh, 0x4000 /* MSG_NOSIGNAL */);
		if (r < 0)
			fail("monitor", "tell the monitor about the listener", -r);
	}
	r = sys3(NR_seccomp, SECCOMP_SET_MODE_FILTER, c->seccomp_flags, &prog);
	if (r < 0)
		fail("seccomp", r == -EACCES && c->caps ? "seccomp(SECCOMP_SET_MODE_FILTER) (without no_new_privs it needs CAP_SYS_ADMIN)"
				: r == -EACCES ? "seccomp(SECCOMP_SET_MODE_FILTER) (process.noNewPrivileges must be true)"
				: r == -EMFILE ? "seccomp(SECCOMP_SET_MODE_FILTER) (process.rlimits RLIMIT_NOFILE leaves no descriptor for the listener)"
					       : "seccomp(SECCOMP_SET_MODE_FILTER)",
		     -r);
	if (!listen)
		return;
	/* From here on the plugin's filter applies. The monitor takes the
	 * listener with pidfd_getfd and then writes one byte; plugbox checked
	 * on the host that the profile allows this read and the execve. The
	 * listener and the socket are close-on-exec. */
	if (r != lfd)
		fail("monitor", "the seccomp listener did not get the announced descriptor number", 0);
	for (;;) {
		unsigned char b;
		r = sys3(NR_read, c->monitor_fd, &b, 1);
		if (r == 1)
			return;
		if (r == 0)
			fail("monitor", "the monitor went away without taking the seccomp listener", 0);
		if (r != -EINTR)
			fail("monitor", "wait for the monitor", -r);
	}
}

/* ---- the trace page ---- */

struct timespec64 {
	int64_t sec, nsec;
};

static int64_t now(void)
{
	struct timespec64 ts;
	if (sys2(NR_clock_gettime, 1 /* CLOCK_MONOTONIC */, &ts) < 0)
		return 0;
	return ts.sec * 1000000000 + ts.nsec;
}

/* Records of 16 bytes: int64 time, uint32 stage, uint32 0. Tracing is
 * best effort: a trace descriptor that cannot be mapped records nothing. */
static uint64_t *trace_page;
static unsigned trace_n;

static void trace_open(const struct config *c)
{
	if (c->trace_fd < 0)
		return;
	long r = sys6(NR_mmap, 0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, c->trace_fd, 0);
	if (r < 0 && r > -4096)
		return;
	trace_page = (uint64_t *)r;
}

static void trace(uint32_t stage)
{
	if (!trace_page || trace_n >= 4096 / 16)
		return;
	trace_page[2 * trace_n] = (uint64_t)now();
	trace_page[2 * trace_n + 1] = stage;
	trace_n++;
}

/* ---- 6. capabilities, for a filter loaded without no_new_privs ---- */

struct cap_header {
	uint32_t version;
	int32_t pid;
};

struct cap_data {
	uint32_t effective, permitted, inheritable;
};

static __attribute__((noreturn)) void cap_fail(const char *what, long cap, long err)
{
	struct msg m;
	start(&m, "capabilities");
	put(&m, what);
	if (cap >= 0) {
		put(&m, " ");
		put_u(&m, (unsigned long)cap);
	}
	die(&m, err);
}

/* caps_before_filter sets the bounding and ambient sets of the
 * configuration, which do not touch the effective CAP_SYS_ADMIN the filter
 * needs, and works out the one capset(2) left for after the filter: the
 * only call the shim makes under the filter besides execve (the host
 * checked that the profile allows both). */
static void caps_before_filter(const struct config *c, struct cap_data set[2], int *need_set)
{
	if (!c->caps)
		return;
	struct cap_header h = {LINUX_CAPABILITY_VERSION_3, 0};
	struct cap_data cur[2];
	long r = sys2(NR_capget, &h, cur);
	if (r < 0)
		cap_fail("capget", -1, -r);
	uint64_t eff = cur[0].effective | (uint64_t)cur[1].effective << 32;
	uint64_t prm = cur[0].permitted | (uint64_t)cur[1].permitted << 32;
	uint64_t inh = cur[0].inheritable | (uint64_t)cur[1].inheritable << 32;
	for (long cap = 0; cap < 64; cap++) {
		r = sys2(NR_prctl, PR_CAPBSET_READ, cap);
		if (r < 0)
			break; /* EINVAL: beyond the kernel's last capability */
		uint64_t bit = 1ull << cap;
		int bounded = r == 1;
		if (sys6(NR_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0, 0) == 1 && !(c->cap_amb & bit) &&
		    (r = sys6(NR_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_LOWER, cap, 0, 0, 0)) < 0)
			cap_fail("prctl(PR_CAP_AMBIENT_LOWER) of capability", cap, -r);
		/* Needs CAP_SETPCAP, which the drop leaves effective. */
		if (bounded && !(c->cap_bnd & bit) &&
		    (r = sys2(NR_prctl, PR_CAPBSET_DROP, cap)) < 0)
			cap_fail("prctl(PR_CAPBSET_DROP) of capability", cap, -r);
	}
	/* As libcontainer's capset, within what the process has: no set grows
	 * (the kernel would refuse). */
	uint64_t nprm = c->cap_prm & prm, neff = c->cap_eff & nprm, ninh = c->cap_inh & inh;
	*need_set = neff != eff || nprm != prm || ninh != inh;
	set[0] = (struct cap_data){(uint32_t)neff, (uint32_t)nprm, (uint32_t)ninh};
	set[1] = (struct cap_data){(uint32_t)(neff >> 32), (uint32_t)(nprm >> 32), (uint32_t)(ninh >> 32)};
}

/* caps_after_filter drops CAP_SYS_ADMIN (and whatever else the
 * configuration lacks) from the effective and permitted sets. */
static void caps_after_filter(const struct cap_data set[2], int need_set)
{
	if (!need_set)
		return;
	struct cap_header h = {LINUX_CAPABILITY_VERSION_3, 0};
	long r = sys2(NR_capset, &h, set);
	if (r < 0)
		cap_fail("capset", -1, -r);
}

/* ---- main ---- */

__attribute__((noreturn, used)) void shim_main(long *sp)
{
	long argc = sp[0];
	char **argv = (char **)(sp + 1);
	char **envp = argv + argc + 1;
	/* No other process of the sandbox may read this one's memory or
	 * descriptors (plugbox exec starts beside a running plugin). */
	sys2(NR_prctl, PR_SET_DUMPABLE, 0);
	if (argc != 2)
		bad_config("usage: plugbox-shim CONFIG-FD (plugbox starts it; it is not a command)");
	struct config c = {.monitor_fd = -1, .trace_fd = -1};
	load(&c, argv[1]);
	parse(&c);
	check_binds(&c);
	trace_open(&c);
	trace(TRACE_START);

	long r = sys6(NR_mmap, 0, (long)(c.argc + 1) * (long)sizeof(char *), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r < 0 && r > -4096)
		fail("exec", "memory for the plugin's argv", -r);
	const char **pargv = (const char **)r;
	const char *s = c.argv;
	for (uint32_t i = 0; i < c.argc; i++) {
		pargv[i] = s;
		s += slen(s) + 1;
	}
	pargv[c.argc] = 0;

	static char pathbuf[4096];
	const char *path = resolve(pargv[0], envp, pathbuf, sizeof pathbuf);
	trace(TRACE_RESOLVED);
	close_fds(&c);
	trace(TRACE_FDS);
	landlock(&c);
	trace(TRACE_LANDLOCK);
	rlimits(&c);
	trace(TRACE_RLIMITS);
	struct cap_data capset_data[2];
	int need_capset = 0;
	caps_before_filter(&c, capset_data, &need_capset);
	/* The last record: under the filter the shim makes no call of its own
	 * but the monitor's read, a capset without no_new_privs, and the
	 * execve. */
	trace(TRACE_FILTER);
	seccomp(&c);
	caps_after_filter(capset_data, need_capset);
	r = sys3(NR_execve, path, pargv, envp);
	struct msg m;
	start(&m, "exec");
	put(&m, path);
	die(&m, -r);
}
