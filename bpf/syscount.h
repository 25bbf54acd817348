/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/* syscount: counters and options shared by syscount.bpf.c and the agent (tools/syscount.rs). */
#ifndef EBPF_RUST_SYSCOUNT_H
#define EBPF_RUST_SYSCOUNT_H

/* Distinct keys (syscalls, or processes with -P) counted per interval. */
#define SYSCOUNT_MAX_KEYS 10240
/* Threads inside a syscall at once whose start time is kept (-L). */
#define SYSCOUNT_MAX_THREADS 10240

/* Keys of syscalls that came in through the 32-bit (compat) entry: the number with this bit. */
#define SYSCOUNT_KEY_COMPAT 0x80000000U

/* One counter: the value of map `counts`, keyed by syscall number (SYSCOUNT_KEY_COMPAT set for
 * the 32-bit ABI's numbers), or by process id with -P. */
struct syscount_value {
	__u64 count;
	__u64 total_ns; /* time spent inside the syscalls (-L only) */
	char comm[16]; /* with -P: the command name at the latest call counted */
};

/* Options, written into .rodata by the agent before load. */
struct syscount_config {
	__u32 target_pid;
	__u32 errno_value; /* with filter_errno: count only returns of -errno_value */
	__u8 filter_pid;
	__u8 failures_only;
	__u8 filter_errno;
	__u8 latency;
	__u8 per_process;
	__u8 pad[3];
};

#endif
