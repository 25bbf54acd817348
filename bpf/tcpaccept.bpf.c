// SPDX-License-Identifier: (MIT OR GPL-2.0)
/*
 * tcpaccept: every accepted TCP connection, with the process that accepted it.
 *
 * The connection is set up in softirq context (SYN, SYN-ACK, ACK), where no process of its
 * own runs: the accepting process is the one that takes the socket from the listener, at the
 * return of inet_csk_accept (kprobes) or of accept()/accept4() (syscall tracepoints), both in
 * net.h.
 */
#include "common.h"
#include "net.h"
#include "tcpaccept.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

const volatile struct tcpaccept_config config = {};

DEFINE_EVENTS_RINGBUF(1024 * 1024);

/* Keeps the types in the object's BTF for the layout check. */
struct tcpaccept_event tcpaccept_event_btf __attribute__((unused));
struct net_tuple net_tuple_btf __attribute__((unused));

static __noinline void on_accept(struct sock *sk)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct tcpaccept_event *e;
	struct net_tuple t;

	if (config.filter_pid && (__u32)(pid_tgid >> 32) != config.target_pid)
		return;
	if (!sock_is_inet_tcp(sk))
		return;
	net_tuple_of_sock(&t, sk);
	if (config.family && t.family != config.family)
		return;
	if (config.filter_ports && !net_port_in(&config.ports, t.lport))
		return;
	e = reserve_event(struct tcpaccept_event);
	if (!e)
		return;
	e->time_ns = bpf_ktime_get_boot_ns();
	e->tuple = t;
	e->pid = pid_tgid >> 32;
	e->tid = (__u32)pid_tgid;
	e->uid = (__u32)bpf_get_current_uid_gid();
	e->pad = 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	submit_event(e);
}

DEFINE_ACCEPT_PROBES(on_accept)
