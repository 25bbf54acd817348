/* SPDX-License-Identifier: MIT */
/*
 * One io_uring request, for the filewatch tests: a file opened or removed with no open(),
 * unlink() or rename() syscall of its own. Raw syscalls, no liburing.
 *
 *   uring openat PATH      IORING_OP_OPENAT (O_RDONLY): prints the descriptor's result
 *   uring unlinkat PATH    IORING_OP_UNLINKAT
 *   uring renameat OLD NEW IORING_OP_RENAMEAT
 *
 * Exits 0 when the request completed with success, 1 when it failed (the result on stdout),
 * 3 when io_uring is missing or disabled here.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/io_uring.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct io_uring_params p;
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqes;
	unsigned *sq_tail, *sq_array, *cq_head, *cq_tail, *sq_mask, *cq_mask;
	char *sq, *cq;
	int fd, res;

	if (argc < 3)
		return 2;
	memset(&p, 0, sizeof(p));
	fd = syscall(__NR_io_uring_setup, 4, &p);
	if (fd < 0) {
		perror("io_uring_setup");
		return 3;
	}
	sq = mmap(0, p.sq_off.array + p.sq_entries * sizeof(unsigned), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQ_RING);
	cq = mmap(0, p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe),
		  PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_CQ_RING);
	sqes = mmap(0, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
	if (sq == MAP_FAILED || cq == MAP_FAILED || sqes == MAP_FAILED) {
		perror("mmap");
		return 3;
	}
	sq_tail = (unsigned *)(sq + p.sq_off.tail);
	sq_mask = (unsigned *)(sq + p.sq_off.ring_mask);
	sq_array = (unsigned *)(sq + p.sq_off.array);
	cq_head = (unsigned *)(cq + p.cq_off.head);
	cq_tail = (unsigned *)(cq + p.cq_off.tail);
	cq_mask = (unsigned *)(cq + p.cq_off.ring_mask);
	cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);

	memset(&sqes[0], 0, sizeof(sqes[0]));
	sqes[0].fd = AT_FDCWD;
	sqes[0].addr = (unsigned long)argv[2];
	if (!strcmp(argv[1], "openat")) {
		sqes[0].opcode = IORING_OP_OPENAT;
		sqes[0].open_flags = O_RDONLY;
	} else if (!strcmp(argv[1], "unlinkat")) {
		sqes[0].opcode = IORING_OP_UNLINKAT;
	} else if (!strcmp(argv[1], "renameat") && argc > 3) {
		sqes[0].opcode = IORING_OP_RENAMEAT;
		sqes[0].len = AT_FDCWD;
		sqes[0].addr2 = (unsigned long)argv[3];
	} else {
		return 2;
	}
	sq_array[*sq_tail & *sq_mask] = 0;
	__atomic_store_n(sq_tail, *sq_tail + 1, __ATOMIC_RELEASE);
	if (syscall(__NR_io_uring_enter, fd, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0) {
		perror("io_uring_enter");
		return 3;
	}
	while (__atomic_load_n(cq_tail, __ATOMIC_ACQUIRE) == *cq_head)
		;
	res = cqes[*cq_head & *cq_mask].res;
	__atomic_store_n(cq_head, *cq_head + 1, __ATOMIC_RELEASE);
	printf("%d\n", res);
	/* EINVAL: an opcode this kernel does not know. */
	if (res == -22)
		return 3;
	return res < 0;
}
