// SPDX-License-Identifier: (MIT OR GPL-2.0)
/*
 * tcpsend: one record per send on a TCP socket, with the bytes it queued.
 *
 * Two ways in, the agent picks one: the tracepoint sock:sock_send_length (6.3: the result of
 * every sock_sendmsg(), filtered to TCP here), or, on older kernels, a kprobe and kretprobe on
 * tcp_sendmsg (net.h). tcp:tcp_sendmsg_locked (6.16) is not used: it fires once per segment
 * the call fills, before copying and without the call's result.
 */
#include "common.h"
#include "net.h"
#include "tcpsend.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

const volatile struct net_filter config = {};

DEFINE_EVENTS_RINGBUF(4 * 1024 * 1024);

/* Keeps the types in the object's BTF for the layout check. */
struct tcpsend_event tcpsend_event_btf __attribute__((unused));
struct net_tuple net_tuple_btf __attribute__((unused));

static __noinline void on_send(struct sock *sk, int bytes)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct tcpsend_event *e;
	struct net_tuple t;

	if (config.filter_pid && (__u32)(pid_tgid >> 32) != config.target_pid)
		return;
	net_tuple_of_sock(&t, sk);
	if (t.family != AF_INET && t.family != AF_INET6)
		return;
	if (config.family && t.family != config.family)
		return;
	if (!net_filter_ports(&config, &t))
		return;
	e = reserve_event(struct tcpsend_event);
	if (!e)
		return;
	e->time_ns = bpf_ktime_get_boot_ns();
	e->tuple = t;
	e->pid = pid_tgid >> 32;
	e->tid = (__u32)pid_tgid;
	e->bytes = bytes;
	e->pad = 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	submit_event(e);
}

SEC("tracepoint/sock/sock_send_length")
int tp_sock_send_length(struct trace_event_raw_sock_msg_length *ctx)
{
	int ret = BPF_CORE_READ(ctx, ret);

	if (ret > 0 && BPF_CORE_READ(ctx, protocol) == IPPROTO_TCP)
		on_send(BPF_CORE_READ(ctx, sk), ret);
	return 0;
}

DEFINE_TCP_SENDMSG_PROBES(on_send)
