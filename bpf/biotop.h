/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/* biotop: counters and options shared by biotop.bpf.c and the agent (tools/biotop.rs). */
#ifndef EBPF_RUST_BIOTOP_H
#define EBPF_RUST_BIOTOP_H

/* Rows (process, disk and direction) counted per interval. */
#define BIOTOP_MAX_ROWS 10240

/* A row: what one process read or wrote on one disk. */
struct biotop_key {
	__u32 pid; /* the process that made the requests (0 if unknown) */
	__u32 dev; /* the kernel's dev_t of the disk */
	__u32 write; /* 1: writes, 0: everything else (reads, flushes, discards) */
	__u32 pad;
	char comm[16];
};

struct biotop_value {
	__u64 io; /* requests completed */
	__u64 bytes;
	__u64 ns; /* issue to completion, summed */
};

/* Options, written into .rodata by the agent before load. */
struct biotop_config {
	__u32 target_pid;
	__u8 filter_pid;
	__u8 pad[3];
};

#endif
