/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/* tcptop: counters and options shared by tcptop.bpf.c and the agent (tools/tcptop.rs). */
#ifndef EBPF_RUST_TCPTOP_H
#define EBPF_RUST_TCPTOP_H

/* Rows (process and connection pairs) counted per interval. */
#define TCPTOP_MAX_ENTRIES 10240

/* A row: one connection as one process (by its thread's name, as BCC) used it. */
struct tcptop_key {
	struct net_tuple tuple;
	__u32 pid;
	char comm[16];
};

struct tcptop_value {
	__u64 sent;
	__u64 received;
};

/* Options, written into .rodata by the agent before load. */
struct tcptop_config {
	__u32 target_pid;
	__u16 family; /* AF_INET or AF_INET6; 0: both */
	__u8 filter_pid;
	__u8 pad;
};

#endif
