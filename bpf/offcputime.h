/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/* offcputime: blocked time by stack, shared by offcputime.bpf.c and the agent (tools/offcputime.rs). */
#ifndef EBPF_RUST_OFFCPUTIME_H
#define EBPF_RUST_OFFCPUTIME_H

/* Distinct (thread, user stack, kernel stack) keys summed. */
#define OFFCPUTIME_MAX_ENTRIES 10240
/* Threads off CPU at once whose switch-out is remembered. */
#define OFFCPUTIME_MAX_THREADS 16384

/* The key of map `info`; the value is the total time off CPU, in nanoseconds. */
struct offcputime_key {
	__u32 pid; /* thread id */
	__u32 tgid;
	__s32 user_stack_id;
	__s32 kernel_stack_id;
	char comm[16];
};

/* A thread switched out: when, and with which stacks. */
struct offcputime_start {
	__u64 time_ns;
	struct offcputime_key key;
};

/* Options, written into .rodata by the agent before load. */
struct offcputime_config {
	__u64 min_ns;
	__u64 max_ns;
	__u32 tgid;
	__u32 tid;
	__u32 state;
	__u8 filter_tgid;
	__u8 filter_tid;
	__u8 filter_state;
	__u8 user_threads_only;
	__u8 kernel_threads_only;
	__u8 user; /* user stacks */
	__u8 kernel; /* kernel stacks */
	__u8 pad[5];
};

#endif
