/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/* tcplife: the events shared by tcplife.bpf.c and the agent (tools/tcplife.rs). */
#ifndef EBPF_RUST_TCPLIFE_H
#define EBPF_RUST_TCPLIFE_H

/* Connections followed at once (from their first state change to their close). */
#define TCPLIFE_MAX_SOCKS 10240

/* Where the connection's process was found (`owner`). */
enum tcplife_owner {
	TCPLIFE_UNKNOWN = 0, /* none: the task that ran at the close (often softirq: not its own) */
	TCPLIFE_CONNECT = 1, /* the process that connected */
	TCPLIFE_ACCEPT = 2, /* the process that accepted it */
	TCPLIFE_CLOSE = 3, /* the process that closed it (shutdown or close: FIN_WAIT1, LAST_ACK) */
};

/* One connection, sent when it closed. */
struct tcplife_event {
	__u64 time_ns; /* CLOCK_BOOTTIME of the close */
	__u64 span_ns; /* since its first state change (SYN_SENT, SYN_RECV) */
	__u64 tx_bytes; /* data bytes sent, each once (bytes_sent - bytes_retrans) */
	__u64 rx_bytes; /* data bytes received in order (bytes_received less the peer's FIN) */
	struct net_tuple tuple;
	__u32 pid;
	__u32 owner; /* enum tcplife_owner */
	char comm[16];
};

#endif
