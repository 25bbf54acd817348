/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/* filewatch: events and options shared by filewatch.bpf.c and the agent (tools/filewatch.rs). */
#ifndef EBPF_RUST_FILEWATCH_H
#define EBPF_RUST_FILEWATCH_H

#include "syscalls.h"

/* The watch list: at most this many entries, each at most FILEWATCH_WATCH_LEN bytes. */
#define FILEWATCH_MAX_WATCHES 64
#define FILEWATCH_WATCH_LEN 255
/* Bytes of each path in an event; of the name the caller gave (PATH_MAX). */
#define FILEWATCH_PATH_BUF 8192
#define FILEWATCH_NAME_BUF 4096
/* Kernel objects known by identity (watched files, directories, their parents). */
#define FILEWATCH_MAX_OBJECTS 256
/* Directories walked up from an opened or removed file to find a watched one above it. */
#define FILEWATCH_WALK_MAX 128
/* Directories a name may go down into and come back from with ".." (normalisation). */
#define FILEWATCH_NORM_DEPTH 64
/* Files whose unlink or rename is noticed by their pinned dentry (kernels without kprobes). */
#define FILEWATCH_MAX_PINS 64
/* Distinct (uid, entry, operation, error) of failed calls counted per second. */
#define FILEWATCH_MAX_FAILURES 4096
/* Slots of the agent's own opens, by descriptor, that tell it what it opened (learning). */
#define FILEWATCH_LEARN_SLOTS 1024

/* What the call did to the path (struct filewatch_event.op). */
enum filewatch_op {
	FILEWATCH_OP_OPEN = 1,
	FILEWATCH_OP_UNLINK = 2,
	FILEWATCH_OP_RMDIR = 3,
	FILEWATCH_OP_RENAME = 4,
};

/*
 * The syscall (struct filewatch_event.syscall, and the ids of the syscall table). IO_URING:
 * an io_uring request (no syscall of its own), VFS: a removal or rename seen in the kernel's
 * dentry functions in a context with no syscall to name.
 */
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
	FILEWATCH_SYS_CREAT = 10,
	FILEWATCH_SYS_OPEN_BY_HANDLE_AT = 11,
	FILEWATCH_SYS_IO_URING_ENTER = 12,
	FILEWATCH_SYS_IO_URING = 13,
	FILEWATCH_SYS_VFS = 14,
};

/*
 * The `names` map: FNV-1a (64-bit) of a watched name's first `len` bytes, whether it must be
 * equal (EXACT) or start with them (PREFIX), and what it is relative to: anchor 0 for absolute
 * paths, else the anchor (a directory, struct filewatch_object) whose children it names. The
 * value is the entry's index in the agent's list, which checks the bytes again.
 */
#define FILEWATCH_EXACT 1
#define FILEWATCH_PREFIX 2
#define FILEWATCH_FIRST 4 /* anchor-relative: some entry goes deeper through this component */
struct filewatch_key {
	__u64 hash;
	__u32 len;
	__u16 kind;
	__u16 anchor;
};

#define FILEWATCH_FNV_OFFSET 0xcbf29ce484222325ULL
#define FILEWATCH_FNV_PRIME 0x100000001b3ULL

/*
 * The `objects` map: a kernel object (a struct inode *, or a directory's struct dentry *) the
 * agent holds open (so the pointer stays valid), and what it is to the watch list. A file
 * (OBJ_FILE) is watched under whatever name it is reached; under a directory (OBJ_DIR) every
 * file is; an anchor (OBJ_ANCHOR) is the directory whose children some entries name.
 */
#define FILEWATCH_OBJ_FILE 1
#define FILEWATCH_OBJ_DIR 2
#define FILEWATCH_OBJ_ANCHOR 4
struct filewatch_object {
	__u32 watch_id; /* the entry of a FILE or DIR */
	__u16 kind; /* FILEWATCH_OBJ_* */
	__u16 anchor; /* the anchor id of an ANCHOR (1...) */
	__u32 index; /* the agent's object: the path an event's `base` names */
	__u32 pad;
};

/* A cheap test before the lookup: bit (ptr * golden >> 55) of 512 set for each object. */
#define FILEWATCH_BLOOM_BITS 512
struct filewatch_bloom {
	__u64 bits[FILEWATCH_BLOOM_BITS / 64];
};

/*
 * What the program found of one of the agent's own opens (`learned`, slot fd): the pointers
 * the agent puts into `objects` and `pins`.
 */
struct filewatch_learned {
	__u64 inode;
	__u64 dentry;
	__u64 parent;
	__u64 hash_len;
	__u64 sb;
	__u64 ino; /* to check it against the agent's fstat() */
	__u32 fd;
	__u32 is_dir;
};

/* A watched file's dentry as the agent pinned it: an unlink or rename changes it. */
struct filewatch_pin {
	__u64 dentry;
	__u64 parent;
	__u64 hash_len;
	__u32 watch_id;
	__u32 index; /* the agent's object */
};

/* All of them, in one value (the `pins` map's only entry), the used ones first. */
struct filewatch_pins {
	struct filewatch_pin pin[FILEWATCH_MAX_PINS];
};

/*
 * Failed calls counted per (uid, entry, operation, result): the first of each kind in each of
 * the agent's report intervals (it drains the map at each report) is sent as an alert, the
 * others only counted.
 */
struct filewatch_fail_key {
	__u32 uid;
	__u32 watch_id;
	__u16 op;
	__u16 pad;
	__s32 ret;
};

struct filewatch_fail {
	__u64 count; /* calls in this interval, those sent as alerts included */
	__u64 sent; /* of which sent as alerts */
	__u64 first_ns;
	__u64 last_ns;
	__u32 pid; /* of the latest */
	__u32 syscall;
	char comm[16];
};

/* struct filewatch_event.path_flags */
#define FILEWATCH_P_FILE 1 /* matched by identity: `path` is relative to object `base` */
#define FILEWATCH_P_NEW 2 /* rename: `path` is the new name, `other` the old one */
#define FILEWATCH_P_CUT 4 /* `path` lacks its head: deeper than the kernel walks */
#define FILEWATCH_P_OTHER_CUT 8 /* the same for `other` */
#define FILEWATCH_P_BAD_DFD 16 /* the dirfd was no open file: a name stayed relative */
#define FILEWATCH_P_UNDECIDED 32 /* too deep to tell whether a watched directory is above */
#define FILEWATCH_P_REPLACED 64 /* rename: the watched file was replaced by `other` */
#define FILEWATCH_P_AGGREGATE 128 /* later failures of its kind are counted, not sent */

/*
 * One call on a watched path. `paths` holds `path` (`path_len` bytes, no NUL), then `other` (a
 * rename's other name, `other_len` bytes), then the name the caller gave (`name_len` bytes),
 * one after the other. A path matched by identity is relative to the agent's object `base`
 * (0: absolute).
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
	__u16 compat;
	__u32 path_len;
	__u32 other_len;
	__u32 name_len;
	__u32 base;
	__u32 other_base;
	__u32 pad;
	char comm[16];
	char paths[2 * FILEWATCH_PATH_BUF + FILEWATCH_NAME_BUF];
};

/* Options, written into .rodata by the agent before load. */
struct filewatch_config {
	/* Bit n set: some absolute PREFIX entry is n bytes long (n <= FILEWATCH_WATCH_LEN). */
	__u64 prefix_lens[4];
	/* The same for the names of children of anchors (`ssh_host_` of /etc/ssh/ssh_host_*). */
	__u64 anchor_prefix_lens[4];
	/* The longest entry: no byte past it can decide a match. */
	__u32 max_len;
	/* The agent: its own opens teach it what it opened, and raise no alert. */
	__u32 self_tgid;
	/* Removals and renames are seen in d_delete/d_move (kprobes): no pinned dentries. */
	__u8 vfs_probes;
	__u8 pad[7];
	struct syscall_table sys;
};

#endif
