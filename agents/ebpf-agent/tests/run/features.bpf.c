// SPDX-License-Identifier: (MIT OR GPL-2.0)
/*
 * What the examples do not show, together: a uprobe on a library found by name, a bool
 * option, a per-CPU hash, a histogram per key, two ring buffers each with its own record
 * type, a raw tracepoint, a perf_event program and an optional kprobe.
 */
#include "kernel.h"

const volatile __u32 target_pid = 0;
const volatile bool counting = true;

struct call {
	__u32 pid;
	__u32 n;
};
struct call *calls_record __attribute__((unused));

struct exec_rec {
	__u32 pid;
	char comm[TASK_COMM_LEN];
};
struct exec_rec *execs_record __attribute__((unused));

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} calls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} execs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

struct hist {
	__u64 slots[4];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, struct hist);
} calls_hist SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} samples SEC(".maps");

SEC("uprobe/libc.so.6:getpid")
int on_getpid(void *ctx)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	__u64 one = 1, *c;
	struct hist zero = {}, *h;
	struct call *r;

	if (!counting || pid != target_pid)
		return 0;
	c = bpf_map_lookup_elem(&counts, &pid);
	if (c)
		*c += 1;
	else
		bpf_map_update_elem(&counts, &pid, &one, BPF_NOEXIST);
	h = bpf_map_lookup_elem(&calls_hist, &pid);
	if (!h) {
		bpf_map_update_elem(&calls_hist, &pid, &zero, BPF_NOEXIST);
		h = bpf_map_lookup_elem(&calls_hist, &pid);
	}
	if (h)
		__sync_fetch_and_add(&h->slots[1], 1);
	r = bpf_ringbuf_reserve(&calls, sizeof(*r), 0);
	if (!r)
		return 0;
	r->pid = pid;
	r->n = c ? *c : 1;
	bpf_ringbuf_submit(r, 0);
	return 0;
}

SEC("raw_tp/sched_process_exec")
int on_exec(void *ctx)
{
	struct exec_rec *r = bpf_ringbuf_reserve(&execs, sizeof(*r), 0);

	if (!r)
		return 0;
	r->pid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(r->comm, sizeof(r->comm));
	bpf_ringbuf_submit(r, 0);
	return 0;
}

SEC("perf_event")
int on_sample(void *ctx)
{
	__u32 k = 0;
	__u64 *n = bpf_map_lookup_elem(&samples, &k);

	if (n)
		__sync_fetch_and_add(n, 1);
	return 0;
}

SEC("?kprobe/do_unlinkat")
int on_unlink(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
