/*
 * firstinsn: the bench's plugin. Its first instructions read CLOCK_MONOTONIC
 * and print "first-instruction NS" on stdout, then it exits 0: a `true`
 * that says when it started, for the time from `start` to the plugin.
 * Freestanding (no libc, raw system calls), so nothing runs before it.
 */
#if defined(__x86_64__)
#define NR_write 1
#define NR_exit_group 231
#define NR_clock_gettime 228
static long sys3(long n, long a, long b, long c)
{
	long ret;
	__asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
	return ret;
}
__asm__(".text\n.global _start\n_start:\n\tand $-16, %rsp\n\tcall entry\n\thlt\n");
#elif defined(__aarch64__)
#define NR_write 64
#define NR_exit_group 94
#define NR_clock_gettime 113
static long sys3(long n, long a, long b, long c)
{
	register long x8 __asm__("x8") = n;
	register long x0 __asm__("x0") = a;
	register long x1 __asm__("x1") = b;
	register long x2 __asm__("x2") = c;
	__asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2) : "memory");
	return x0;
}
__asm__(".text\n.global _start\n_start:\n\tbl entry\n\tbrk #0\n");
#else
#error "firstinsn is written for x86_64 and aarch64"
#endif

struct timespec64 {
	long sec, nsec;
};

__attribute__((noreturn, used)) void entry(void)
{
	struct timespec64 ts;
	sys3(NR_clock_gettime, 1 /* CLOCK_MONOTONIC */, (long)&ts, 0);
	unsigned long ns = (unsigned long)ts.sec * 1000000000ul + (unsigned long)ts.nsec;
	char buf[48] = "first-instruction ";
	char digits[24];
	int n = 0, i = 18;
	do {
		digits[n++] = (char)('0' + ns % 10);
		ns /= 10;
	} while (ns);
	while (n)
		buf[i++] = digits[--n];
	buf[i++] = '\n';
	sys3(NR_write, 1, (long)buf, i);
	for (;;)
		sys3(NR_exit_group, 0, 0, 0);
}
