/* SPDX-License-Identifier: MIT */
/*
 * The event generator of ci/bench's rate runs: failing openat() calls at a set rate.
 *
 *   bench-evgen RATE SECONDS PATH
 *
 * Waits for a line on stdin (the tracer attaches first, to this pid), then calls
 * openat(AT_FDCWD, PATH, O_RDONLY) RATE times a second for SECONDS (RATE 0: as fast as it
 * can), paced against CLOCK_MONOTONIC (read through the vDSO: no system call of its own), and
 * prints "<calls> <seconds>". Each call is one event for opensnoop.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64

static double since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

int main(int argc, char **argv)
{
	struct timespec t0;
	long rate, calls = 0, due, n, fd;
	double secs, el;
	char go;

	if (argc != 4) {
		fprintf(stderr, "usage: bench-evgen RATE SECONDS PATH\n");
		return 2;
	}
	rate = atol(argv[1]);
	secs = atof(argv[2]);
	if (read(0, &go, 1) != 1)
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		el = since(&t0);
		if (el >= secs)
			break;
		due = rate ? (long)((double)rate * el) + 1 : calls + BATCH;
		for (n = 0; calls < due && n < BATCH; n++, calls++) {
			fd = syscall(SYS_openat, AT_FDCWD, argv[3], O_RDONLY);
			if (fd >= 0)
				close((int)fd);
		}
	}
	printf("%ld %.6f\n", calls, since(&t0));
	return 0;
}
