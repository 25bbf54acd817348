/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/* tcpconnect: events and options shared by tcpconnect.bpf.c and the agent (tools/tcpconnect.rs). */
#ifndef EBPF_RUST_TCPCONNECT_H
#define EBPF_RUST_TCPCONNECT_H

/* Connect attempts under way at once (sockets in SYN_SENT not reported yet). */
#define TCPCONNECT_MAX_PENDING 8192

/* What was known of the attempt when it was reported. */
enum tcpconnect_result {
	TCPCONNECT_PENDING = 0, /* no answer yet (connect() returned, or the SYN was resent) */
	TCPCONNECT_ESTABLISHED = 1,
	TCPCONNECT_FAILED = 2, /* the socket's error says why (refused, timed out, unreachable) */
	TCPCONNECT_CLOSED = 3, /* closed before an answer, without an error */
};

/*
 * One active connect attempt, or (`followup`) the outcome of one reported while pending: each
 * attempt is reported once, and once more with its outcome if that came later.
 */
struct tcpconnect_event {
	__u64 time_ns; /* CLOCK_BOOTTIME of the SYN (the socket entering SYN_SENT) */
	__u64 done_ns; /* CLOCK_BOOTTIME of the outcome (0 while pending) */
	struct net_tuple tuple;
	__u32 pid;
	__u32 tid;
	__u32 uid;
	__s32 error; /* the errno of a failed attempt, else 0 */
	__u32 result; /* enum tcpconnect_result */
	__u32 followup; /* 1: the outcome of an attempt reported as pending before */
	char comm[16];
};

/* Options, written into .rodata by the agent before load. */
struct tcpconnect_config {
	__u32 target_pid;
	__u32 target_uid;
	__u16 family; /* AF_INET or AF_INET6; 0: both */
	__u8 filter_pid;
	__u8 filter_uid;
	__u8 filter_ports;
	__u8 pad[3];
	struct net_ports ports; /* remote ports (-P) */
};

#endif
