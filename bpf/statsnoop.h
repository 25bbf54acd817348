/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/* statsnoop: events and options shared by statsnoop.bpf.c and the agent (tools/statsnoop.rs). */
#ifndef EBPF_RUST_STATSNOOP_H
#define EBPF_RUST_STATSNOOP_H

#include "syscalls.h"

/* The longest path the kernel takes (PATH_MAX, with its NUL): paths are never cut short. */
#define STATSNOOP_PATH_MAX 4096

/* The descriptor of calls that name a file by path alone, as *at() calls spell "relative to
 * the working directory" (include/uapi/linux/fcntl.h). */
#define STATSNOOP_AT_FDCWD -100

/*
 * The stat-family syscalls, in the order of SYSCALLS in tools/statsnoop.rs. Each has a
 * tracepoint pair syscalls:sys_{enter,exit}_<name> where the architecture has the syscall.
 */
enum statsnoop_syscall {
	STATSNOOP_STATFS,
	STATSNOOP_FSTATFS,
	STATSNOOP_STATFS64,
	STATSNOOP_FSTATFS64,
	STATSNOOP_NEWSTAT,
	STATSNOOP_NEWLSTAT,
	STATSNOOP_NEWFSTAT,
	STATSNOOP_NEWFSTATAT,
	STATSNOOP_STATX,
	STATSNOOP_STAT64,
	STATSNOOP_LSTAT64,
	STATSNOOP_FSTAT64,
	STATSNOOP_FSTATAT64,
	STATSNOOP_STAT,
	STATSNOOP_LSTAT,
	STATSNOOP_FSTAT,
	STATSNOOP_NR_SYSCALLS,
};

/* Flags of struct statsnoop_event. */
#define STATSNOOP_F_READ_ERROR 1 /* the path could not be read from the caller's memory */
#define STATSNOOP_F_TRUNCATED 2 /* the path was longer than the kernel takes (ENAMETOOLONG) */

/* Sent when a stat-family call returns. Only the used bytes of `path` are sent. */
struct statsnoop_event {
	__u64 time_ns; /* CLOCK_BOOTTIME of the call's return (its entry, with tracepoints) */
	__s64 ret;
	__u32 pid;
	__u32 tid;
	__s32 fd; /* the descriptor or directory descriptor given, else STATSNOOP_AT_FDCWD */
	__u32 at_flags; /* AT_* flags of fstatat/statx, else 0 */
	__u32 syscall; /* enum statsnoop_syscall */
	__u32 path_size; /* bytes in path, with the NUL; 0 when the call took no path */
	__u32 flags; /* STATSNOOP_F_* */
	__u32 compat; /* 1: the call came in through the 32-bit entry of a 64-bit kernel */
	char comm[16];
	char path[STATSNOOP_PATH_MAX];
};

/* Options, written into .rodata by the agent before load. */
struct statsnoop_config {
	__u32 target_pid;
	__u8 filter_pid;
	__u8 failed_only;
	__u8 pad[2];
	/* The stat-family numbers of each ABI: enum statsnoop_syscall + 1. */
	struct syscall_table sys;
};

#endif
