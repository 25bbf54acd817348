// SPDX-License-Identifier: (MIT OR GPL-2.0)
/*
 * tcplife: one record per TCP connection when it closes: its process, addresses, ports, bytes
 * each way and lifespan.
 *
 * sock:inet_sock_set_state follows each socket from its first state change (SYN_SENT for an
 * active open, SYN_RECV for a passive one) to CLOSE. Most of those changes run in softirq
 * context, so the connection's process is taken where it is sure to run: SYN_SENT (inside
 * connect()), the accept (net.h: the kretprobe on inet_csk_accept or the accept syscalls'
 * exits), or, failing both, the first close by a process (FIN_WAIT1 or LAST_ACK: shutdown()
 * or close()). The bytes are the socket's own RFC 4898 counters at the close, as data bytes:
 * each sent byte once (retransmissions left out), received bytes without the peer's FIN.
 */
#include "common.h"
#include "net.h"
#include "tcplife.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

const volatile struct net_filter config = {};

DEFINE_EVENTS_RINGBUF(1024 * 1024);

struct tcplife_sock {
	__u64 birth_ns;
	__u32 pid;
	__u32 owner;
	char comm[16];
};

/* Sockets followed, by address. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TCPLIFE_MAX_SOCKS);
	__type(key, __u64);
	__type(value, struct tcplife_sock);
} socks SEC(".maps");

/* Keeps the types in the object's BTF for the layout check. */
struct tcplife_event tcplife_event_btf __attribute__((unused));
struct net_tuple net_tuple_btf __attribute__((unused));

static __always_inline void own(struct tcplife_sock *s, __u32 owner)
{
	s->pid = bpf_get_current_pid_tgid() >> 32;
	s->owner = owner;
	bpf_get_current_comm(s->comm, sizeof(s->comm));
}

static __noinline void on_accept(struct sock *sk)
{
	__u64 key = (__u64)sk;
	struct tcplife_sock *s;

	if (!sk)
		return;
	s = bpf_map_lookup_elem(&socks, &key);
	if (s)
		own(s, TCPLIFE_ACCEPT);
}

DEFINE_ACCEPT_PROBES(on_accept)

static __always_inline void on_close(struct trace_event_raw_inet_sock_set_state *ctx, __u64 sk)
{
	struct tcplife_sock *p = bpf_map_lookup_elem(&socks, &sk);
	struct tcp_sock *tp = (struct tcp_sock *)sk;
	struct tcplife_event *e;
	struct tcplife_sock s;
	struct net_tuple t;
	__u64 now;

	if (!p)
		return;
	s = *p;
	if (bpf_map_delete_elem(&socks, &sk))
		return;
	if (s.owner == TCPLIFE_UNKNOWN)
		own(&s, TCPLIFE_UNKNOWN);
	if (config.filter_pid && s.pid != config.target_pid)
		return;
	net_tuple_of_state(&t, ctx);
	if (!net_filter_ports(&config, &t))
		return;
	e = reserve_event(struct tcplife_event);
	if (!e)
		return;
	now = bpf_ktime_get_ns();
	e->time_ns = bpf_ktime_get_boot_ns();
	e->span_ns = now - s.birth_ns;
	/* Data bytes: each sent byte once, and what came in less the peer's FIN. */
	e->tx_bytes = BPF_CORE_READ(tp, bytes_sent) - BPF_CORE_READ(tp, bytes_retrans);
	e->rx_bytes = BPF_CORE_READ(tp, bytes_received);
	if (e->rx_bytes && sock_fin_received((struct sock *)sk))
		e->rx_bytes--;
	e->tuple = t;
	e->pid = s.pid;
	e->owner = s.owner;
	__builtin_memcpy(e->comm, s.comm, sizeof(e->comm));
	submit_event(e);
}

SEC("tracepoint/sock/inet_sock_set_state")
int tp_inet_sock_set_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	__u64 sk = (__u64)BPF_CORE_READ(ctx, skaddr);
	struct tcplife_sock *s;
	int newstate;

	if (sock_state_protocol(ctx) != IPPROTO_TCP)
		return 0;
	if (config.family && BPF_CORE_READ(ctx, family) != config.family)
		return 0;
	newstate = BPF_CORE_READ(ctx, newstate);
	if (newstate == TCP_CLOSE) {
		on_close(ctx, sk);
		return 0;
	}
	s = bpf_map_lookup_elem(&socks, &sk);
	if (newstate < TCP_FIN_WAIT1) {
		/* SYN_SENT, SYN_RECV, ESTABLISHED: the first one seen starts the lifespan. */
		if (!s) {
			struct tcplife_sock n = { .birth_ns = bpf_ktime_get_ns() };

			if (newstate == TCP_SYN_SENT)
				own(&n, TCPLIFE_CONNECT);
			if (bpf_map_update_elem(&socks, &sk, &n, BPF_NOEXIST) &&
			    !bpf_map_lookup_elem(&socks, &sk))
				count_lost_event(&lost_events);
		}
		return 0;
	}
	if ((newstate == TCP_FIN_WAIT1 || newstate == TCP_LAST_ACK) && s &&
	    s->owner == TCPLIFE_UNKNOWN)
		own(s, TCPLIFE_CLOSE);
	return 0;
}
