/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/* tcpsend: events and options shared by tcpsend.bpf.c and the agent (tools/tcpsend.rs). */
#ifndef EBPF_RUST_TCPSEND_H
#define EBPF_RUST_TCPSEND_H

/* One send on a TCP socket that queued bytes. */
struct tcpsend_event {
	__u64 time_ns; /* CLOCK_BOOTTIME of the send's return */
	struct net_tuple tuple;
	__u32 pid;
	__u32 tid;
	__u32 bytes; /* what the call queued (its result) */
	__u32 pad;
	char comm[16];
};

/* Options, written into .rodata by the agent before load. */
struct tcpsend_config {
	__u32 target_pid;
	__u16 family; /* AF_INET or AF_INET6; 0: both */
	__u8 filter_pid;
	__u8 filter_lports;
	__u8 filter_rports;
	__u8 pad[3];
	struct net_ports lports; /* -L */
	struct net_ports rports; /* -D */
};

#endif
