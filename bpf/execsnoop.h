/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/* execsnoop: events and options shared by execsnoop.bpf.c and the agent (tools/execsnoop.rs). */
#ifndef EBPF_RUST_EXECSNOOP_H
#define EBPF_RUST_EXECSNOOP_H

#include "syscalls.h"

/* Bytes of argv kept per exec (a power of two), and the most one argument may take of it. */
#define EXECSNOOP_ARGS_BUF 16384
#define EXECSNOOP_ARG_MAX 4096
/* The most arguments read per exec; --max-args chooses up to this many. */
#define EXECSNOOP_MAX_ARGS_LIMIT 512

enum execsnoop_kind {
	EXECSNOOP_ENTER = 1,
	EXECSNOOP_EXIT = 2,
};

/* Flags of struct execsnoop_enter. */
#define EXECSNOOP_F_TRUNCATED 1 /* more arguments than max_args, out of buffer, or one cut */
#define EXECSNOOP_F_READ_ERROR 2 /* an argument could not be read from user memory */
#define EXECSNOOP_F_COMPAT 4 /* the exec came in through the 32-bit entry of a 64-bit kernel */
/*
 * Sent at the exit, before the exit record, when the entry could not read argv (a page not
 * yet faulted in): argv read again, from the caller's memory if the exec failed, else from the
 * new program's (its mm's arg_start..arg_end). Replaces the entry record's arguments.
 */
#define EXECSNOOP_F_REREAD 8
/* args_count of a REREAD record taken from the new program's memory: the agent counts them. */
#define EXECSNOOP_ARGS_UNCOUNTED 0xffffffffU

/*
 * Sent at sys_enter_execve(at): who execs and with what argv. `args` holds `args_count`
 * NUL-terminated strings in `args_size` bytes; only the used bytes are sent.
 */
struct execsnoop_enter {
	__u32 kind;
	__u32 pid;
	__u32 tid;
	__u32 ppid;
	__u32 uid;
	__u32 args_count;
	__u32 args_size;
	__u32 flags;
	__u64 time_ns;
	char args[EXECSNOOP_ARGS_BUF + EXECSNOOP_ARG_MAX];
};

/* Sent at sys_exit_execve(at): the result, and the command name the process now has. */
struct execsnoop_exit {
	__u32 kind;
	__u32 pid;
	__u32 tid;
	__s32 ret;
	__u64 time_ns;
	char comm[16];
};

/* Options, written into .rodata by the agent before load. */
struct execsnoop_config {
	__u32 target_uid;
	__u32 max_args;
	__u8 filter_uid;
	__u8 pad[7];
	/* execve (EXECSNOOP_SYS_EXECVE) and execveat in each ABI. */
	struct syscall_table sys;
};

#define EXECSNOOP_SYS_EXECVE 1
#define EXECSNOOP_SYS_EXECVEAT 2

#endif
