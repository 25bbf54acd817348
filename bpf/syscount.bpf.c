// SPDX-License-Identifier: (MIT OR GPL-2.0)
/*
 * syscount: syscalls counted (and, with -L, timed) per syscall or per process.
 *
 * raw_syscalls:sys_enter/sys_exit, so one pair of programs sees every syscall on every kernel
 * with syscall tracepoints. Counting happens in the kernel, in a hash map the agent drains at
 * every interval; only the enter program's start times need a second map, and it is loaded
 * only with -L.
 */
#include "common.h"
#include "syscount.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

const volatile struct syscount_config config = {};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SYSCOUNT_MAX_KEYS);
	__type(key, __u32);
	__type(value, struct syscount_value);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SYSCOUNT_MAX_THREADS);
	__type(key, __u32);
	__type(value, __u64);
} starts SEC(".maps");

/* Syscalls that could not be counted (a full map): see count_lost_event in common.h. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} lost_events SEC(".maps");

/* Keeps the value's type in the object's BTF for the layout check. */
struct syscount_value syscount_value_btf __attribute__((unused));

static __always_inline bool traced(__u64 pid_tgid)
{
	return !config.filter_pid || (__u32)(pid_tgid >> 32) == config.target_pid;
}

SEC("tracepoint/raw_syscalls/sys_enter")
int sys_enter(struct trace_event_raw_sys_enter *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	__u64 now;

	if (!traced(pid_tgid))
		return 0;
	now = bpf_ktime_get_ns();
	if (bpf_map_update_elem(&starts, &tid, &now, BPF_ANY))
		count_lost_event(&lost_events);
	return 0;
}

SEC("tracepoint/raw_syscalls/sys_exit")
int sys_exit(struct trace_event_raw_sys_exit *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid, key;
	struct syscount_value *v;
	__u64 *start, delta = 0;
	long id = ctx->id, ret = ctx->ret;

	if (!traced(pid_tgid))
		return 0;
	if (config.latency) {
		start = bpf_map_lookup_elem(&starts, &tid);
		/* No start: the syscall began before we attached, or its start was lost. */
		if (!start)
			return 0;
		delta = bpf_ktime_get_ns() - *start;
		bpf_map_delete_elem(&starts, &tid);
	}
	/* -1: no syscall (e.g. one a tracer cancelled). */
	if (id < 0)
		return 0;
	if (config.failures_only && ret >= 0)
		return 0;
	if (config.filter_errno && ret != -(long)config.errno_value)
		return 0;

	key = config.per_process ? (__u32)(pid_tgid >> 32) : (__u32)id;
	v = bpf_map_lookup_elem(&counts, &key);
	if (!v) {
		struct syscount_value zero = {};

		if (config.per_process)
			bpf_get_current_comm(zero.comm, sizeof(zero.comm));
		/* Fails when another CPU added the key first (fine) or when the map is full. */
		bpf_map_update_elem(&counts, &key, &zero, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&counts, &key);
		if (!v) {
			count_lost_event(&lost_events);
			return 0;
		}
	}
	__sync_fetch_and_add(&v->count, 1);
	if (config.latency)
		__sync_fetch_and_add(&v->total_ns, delta);
	return 0;
}
