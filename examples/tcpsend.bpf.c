// SPDX-License-Identifier: (MIT OR GPL-2.0)
/*
 * TCP sends (IPv4): who sent how many bytes to where, one record per send.
 *
 * Two alternatives of one program (named tcp_send__<how>): run attaches the first this kernel
 * has, the sock:sock_send_length tracepoint (Linux 6.3), else a kprobe on tcp_sendmsg.
 *
 *   ebpf-agent run tcpsend.bpf.o -v     # -v says which one it attached
 */
#include "kernel.h"

struct addrs {
	__u8 saddr[4];
	__u8 daddr[4];
	__u16 sport;
	__u16 dport;
};

struct event {
	__u32 pid;
	__u32 bytes;
	struct addrs conn;
	char comm[TASK_COMM_LEN];
};
struct event *unused_event __attribute__((unused));

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

static int record(struct sock *sk, __u32 bytes)
{
	struct event *e;
	__be32 s, d;

	if (BPF_CORE_READ(sk, __sk_common.skc_family) != AF_INET)
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->bytes = bytes;
	s = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
	d = BPF_CORE_READ(sk, __sk_common.skc_daddr);
	__builtin_memcpy(e->conn.saddr, &s, 4);
	__builtin_memcpy(e->conn.daddr, &d, 4);
	e->conn.sport = BPF_CORE_READ(sk, __sk_common.skc_num);
	e->conn.dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tracepoint/sock/sock_send_length")
int tcp_send__tp(struct sock_msg_length *ctx)
{
	if (ctx->protocol != IPPROTO_TCP || ctx->ret <= 0)
		return 0;
	return record(ctx->sk, ctx->ret);
}

SEC("kprobe/tcp_sendmsg")
int BPF_KPROBE(tcp_send__kprobe, struct sock *sk, void *msg, unsigned long size)
{
	return record(sk, size);
}

char LICENSE[] SEC("license") = "GPL";
