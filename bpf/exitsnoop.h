/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/* exitsnoop: events and options shared by exitsnoop.bpf.c and the agent (tools/exitsnoop.rs). */
#ifndef EBPF_RUST_EXITSNOOP_H
#define EBPF_RUST_EXITSNOOP_H

/* Sent at sched:sched_process_exit, for a process's last thread (or every thread with -T). */
struct exitsnoop_event {
	__u64 time_ns; /* CLOCK_BOOTTIME of the exit */
	__u64 age_ns; /* since the process (with -T: the thread) started, CLOCK_MONOTONIC */
	__u32 pid;
	__u32 tid;
	__u32 ppid;
	/* task->exit_code, a wait(2) status: exit status << 8, or the signal | 0x80 for a core */
	__s32 status;
	char comm[16];
};

/* Options, written into .rodata by the agent before load. */
struct exitsnoop_config {
	__u32 target_pid;
	__u8 filter_pid;
	__u8 failed_only;
	__u8 threads;
	__u8 pad;
};

#endif
