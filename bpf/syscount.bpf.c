// SPDX-License-Identifier: (MIT OR GPL-2.0)
/*
 * syscount: syscalls counted (and, with -L, timed) per syscall or per process.
 *
 * raw_syscalls:sys_enter/sys_exit, so one pair of programs sees every syscall on every kernel
 * with syscall tracepoints. Counting happens in the kernel, in a hash map the agent drains at
 * every interval. Only -L needs more: the enter program notes each thread's start time in a
 * second map, in a slot per thread that lives until the thread exits.
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

/* Syscalls that could not be counted (a full map): see maps.h. */
DEFINE_LOST_COUNTER();

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
	__u64 now, *start;

	if (!traced(pid_tgid))
		return 0;
	now = bpf_ktime_get_ns();
	/* The thread's slot is written in place: a lookup costs less than an update. */
	start = bpf_map_lookup_elem(&starts, &tid);
	if (start)
		*start = now;
	else if (bpf_map_update_elem(&starts, &tid, &now, BPF_NOEXIST))
		count_lost_event(&lost_events);
	return 0;
}

/* A thread's slot goes with the thread (only loaded with -L, like sys_enter). */
SEC("tracepoint/sched/sched_process_exit")
int sched_exit(void *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();

	bpf_map_delete_elem(&starts, &tid);
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
		if (!start || !*start)
			return 0;
		delta = bpf_ktime_get_ns() - *start;
		*start = 0;
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

		/* Fails when another CPU added the key first (fine) or when the map is full. */
		bpf_map_update_elem(&counts, &key, &zero, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&counts, &key);
		if (!v) {
			count_lost_event(&lost_events);
			return 0;
		}
	}
	__sync_fetch_and_add(&v->count, 1);
	/* The name as of the latest call: a process that exec()s shows its new name. */
	if (config.per_process)
		bpf_get_current_comm(v->comm, sizeof(v->comm));
	if (config.latency)
		__sync_fetch_and_add(&v->total_ns, delta);
	return 0;
}
