// SPDX-License-Identifier: (MIT OR GPL-2.0)
/*
 * tcpconnect: every active TCP connect attempt, in the process that made it, with the result
 * when it is known by then.
 *
 * sock:inet_sock_set_state moves a socket to SYN_SENT inside connect() (or a TCP Fast Open
 * sendmsg()), in the connecting process: that is where pid, uid and comm are taken. The local
 * port is picked only after that move, so the attempt is reported a moment later, at the first
 * of: the socket leaving SYN_SENT (answered: established, or failed with the socket's error),
 * connect() returning with the attempt still under way (a non-blocking socket), or the first
 * retransmission of the SYN (a peer that does not answer: a second, not the minutes a
 * blocking connect() may wait). An attempt reported as pending is reported once more when it
 * leaves SYN_SENT, as a follow-up with its outcome.
 *
 * Exactly once each, whichever paths race on other CPUs: the outcome is claimed by deleting
 * the socket from `pending` (one deleter wins), the first report by inserting it into
 * `reported` (one inserter wins). A `reported` mark stays until the socket is freed
 * (tcp:tcp_destroy_sock) or starts a new attempt, so that no late report can claim it again.
 */
#include "common.h"
#include "net.h"
#include "tcpconnect.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

const volatile struct tcpconnect_config config = {};

DEFINE_EVENTS_RINGBUF(1024 * 1024);

/* Attempts under way (until their outcome), by socket. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TCPCONNECT_MAX_PENDING);
	__type(key, __u64);
	__type(value, struct tcpconnect_event);
} pending SEC(".maps");

/*
 * Attempts whose first report was sent, until the socket is freed or starts a new attempt
 * (LRU: bounded on kernels without tcp_destroy_sock too).
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, TCPCONNECT_MAX_PENDING);
	__type(key, __u64);
	__type(value, __u8);
} reported SEC(".maps");

/* The socket each thread is connecting, for the exit of its connect(). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TCPCONNECT_MAX_PENDING);
	__type(key, __u32);
	__type(value, __u64);
} connecting SEC(".maps");

/* Keeps the types in the object's BTF for the layout check. */
struct tcpconnect_event tcpconnect_event_btf __attribute__((unused));
struct net_tuple net_tuple_btf __attribute__((unused));

static __always_inline void on_syn_sent(struct trace_event_raw_inet_sock_set_state *ctx,
					__u64 sk)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 uid = (__u32)bpf_get_current_uid_gid();
	__u32 tid = (__u32)pid_tgid;
	struct tcpconnect_event e = {};

	if (config.filter_pid && (__u32)(pid_tgid >> 32) != config.target_pid)
		return;
	if (config.filter_uid && uid != config.target_uid)
		return;
	net_tuple_of_state(&e.tuple, ctx);
	if (config.family && e.tuple.family != config.family)
		return;
	if (config.filter_ports && !net_port_in(&config.ports, e.tuple.rport))
		return;
	e.time_ns = bpf_ktime_get_boot_ns();
	e.pid = pid_tgid >> 32;
	e.tid = tid;
	e.uid = uid;
	bpf_get_current_comm(e.comm, sizeof(e.comm));
	bpf_map_delete_elem(&reported, &sk);
	if (bpf_map_update_elem(&pending, &sk, &e, BPF_ANY)) {
		count_lost_event(&lost_events);
		return;
	}
	bpf_map_update_elem(&connecting, &tid, &sk, BPF_ANY);
}

/* Claims the first report of the attempt on `sk`: true for the one caller that does. */
static __always_inline bool first_report(__u64 sk)
{
	__u8 one = 1;

	return bpf_map_update_elem(&reported, &sk, &one, BPF_NOEXIST) == 0;
}

/* Still under way: reports the attempt on `sk` unless it was reported already. */
static __noinline void report_pending(__u64 sk)
{
	struct tcpconnect_event *p = bpf_map_lookup_elem(&pending, &sk);
	struct tcpconnect_event e;

	if (!p)
		return;
	e = *p;
	if (!first_report(sk))
		return;
	net_tuple_of_sock(&e.tuple, (struct sock *)sk);
	e.result = TCPCONNECT_PENDING;
	emit_event(&e, sizeof(e));
}

/* Answered or given up: the attempt's report, or the follow-up of its pending one. */
static __noinline void report_outcome(__u64 sk, struct trace_event_raw_inet_sock_set_state *ctx,
				      __u32 result, __s32 error)
{
	struct tcpconnect_event *p = bpf_map_lookup_elem(&pending, &sk);
	struct tcpconnect_event e;

	if (!p)
		return;
	e = *p;
	if (bpf_map_delete_elem(&pending, &sk))
		return;
	net_tuple_of_state(&e.tuple, ctx);
	e.done_ns = bpf_ktime_get_boot_ns();
	e.result = result;
	e.error = error;
	e.followup = !first_report(sk);
	emit_event(&e, sizeof(e));
}

SEC("tracepoint/sock/inet_sock_set_state")
int tp_inet_sock_set_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	__u64 sk = (__u64)BPF_CORE_READ(ctx, skaddr);
	int newstate, err;

	if (sock_state_protocol(ctx) != IPPROTO_TCP)
		return 0;
	newstate = BPF_CORE_READ(ctx, newstate);
	if (newstate == TCP_SYN_SENT) {
		on_syn_sent(ctx, sk);
		return 0;
	}
	if (BPF_CORE_READ(ctx, oldstate) != TCP_SYN_SENT)
		return 0;
	if (newstate == TCP_ESTABLISHED) {
		report_outcome(sk, ctx, TCPCONNECT_ESTABLISHED, 0);
		return 0;
	}
	/* tcp_reset() and tcp_write_err() set sk_err before the move to CLOSE. */
	err = BPF_CORE_READ((struct sock *)sk, sk_err);
	report_outcome(sk, ctx, err ? TCPCONNECT_FAILED : TCPCONNECT_CLOSED, err);
	return 0;
}

/* connect() returns: the attempt is still under way if it was not reported already. */
SEC("tracepoint/syscalls/sys_exit_connect")
int tp_exit_connect(struct trace_event_raw_sys_exit *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 *skp = bpf_map_lookup_elem(&connecting, &tid), sk;

	if (!skp)
		return 0;
	sk = *skp;
	bpf_map_delete_elem(&connecting, &tid);
	report_pending(sk);
	return 0;
}

/* The SYN is sent again: no answer within the first retransmission timeout. */
SEC("raw_tp/tcp_retransmit_skb")
int raw_tcp_retransmit_skb(__u64 *ctx)
{
	struct sock *sk = (struct sock *)ctx[0];

	if (BPF_CORE_READ(sk, __sk_common.skc_state) == TCP_SYN_SENT)
		report_pending((__u64)sk);
	return 0;
}

/* The socket is freed: its marks go. */
SEC("raw_tp/tcp_destroy_sock")
int raw_tcp_destroy_sock(__u64 *ctx)
{
	__u64 sk = ctx[0];

	bpf_map_delete_elem(&reported, &sk);
	bpf_map_delete_elem(&pending, &sk);
	return 0;
}
