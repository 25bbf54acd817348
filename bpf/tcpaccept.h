/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/* tcpaccept: events and options shared by tcpaccept.bpf.c and the agent (tools/tcpaccept.rs). */
#ifndef EBPF_RUST_TCPACCEPT_H
#define EBPF_RUST_TCPACCEPT_H

/* One accepted connection, in the process that accepted it. */
struct tcpaccept_event {
	__u64 time_ns; /* CLOCK_BOOTTIME of the accept */
	struct net_tuple tuple;
	__u32 pid;
	__u32 tid;
	__u32 uid;
	__u32 pad;
	char comm[16];
};

/* Options, written into .rodata by the agent before load. */
struct tcpaccept_config {
	__u32 target_pid;
	__u16 family; /* AF_INET or AF_INET6; 0: both */
	__u8 filter_pid;
	__u8 filter_ports;
	struct net_ports ports; /* local ports (-P) */
};

#endif
