/* SPDX-License-Identifier: MIT */
/*
 * A 32-bit program for the tests of the compat (32-bit) syscall entry of a 64-bit kernel:
 * i386 (int $0x80) for x86_64 hosts, arm EABI (svc 0) for arm64 boards. Freestanding (no libc:
 * no 32-bit libc is needed to build it): `cc -m32 -nostdlib -static -ffreestanding` or
 * `arm-linux-gnueabihf-gcc -nostdlib -static -ffreestanding`.
 *
 *   compat32 open PATH | openat PATH | creat PATH | stat64 PATH | fstatat64 PATH | unlink PATH
 *   compat32 rename OLD NEW | getpid N | exec PATH [ARG...]
 *
 * Exits 0 when the calls were made (whatever they returned), 2 on bad arguments.
 */

/* The two 32-bit tables agree but for the later calls, openat and fstatat64. */
#define NR_exit 1
#define NR_open 5
#define NR_creat 8
#define NR_execve 11
#define NR_unlink 10
#define NR_getpid 20
#define NR_rename 38
#define NR_stat64 195

#if defined(__i386__)
#define NR_openat 295
#define NR_fstatat64 300

__asm__(".globl _start\n"
	"_start:\n"
	"	mov %esp, %eax\n"
	"	and $-16, %esp\n"
	"	sub $12, %esp\n"
	"	push %eax\n"
	"	call entry\n"
	"	hlt\n");

static long sys(long n, long a, long b, long c, long d)
{
	long r;

	__asm__ volatile("int $0x80"
			 : "=a"(r)
			 : "a"(n), "b"(a), "c"(b), "d"(c), "S"(d)
			 : "memory");
	return r;
}
#elif defined(__arm__)
#define NR_openat 322
#define NR_fstatat64 327

__asm__(".globl _start\n"
	"_start:\n"
	"	mov r0, sp\n"
	"	bl entry\n");

static long sys(long n, long a, long b, long c, long d)
{
	register long r7 __asm__("r7") = n;
	register long r0 __asm__("r0") = a;
	register long r1 __asm__("r1") = b;
	register long r2 __asm__("r2") = c;
	register long r3 __asm__("r3") = d;

	__asm__ volatile("svc 0" : "+r"(r0) : "r"(r7), "r"(r1), "r"(r2), "r"(r3) : "memory");
	return r0;
}
#else
#error "a 32-bit x86 or arm build"
#endif

#define AT_FDCWD -100

static char statbuf[256];

static int eq(const char *a, const char *b)
{
	while (*a && *a == *b) {
		a++;
		b++;
	}
	return *a == *b;
}

static long number(const char *s)
{
	long n = 0;

	while (*s >= '0' && *s <= '9')
		n = n * 10 + (*s++ - '0');
	return n;
}

__attribute__((noreturn, used)) void entry(long *sp)
{
	long argc = sp[0], i, n;
	char **argv = (char **)(sp + 1);
	char **envp = argv + argc + 1;
	const char *cmd = argc > 1 ? argv[1] : "";
	const char *a = argc > 2 ? argv[2] : 0;
	int rc = 0;

	if (!a)
		rc = 2;
	else if (eq(cmd, "open"))
		sys(NR_open, (long)a, 0, 0, 0);
	else if (eq(cmd, "openat"))
		sys(NR_openat, AT_FDCWD, (long)a, 0, 0);
	else if (eq(cmd, "creat"))
		sys(NR_creat, (long)a, 0600, 0, 0);
	else if (eq(cmd, "stat64"))
		sys(NR_stat64, (long)a, (long)statbuf, 0, 0);
	else if (eq(cmd, "fstatat64"))
		sys(NR_fstatat64, AT_FDCWD, (long)a, (long)statbuf, 0);
	else if (eq(cmd, "unlink"))
		sys(NR_unlink, (long)a, 0, 0, 0);
	else if (eq(cmd, "rename") && argc > 3)
		sys(NR_rename, (long)a, (long)argv[3], 0, 0);
	else if (eq(cmd, "getpid"))
		for (i = 0, n = number(a); i < n; i++)
			sys(NR_getpid, 0, 0, 0, 0);
	else if (eq(cmd, "exec"))
		rc = sys(NR_execve, (long)a, (long)(argv + 2), (long)envp, 0) ? 1 : 0;
	else
		rc = 2;
	sys(NR_exit, rc, 0, 0, 0);
	for (;;)
		;
}
