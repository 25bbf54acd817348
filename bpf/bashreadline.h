/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/* bashreadline: the event shared by bashreadline.bpf.c and the agent (tools/bashreadline.rs). */
#ifndef EBPF_RUST_BASHREADLINE_H
#define EBPF_RUST_BASHREADLINE_H

/* Bytes of a command line kept (longer lines are cut). */
#define BASHREADLINE_LINE_LEN 256

/* Sent when readline() returns a line in a bash. */
struct bashreadline_event {
	__u64 time_ns; /* CLOCK_BOOTTIME */
	__u32 pid;
	__u32 tid;
	char comm[16];
	char line[BASHREADLINE_LINE_LEN]; /* NUL-terminated */
};

#endif
