/* SPDX-License-Identifier: MIT */
/*
 * The workload of ci/bench: one kind of event, at a set rate or as fast as it goes.
 *
 *   bench-evgen MODE RATE SECONDS [ARG]     RATE 0: as fast as it can
 *   bench-evgen MODE -N 0 [ARG]             exactly N operations, as fast as it can
 *
 * MODE: open (a failing openat(ARG)), stat (a failing newfstatat(ARG)), getppid, read (a
 * one-byte pread of file ARG), direct (a 4 KiB O_DIRECT pread of block device ARG, one block
 * request each), fork (fork and _exit, waited for), exec (fork and exec ARG, by default
 * /bin/true, waited for), connect (a TCP connection to a listener of its own on
 * 127.0.0.1 port ARG: connect, accept, both closed, the client with a reset so that no
 * TIME_WAIT uses up the ports). Waits for a line on stdin first (the tracers attach to
 * this pid before), paces against CLOCK_MONOTONIC (the vDSO: no system call of its own), and
 * prints "<operations> <seconds>".
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64

static double since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

static const char *arg;
static int file_fd = -1;
/* The O_DIRECT buffer: aligned to any logical block size. */
static char block[4096] __attribute__((aligned(4096)));
static int listen_fd = -1;
static struct sockaddr_in listen_addr;

/* One connection to our own listener: connect, accept, close both (the client with a reset). */
static void connection(void)
{
	struct linger reset = { .l_onoff = 1, .l_linger = 0 };
	int c = socket(AF_INET, SOCK_STREAM, 0), s;

	if (c < 0 || connect(c, (struct sockaddr *)&listen_addr, sizeof(listen_addr)) < 0)
		exit(1);
	s = accept(listen_fd, NULL, NULL);
	if (s < 0)
		exit(1);
	setsockopt(c, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
	close(c);
	close(s);
}

static void op(const char *mode)
{
	char c;
	struct stat st;
	long fd;
	pid_t pid;

	switch (mode[0]) {
	case 'o': /* open */
		fd = syscall(SYS_openat, AT_FDCWD, arg, O_RDONLY);
		if (fd >= 0)
			close((int)fd);
		break;
	case 's': /* stat */
		syscall(SYS_newfstatat, AT_FDCWD, arg, &st, 0);
		break;
	case 'g': /* getppid */
		syscall(SYS_getppid);
		break;
	case 'r': /* read */
		if (pread(file_fd, &c, 1, 0) < 0)
			exit(1);
		break;
	case 'd': /* direct */
		if (pread(file_fd, block, sizeof(block), 0) != (ssize_t)sizeof(block))
			exit(1);
		break;
	case 'c': /* connect */
		connection();
		break;
	case 'f': /* fork */
	case 'e': /* exec */
		pid = fork();
		if (pid == 0) {
			if (mode[0] == 'e')
				execl(arg, arg, (char *)NULL);
			_exit(0);
		}
		if (pid > 0)
			waitpid(pid, NULL, 0);
		break;
	}
}

int main(int argc, char **argv)
{
	struct timespec t0;
	long rate, ops = 0, due, n, limit = -1;
	const char *mode;
	double secs, el;
	char go;

	if (argc < 4 || !strchr("osgrdfec", argv[1][0])) {
		fprintf(stderr, "usage: bench-evgen open|stat|getppid|read|direct|fork|exec|connect RATE|-N SECONDS [ARG]\n");
		return 2;
	}
	mode = argv[1];
	rate = atol(argv[2]);
	if (rate < 0) {
		limit = -rate;
		rate = 0;
	}
	secs = atof(argv[3]);
	arg = argc > 4 ? argv[4] : (mode[0] == 'e' ? "/bin/true" : "/nonexistent/bench-evgen");
	if ((mode[0] == 'r' || mode[0] == 'd') &&
	    (file_fd = open(arg, O_RDONLY | (mode[0] == 'd' ? O_DIRECT : 0))) < 0) {
		perror(arg);
		return 1;
	}
	if (mode[0] == 'c') {
		int one = 1;

		listen_addr.sin_family = AF_INET;
		listen_addr.sin_port = htons((unsigned short)atoi(arg));
		listen_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		listen_fd = socket(AF_INET, SOCK_STREAM, 0);
		setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&listen_addr, sizeof(listen_addr)) ||
		    listen(listen_fd, 64)) {
			perror("listen");
			return 1;
		}
		socklen_t len = sizeof(listen_addr);

		getsockname(listen_fd, (struct sockaddr *)&listen_addr, &len);
	}
	if (read(0, &go, 1) != 1)
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		el = since(&t0);
		if (limit >= 0 ? ops >= limit : el >= secs)
			break;
		due = rate ? (long)((double)rate * el) + 1 : ops + BATCH;
		if (limit >= 0 && due > limit)
			due = limit;
		for (n = 0; ops < due && n < BATCH; n++, ops++)
			op(mode);
	}
	printf("%ld %.6f\n", ops, since(&t0));
	return 0;
}
