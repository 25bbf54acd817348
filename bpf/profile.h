/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/* profile: the counted stacks and options shared by profile.bpf.c and the agent (tools/profile.rs). */
#ifndef EBPF_RUST_PROFILE_H
#define EBPF_RUST_PROFILE_H

/* Distinct (process, user stack, kernel stack) keys counted (BCC: --hash-storage-size). */
#define PROFILE_MAX_ENTRIES 10240

/* The key of map `counts`; the value is the number of samples. */
struct profile_key {
	__u32 pid; /* thread group id */
	__s32 user_stack_id; /* < 0: none (-EFAULT: a kernel thread), or lost */
	__s32 kernel_stack_id;
	char comm[16];
};

/* Options, written into .rodata by the agent before load. */
struct profile_config {
	__u32 pid;
	__u32 tid;
	__u32 cpu;
	__u8 filter_pid;
	__u8 filter_tid;
	__u8 filter_cpu;
	__u8 user; /* user stacks */
	__u8 kernel; /* kernel stacks */
	__u8 include_idle;
	__u8 pad[2];
};

#endif
