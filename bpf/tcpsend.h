/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/* tcpsend: the events shared by tcpsend.bpf.c and the agent (tools/tcpsend.rs). */
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

#endif
