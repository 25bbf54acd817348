/*
 * The workloads of the stack and function tools' host tests, built by the tests with the
 * system's cc in several ways (frame pointers or not, PIE or not, the hot function in a
 * shared library). It waits for a byte on stdin before it starts, so that a tool can be
 * pointed at its pid first, and says "done" on stdout at the end.
 *
 *   cwork hot SECS          spin SECS seconds in hot_marker_fn (via caller_fn)
 *   cwork calls N M         call counted_fn N times (each makes one getppid() syscall) and
 *                           counted_other_fn M times
 *   cwork syscalls N M [MS] getppid() N times, [sleep MS ms,] getpgid(0) M times (raw syscalls)
 *   cwork sleepfn MS N      call sleepy_fn N times; each sleeps MS milliseconds
 *   cwork recurse D N       call recurse_fn N times, each D calls deep (D - 1 recursive)
 *   cwork block MS1 MS2     sleep MS1 ms in sleep_marker_fn, then block MS2 ms in a read()
 *                           in read_marker_fn (a child writes the pipe after MS2 ms)
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/wait.h>

volatile unsigned long sink;

#ifdef HOT_IN_LIBRARY
void hot_marker_fn(double secs);
#else
#include "libhot.c"
#endif

__attribute__((noinline)) void caller_fn(double secs)
{
	hot_marker_fn(secs);
	sink++;
}

__attribute__((noinline)) void counted_fn(void)
{
	__asm__ volatile("" ::: "memory");
	sink += syscall(SYS_getppid);
}

__attribute__((noinline)) void counted_other_fn(void)
{
	__asm__ volatile("" ::: "memory");
	sink += 2;
}

__attribute__((noinline)) void sleepy_fn(long ms)
{
	struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&t, NULL);
	sink++;
}

/* Work after the call keeps it a call (no tail call turned into a jump). */
__attribute__((noinline)) void recurse_fn(long depth)
{
	if (depth > 1)
		recurse_fn(depth - 1);
	sink++;
}

__attribute__((noinline)) static void sleep_inner(long ms)
{
	struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&t, NULL);
}

/* The blocking calls sit one call below the marker functions: a frame-pointer walk that
 * starts in libc (built without them) finds the caller of the function libc was called from. */
__attribute__((noinline)) void sleep_marker_fn(long ms)
{
	sleep_inner(ms);
	sink++;
}

__attribute__((noinline)) static void read_inner(int fd)
{
	char c;
	if (read(fd, &c, 1) != 1)
		exit(3);
}

__attribute__((noinline)) void read_marker_fn(long ms)
{
	int p[2];
	if (pipe(p))
		exit(2);
	pid_t child = fork();
	if (child == 0) {
		struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };
		nanosleep(&t, NULL);
		if (write(p[1], "x", 1) != 1)
			_exit(1);
		_exit(0);
	}
	read_inner(p[0]);
	waitpid(child, NULL, 0);
	sink++;
}

int main(int argc, char **argv)
{
	char go;
	if (argc < 3)
		return 2;
	if (read(0, &go, 1) != 1)
		return 2;
	if (!strcmp(argv[1], "hot")) {
		caller_fn(atof(argv[2]));
	} else if (!strcmp(argv[1], "calls") && argc > 3) {
		for (long i = 0; i < atol(argv[2]); i++)
			counted_fn();
		for (long i = 0; i < atol(argv[3]); i++)
			counted_other_fn();
	} else if (!strcmp(argv[1], "syscalls") && argc > 3) {
		for (long i = 0; i < atol(argv[2]); i++)
			syscall(SYS_getppid);
		if (argc > 4)
			sleep_inner(atol(argv[4]));
		for (long i = 0; i < atol(argv[3]); i++)
			syscall(SYS_getpgid, 0);
	} else if (!strcmp(argv[1], "sleepfn") && argc > 3) {
		for (long i = 0; i < atol(argv[3]); i++)
			sleepy_fn(atol(argv[2]));
	} else if (!strcmp(argv[1], "recurse") && argc > 3) {
		for (long i = 0; i < atol(argv[3]); i++)
			recurse_fn(atol(argv[2]));
	} else if (!strcmp(argv[1], "block") && argc > 3) {
		sleep_marker_fn(atol(argv[2]));
		read_marker_fn(atol(argv[3]));
	} else {
		return 2;
	}
	printf("done\n");
	fflush(stdout);
	return 0;
}
