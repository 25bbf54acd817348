// SPDX-License-Identifier: (MIT OR GPL-2.0)
/*
 * tcptop: bytes sent and received per process and TCP connection, summed in the kernel.
 *
 * Two ways in, the agent picks one: the socket tracepoints sock:sock_send_length and
 * sock:sock_recv_length (6.3: the result of every sock_sendmsg()/sock_recvmsg(), any
 * protocol, filtered to TCP here), or, on older kernels, kprobes on tcp_sendmsg (entry and
 * return: the bytes really queued) and tcp_cleanup_rbuf (the bytes a read consumed).
 */
#include "common.h"
#include "net.h"
#include "tcptop.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

const volatile struct tcptop_config config = {};

DEFINE_DRAINED_HASH(rows, struct tcptop_key, struct tcptop_value, TCPTOP_MAX_ENTRIES);

/* Calls that could not be counted (a full map). */
DEFINE_LOST_COUNTER();

/* Keeps the types in the object's BTF for the layout check. */
struct net_tuple net_tuple_btf __attribute__((unused));

static __noinline void count(struct sock *sk, __u64 bytes, bool received)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct tcptop_value zero = {}, *v;
	struct tcptop_key key = {};

	if (config.filter_pid && (__u32)(pid_tgid >> 32) != config.target_pid)
		return;
	net_tuple_of_sock(&key.tuple, sk);
	if (key.tuple.family != AF_INET && key.tuple.family != AF_INET6)
		return;
	if (config.family && key.tuple.family != config.family)
		return;
	key.pid = pid_tgid >> 32;
	bpf_get_current_comm(key.comm, sizeof(key.comm));
	v = drained_lookup_or_init(rows, &key, &zero);
	if (!v)
		return;
	if (received)
		__sync_fetch_and_add(&v->received, bytes);
	else
		__sync_fetch_and_add(&v->sent, bytes);
}

/* Path 1: the socket tracepoints (6.3). */

SEC("tracepoint/sock/sock_send_length")
int tp_sock_send_length(struct trace_event_raw_sock_msg_length *ctx)
{
	int ret = BPF_CORE_READ(ctx, ret);

	if (ret > 0 && BPF_CORE_READ(ctx, protocol) == IPPROTO_TCP)
		count(BPF_CORE_READ(ctx, sk), ret, false);
	return 0;
}

SEC("tracepoint/sock/sock_recv_length")
int tp_sock_recv_length(struct trace_event_raw_sock_msg_length *ctx)
{
	int ret = BPF_CORE_READ(ctx, ret);

	/* MSG_PEEK reads leave the bytes queued: the read that takes them counts them. */
	if (ret > 0 && BPF_CORE_READ(ctx, protocol) == IPPROTO_TCP &&
	    !(BPF_CORE_READ(ctx, flags) & MSG_PEEK))
		count(BPF_CORE_READ(ctx, sk), ret, true);
	return 0;
}

/* Path 2: kprobes. */

static __always_inline void on_sendmsg(struct sock *sk, int bytes)
{
	count(sk, bytes, false);
}

DEFINE_TCP_SENDMSG_PROBES(on_sendmsg)

SEC("kprobe/tcp_cleanup_rbuf")
int BPF_KPROBE(kp_tcp_cleanup_rbuf, struct sock *sk, int copied)
{
	if (copied > 0)
		count(sk, copied, true);
	return 0;
}
