/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/* filewatch: events and options shared by filewatch.bpf.c and the agent (tools/filewatch.rs). */
#ifndef EBPF_RUST_FILEWATCH_H
#define EBPF_RUST_FILEWATCH_H

/* The watch list: at most this many entries, each at most FILEWATCH_WATCH_LEN bytes. */
#define FILEWATCH_MAX_WATCHES 64
#define FILEWATCH_WATCH_LEN 255
/* Bytes of a name read from the caller (PATH_MAX), and of each path in an event. */
#define FILEWATCH_NAME_MAX 4096
#define FILEWATCH_PATH_BUF 8192

/* What the call did to the path (struct filewatch_event.op). */
enum filewatch_op {
	FILEWATCH_OP_OPEN = 1,
	FILEWATCH_OP_UNLINK = 2,
	FILEWATCH_OP_RMDIR = 3,
	FILEWATCH_OP_RENAME = 4,
};

/* The syscall (struct filewatch_event.syscall). */
enum filewatch_syscall {
	FILEWATCH_SYS_OPEN = 1,
	FILEWATCH_SYS_OPENAT = 2,
	FILEWATCH_SYS_OPENAT2 = 3,
	FILEWATCH_SYS_UNLINK = 4,
	FILEWATCH_SYS_UNLINKAT = 5,
	FILEWATCH_SYS_RMDIR = 6,
	FILEWATCH_SYS_RENAME = 7,
	FILEWATCH_SYS_RENAMEAT = 8,
	FILEWATCH_SYS_RENAMEAT2 = 9,
};

/*
 * The `watches` map: FNV-1a (64-bit) of a watched path's first `len` bytes, and whether the
 * path must be equal (EXACT) or start with them (PREFIX). The value is the entry's index in
 * the agent's list, which checks the bytes again (a hash collision is dropped there).
 */
#define FILEWATCH_EXACT 1
#define FILEWATCH_PREFIX 2
struct filewatch_key {
	__u64 hash;
	__u32 len;
	__u32 kind;
};

#define FILEWATCH_FNV_OFFSET 0xcbf29ce484222325ULL
#define FILEWATCH_FNV_PRIME 0x100000001b3ULL

/* struct filewatch_event.path_flags */
#define FILEWATCH_P_FILE 1 /* `path` is the opened file's own path, from the kernel */
#define FILEWATCH_P_NEW 2 /* rename: `path` is the new name, `other` the old one */
#define FILEWATCH_P_CUT 4 /* `path` lacks its head: deeper than the kernel walks */
#define FILEWATCH_P_OTHER_CUT 8 /* the same for `other` */
#define FILEWATCH_P_BAD_DFD 16 /* the dirfd was no open file: a name stayed relative */

/*
 * One call on a watched path. `paths` holds `path` (`path_len` bytes, no NUL) at 0 and, for a
 * rename, `other` (`other_len` bytes) at FILEWATCH_PATH_BUF.
 */
struct filewatch_event {
	__u64 time_ns;
	__u64 flags;
	__u32 pid;
	__u32 tid;
	__u32 ppid;
	__u32 uid;
	__s32 ret;
	__u32 watch_id;
	__u16 op;
	__u16 syscall;
	__u16 path_flags;
	__u16 pad;
	__u32 path_len;
	__u32 other_len;
	char comm[16];
	char paths[2 * FILEWATCH_PATH_BUF];
};

/* Options, written into .rodata by the agent before load. */
struct filewatch_config {
	/* Bit n set: some PREFIX entry is n bytes long (n <= FILEWATCH_WATCH_LEN). */
	__u64 prefix_lens[4];
	/* The longest entry: no byte past it can decide a match. */
	__u32 max_len;
	__u32 pad;
};

#endif
