/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/* filetop: counters and options shared by filetop.bpf.c and the agent (tools/filetop.rs). */
#ifndef EBPF_RUST_FILETOP_H
#define EBPF_RUST_FILETOP_H

/* Rows (file and thread pairs) counted per interval. */
#define FILETOP_MAX_ENTRIES 10240
/* The file's name (its last path component: at most NAME_MAX bytes) and a NUL. */
#define FILETOP_NAME_LEN 256

enum filetop_op {
	FILETOP_READ = 0,
	FILETOP_WRITE = 1,
};

/* The `kind` of a row: what kind of inode the file is. */
enum filetop_type {
	FILETOP_REGULAR = 0,
	FILETOP_SOCKET = 1,
	FILETOP_OTHER = 2,
};

/* A row: one file as one thread used it. `inode` is the kernel's inode address. */
struct filetop_key {
	__u64 inode;
	__u32 pid;
	__u32 tid;
};

struct filetop_value {
	__u64 reads;
	__u64 writes;
	__u64 read_bytes;
	__u64 write_bytes;
	__u64 ino;
	__u32 kind;
	__u32 pad;
	char comm[16];
	char name[FILETOP_NAME_LEN];
};

/* Options, written into .rodata by the agent before load. */
struct filetop_config {
	__u32 target_pid;
	__u8 filter_pid;
	__u8 regular_only;
	__u8 pad[2];
};

#endif
