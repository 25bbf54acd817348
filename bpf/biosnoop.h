/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/* biosnoop: events and options shared by biosnoop.bpf.c and the agent (tools/biosnoop.rs). */
#ifndef EBPF_RUST_BIOSNOOP_H
#define EBPF_RUST_BIOSNOOP_H

/* Sent at the completion of each request (block_rq_complete). */
struct biosnoop_event {
	__u64 time_ns; /* CLOCK_BOOTTIME of the completion */
	__u64 latency_ns; /* issue to completion */
	__u64 queue_ns; /* made to issue, when `origin` */
	__u64 sector;
	__u32 bytes;
	__u32 cmd_flags;
	__u32 dev; /* the kernel's dev_t of the disk */
	__u32 pid; /* the process that made the request, when `origin` */
	__u32 origin; /* 1: pid, comm and queue_ns are known */
	__u32 pad;
	char comm[16];
};

/* Options, written into .rodata by the agent before load. */
struct biosnoop_config {
	__u64 min_ns; /* -m */
	__u32 dev; /* -d */
	__u8 filter_dev;
	__u8 pad[3];
};

#endif
