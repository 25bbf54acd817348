// SPDX-License-Identifier: (MIT OR GPL-2.0)
/*
 * syscount: syscalls counted (and, with -L, timed) per syscall or per process.
 *
 * raw_syscalls:sys_enter/sys_exit, so one pair of programs sees every syscall on every kernel
 * with syscall tracepoints. On x86_64 and arm64 they attach as raw tracepoints (no perf
 * buffer), whose saved registers also say which ABI a call came through: 32-bit calls are
 * counted under their own numbers (SYSCOUNT_KEY_COMPAT), not mistaken for the 64-bit syscall
 * of the same number. Counting happens in the kernel, in a hash map the agent drains at every
 * interval. Only -L needs more: the enter program notes each thread's start time in a second
 * map, in a slot per thread that lives until the thread exits.
 */
#include "common.h"
#include "syscalls.h"
#include "syscount.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

const volatile struct syscount_config config = {};

DEFINE_DRAINED_HASH(counts, __u32, struct syscount_value, SYSCOUNT_MAX_KEYS);

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

static __always_inline int on_enter(void)
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

/* `regs`: the caller's saved registers, where the ABI can be read (NULL: native only). */
static __always_inline int on_exit(struct pt_regs *regs, long id, long ret)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid, key;
	struct syscount_value *v;
	__u64 *start, delta = 0;

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

	if (config.per_process)
		key = (__u32)(pid_tgid >> 32);
	else
		key = (__u32)id;
#ifdef SYSCALLS_RAW
	if (!config.per_process && regs && syscall_is_compat(regs))
		key |= SYSCOUNT_KEY_COMPAT;
#endif
	/* The zeroed value is made only when the key is new. */
	v = drained_lookup_or_init(counts, &key, &(struct syscount_value){});
	if (!v)
		return 0;
	__sync_fetch_and_add(&v->count, 1);
	/* The name as of the latest call: a process that exec()s shows its new name. */
	if (config.per_process)
		bpf_get_current_comm(v->comm, sizeof(v->comm));
	if (config.latency)
		__sync_fetch_and_add(&v->total_ns, delta);
	return 0;
}

#ifdef SYSCALLS_RAW
SEC("raw_tp/sys_enter")
int sys_enter(__u64 *ctx)
{
	return on_enter();
}

SEC("raw_tp/sys_exit")
int sys_exit(__u64 *ctx)
{
	struct pt_regs *regs = RAW_SYSCALL_REGS(ctx);
	struct syscall_regs s;

	if (!traced(bpf_get_current_pid_tgid()))
		return 0;
	syscall_regs_read(regs, &s);
	return on_exit(regs, s.nr, (long)ctx[1]);
}
#else
SEC("tracepoint/raw_syscalls/sys_enter")
int sys_enter(struct trace_event_raw_sys_enter *ctx)
{
	return on_enter();
}

SEC("tracepoint/raw_syscalls/sys_exit")
int sys_exit(struct trace_event_raw_sys_exit *ctx)
{
	if (!traced(bpf_get_current_pid_tgid()))
		return 0;
	return on_exit(NULL, ctx->id, ctx->ret);
}
#endif
