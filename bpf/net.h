/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/*
 * What the TCP tools (tcpconnect, tcpaccept, tcplife, tcptop, tcpsend) share: the socket
 * fields they read (CO-RE, by name, against the running kernel's BTF), the connection tuple
 * every record of theirs carries (struct net_tuple, decoded once on the agent's side, in
 * agent_core::net), port sets for -P/-L/-D filters, and the few UAPI constants they test.
 * Include after common.h.
 */
#ifndef EBPF_RUST_NET_H
#define EBPF_RUST_NET_H

#include <bpf/bpf_endian.h>
#include "core_fixes.h"

/* include/linux/socket.h, include/uapi/linux/in.h, include/net/tcp_states.h: stable ABI. */
#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define MSG_PEEK 2
#define EINPROGRESS 115

enum {
	TCP_ESTABLISHED = 1,
	TCP_SYN_SENT,
	TCP_SYN_RECV,
	TCP_FIN_WAIT1,
	TCP_FIN_WAIT2,
	TCP_TIME_WAIT,
	TCP_CLOSE,
	TCP_CLOSE_WAIT,
	TCP_LAST_ACK,
	TCP_LISTEN,
	TCP_CLOSING,
	TCP_NEW_SYN_RECV,
};

struct in6_addr {
	__u8 u6_addr8[16];
} __attribute__((preserve_access_index));

/*
 * In the kernel the IPv4 addresses and the ports sit in anonymous unions; CO-RE finds them by
 * name through those. The IPv6 addresses exist only with CONFIG_IPV6 (checked before use).
 */
struct sock_common {
	__be32 skc_daddr;
	__be32 skc_rcv_saddr;
	__be16 skc_dport; /* network order */
	__u16 skc_num; /* the local port, host order */
	unsigned short skc_family;
	volatile unsigned char skc_state;
	struct in6_addr skc_v6_daddr;
	struct in6_addr skc_v6_rcv_saddr;
	unsigned long skc_flags; /* sk_flags */
} __attribute__((preserve_access_index));

/* enum sock_flags: the peer's FIN was received (tcp_fin()). */
#define SOCK_DONE 1

/* sk_protocol is a u16 of its own since 5.6 (a bitfield before: older than we support). */
struct sock {
	struct sock_common __sk_common;
	__u16 sk_protocol;
	int sk_err;
} __attribute__((preserve_access_index));

/* Kernels that kept sk_flags in struct sock itself. */
struct sock___flags {
	unsigned long sk_flags;
} __attribute__((preserve_access_index));

/* Has the socket received its peer's FIN? */
static __always_inline bool sock_fin_received(struct sock *sk)
{
	struct sock___flags *old = (void *)sk;
	unsigned long flags;

	if (bpf_core_field_exists(old->sk_flags))
		flags = BPF_CORE_READ(old, sk_flags);
	else
		flags = BPF_CORE_READ(sk, __sk_common.skc_flags);
	return flags & (1UL << SOCK_DONE);
}

/*
 * RFC 4898 counters every TCP socket keeps. bytes_received (4.1) counts the sequence space
 * received in order, which takes in the peer's FIN; bytes_sent and bytes_retrans (4.19) count
 * data only, retransmissions in both.
 */
struct tcp_sock {
	__u64 bytes_received;
	__u64 bytes_sent;
	__u64 bytes_retrans;
} __attribute__((preserve_access_index));

/* The local port stays here after the close unhashes the socket (which zeroes skc_num). */
struct inet_sock {
	__be16 inet_sport;
} __attribute__((preserve_access_index));

struct socket {
	struct sock *sk;
} __attribute__((preserve_access_index));

/*
 * The connection a record is about, from our side: local address and port, remote address
 * and port. IPv4 addresses fill the first 4 bytes (network order, as on the wire); ports are
 * in host order. Decoded by agent_core::net::Tuple.
 */
struct net_tuple {
	__u8 laddr[16];
	__u8 raddr[16];
	__u16 family; /* AF_INET or AF_INET6 */
	__u16 lport;
	__u16 rport;
	__u16 pad;
};

/* A set of ports: bit `p` of the bitmap is port `p`. Filled by the agent (-P, -L, -D). */
struct net_ports {
	__u8 bits[8192];
};

static __always_inline bool net_port_in(const volatile struct net_ports *set, __u16 port)
{
	return set->bits[port >> 3] & (1 << (port & 7));
}

/*
 * The options of the tools that filter on both ends (tcplife, tcpsend: -p, -4/-6, -L, -D),
 * written into .rodata by the agent before load (agent_core::net::Filter).
 */
struct net_filter {
	__u32 target_pid;
	__u16 family; /* AF_INET or AF_INET6; 0: both */
	__u8 filter_pid;
	__u8 filter_lports;
	__u8 filter_rports;
	__u8 pad[3];
	struct net_ports lports; /* -L */
	struct net_ports rports; /* -D */
};

/* Whether the tuple's ports pass the filter's -L and -D. */
static __always_inline bool net_filter_ports(const volatile struct net_filter *f,
					     const struct net_tuple *t)
{
	if (f->filter_lports && !net_port_in(&f->lports, t->lport))
		return false;
	return !f->filter_rports || net_port_in(&f->rports, t->rport);
}

/*
 * The tuple of a socket, as it stands now: the local port is 0 until one is picked, and stays
 * after the close (data can still be read then).
 */
static __always_inline void net_tuple_of_sock(struct net_tuple *t, struct sock *sk)
{
	t->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	t->lport = bpf_ntohs(BPF_CORE_READ((struct inet_sock *)sk, inet_sport));
	if (!t->lport)
		t->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	t->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	t->pad = 0;
	if (t->family == AF_INET6 && bpf_core_field_exists(sk->__sk_common.skc_v6_daddr)) {
		bpf_core_read(t->laddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(t->raddr, 16, &sk->__sk_common.skc_v6_daddr);
	} else {
		__builtin_memset(t->laddr, 0, 16);
		__builtin_memset(t->raddr, 0, 16);
		bpf_core_read(t->laddr, 4, &sk->__sk_common.skc_rcv_saddr);
		bpf_core_read(t->raddr, 4, &sk->__sk_common.skc_daddr);
	}
}

/* The tuple sock:inet_sock_set_state carries (its ports are in host order already). */
static __always_inline void net_tuple_of_state(struct net_tuple *t,
					       struct trace_event_raw_inet_sock_set_state *ctx)
{
	t->family = BPF_CORE_READ(ctx, family);
	t->lport = BPF_CORE_READ(ctx, sport);
	t->rport = BPF_CORE_READ(ctx, dport);
	t->pad = 0;
	if (t->family == AF_INET6) {
		bpf_core_read(t->laddr, 16, &ctx->saddr_v6);
		bpf_core_read(t->raddr, 16, &ctx->daddr_v6);
	} else {
		__builtin_memset(t->laddr, 0, 16);
		__builtin_memset(t->raddr, 0, 16);
		bpf_core_read(t->laddr, 4, &ctx->saddr);
		bpf_core_read(t->raddr, 4, &ctx->daddr);
	}
}

/* The context of sock:sock_send_length and sock:sock_recv_length (6.3): sock_sendmsg() and
 * sock_recvmsg() of every socket, with their result. */
struct trace_event_raw_sock_msg_length {
	void *sk;
	__u16 family;
	__u16 protocol;
	int ret;
	int flags;
} __attribute__((preserve_access_index));

/* An IPv4 or IPv6 TCP socket (not MPTCP, SCTP, UDP or a UNIX socket)? */
static __always_inline bool sock_is_inet_tcp(struct sock *sk)
{
	__u16 family;

	if (!sk || BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return false;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	return family == AF_INET || family == AF_INET6;
}

/* The socket behind descriptor `fd` of the current task (NULL if there is none). */
static __always_inline struct sock *sock_of_fd(int fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct file *file = task_fd_file(task, fd);
	struct socket *sock;

	if (!file)
		return NULL;
	sock = BPF_CORE_READ(file, private_data);
	if (!sock)
		return NULL;
	return BPF_CORE_READ(sock, sk);
}

/*
 * `handler(sk)` for every accepted socket, called in the accepting process (the connection
 * itself was set up in softirq context, where no process of its own runs). Two ways in, the
 * tool picks one: a kretprobe on inet_csk_accept (every accept: accept(), accept4(),
 * io_uring's, the kernel's own) where the kernel has kprobes, else the exits of accept() and
 * accept4() (program tp_exit_accept, attached to both), whose descriptor is resolved to its
 * socket in the kernel.
 */
#define DEFINE_ACCEPT_PROBES(handler)                                      \
	SEC("kretprobe/inet_csk_accept")                                   \
	int BPF_KRETPROBE(krp_inet_csk_accept, struct sock *sk)            \
	{                                                                  \
		handler(sk);                                               \
		return 0;                                                  \
	}                                                                  \
	SEC("tracepoint/syscalls/sys_exit_accept4")                        \
	int tp_exit_accept(struct trace_event_raw_sys_exit *ctx)           \
	{                                                                  \
		if (ctx->ret >= 0)                                         \
			handler(sock_of_fd((int)ctx->ret));                \
		return 0;                                                  \
	}

/*
 * `handler(sk, bytes)` for every tcp_sendmsg() call that sent bytes: a kprobe notes the socket
 * by thread, the kretprobe takes the result (what the call really queued, not what it was
 * asked to send). For kernels without the 6.3 socket tracepoints.
 */
#define DEFINE_TCP_SENDMSG_PROBES(handler)                                      \
	struct {                                                                \
		__uint(type, BPF_MAP_TYPE_HASH);                                \
		__uint(max_entries, 10240);                                     \
		__type(key, __u32);                                             \
		__type(value, __u64);                                           \
	} tcp_sendmsg_sk SEC(".maps");                                          \
	SEC("kprobe/tcp_sendmsg")                                               \
	int BPF_KPROBE(kp_tcp_sendmsg, struct sock *sk)                         \
	{                                                                       \
		__u32 tid = (__u32)bpf_get_current_pid_tgid();                  \
		__u64 v = (__u64)sk;                                            \
                                                                                \
		bpf_map_update_elem(&tcp_sendmsg_sk, &tid, &v, BPF_ANY);        \
		return 0;                                                       \
	}                                                                       \
	SEC("kretprobe/tcp_sendmsg")                                            \
	int BPF_KRETPROBE(krp_tcp_sendmsg, int ret)                             \
	{                                                                       \
		__u32 tid = (__u32)bpf_get_current_pid_tgid();                  \
		__u64 *skp = bpf_map_lookup_elem(&tcp_sendmsg_sk, &tid), sk;    \
                                                                                \
		if (!skp)                                                       \
			return 0;                                               \
		sk = *skp;                                                      \
		bpf_map_delete_elem(&tcp_sendmsg_sk, &tid);                     \
		if (ret > 0)                                                    \
			handler((struct sock *)sk, ret);                        \
		return 0;                                                       \
	}

#endif
