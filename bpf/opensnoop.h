/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/* opensnoop: events and options shared by opensnoop.bpf.c and the agent (tools/opensnoop.rs). */
#ifndef EBPF_RUST_OPENSNOOP_H
#define EBPF_RUST_OPENSNOOP_H

#include "syscalls.h"

/* Bytes of path kept per open (PATH_MAX); with -F the directory may add as much again. */
#define OPENSNOOP_NAME_MAX 4096
#define OPENSNOOP_PATH_BUF 8192

/* Which syscall (struct opensnoop_event.syscall). */
enum opensnoop_syscall {
	OPENSNOOP_SYS_OPEN = 1,
	OPENSNOOP_SYS_OPENAT = 2,
	OPENSNOOP_SYS_OPENAT2 = 3,
};

/* struct opensnoop_event.path_flags */
#define OPENSNOOP_P_READ_ERROR 1 /* the name could not be read from the caller's memory */
#define OPENSNOOP_P_FULL 2 /* a relative name was made absolute (-F) */
#define OPENSNOOP_P_CUT 4 /* the directory was deeper than the kernel walks: its head is missing */
#define OPENSNOOP_P_BAD_DFD 8 /* -F: the dirfd was no open file, the name stays relative */

/*
 * One open*() that returned. `path` holds `path_len` bytes (no NUL): the name as given or,
 * with -F and a relative name, the directory it was resolved in, '/', and the name.
 */
struct opensnoop_event {
	__u64 time_ns;
	__u64 flags;
	__u32 pid;
	__u32 tid;
	__u32 uid;
	__s32 ret;
	__u32 mode;
	__s32 dfd;
	__u8 syscall;
	__u8 compat; /* 1: the call came in through the 32-bit entry of a 64-bit kernel */
	__u16 path_flags;
	__u32 path_len;
	char comm[16];
	char path[OPENSNOOP_PATH_BUF];
};

/* Options, written into .rodata by the agent before load. */
struct opensnoop_config {
	__u32 target_pid;
	__u32 target_tid;
	__u32 target_uid;
	__u8 filter_pid;
	__u8 filter_tid;
	__u8 filter_uid;
	__u8 failed_only;
	__u8 full_path;
	__u8 pad[7];
	/* Which numbers are open (OPENSNOOP_SYS_OPEN), openat, openat2, in each ABI. */
	struct syscall_table sys;
};

#endif
