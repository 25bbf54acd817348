// SPDX-License-Identifier: (MIT OR GPL-2.0)
/*
 * offcputime: time threads spend blocked, by stack. At sched_switch the thread going off CPU
 * (the current one) has its time and stacks noted; when it comes back on CPU, the time in
 * between is added to its (thread, user stack, kernel stack). tp_btf where the kernel offers
 * it, raw_tp otherwise (same arguments; neither needs kprobes or trampolines).
 */
#include "common.h"
#include "stacks.h"
#include "offcputime.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

const volatile struct offcputime_config config = {};

#define PF_KTHREAD 0x00200000

DEFINE_EVENTS_RINGBUF(16 * 1024);
DEFINE_STACK_MAP(stacks);
DEFINE_STACK_PIDS();

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, OFFCPUTIME_MAX_THREADS);
	__type(key, __u32);
	__type(value, struct offcputime_start);
} starts SEC(".maps");

DEFINE_DRAINED_HASH(info, struct offcputime_key, __u64, OFFCPUTIME_MAX_ENTRIES);

struct stack_pid_event stack_pid_event_btf __attribute__((unused));

/* Before 5.14 the state was `long state`. */
struct task_struct___o {
	volatile long state;
} __attribute__((preserve_access_index));

static __always_inline long task_state(struct task_struct *t)
{
	if (bpf_core_field_exists(t->__state))
		return BPF_CORE_READ(t, __state);
	return BPF_CORE_READ((struct task_struct___o *)t, state);
}

static __always_inline bool traced(struct task_struct *t, __u32 pid, __u32 tgid)
{
	if (!pid)
		return false;
	if (config.filter_tgid && tgid != config.tgid)
		return false;
	if (config.filter_tid && pid != config.tid)
		return false;
	if (config.user_threads_only && (BPF_CORE_READ(t, flags) & PF_KTHREAD))
		return false;
	if (config.kernel_threads_only && !(BPF_CORE_READ(t, flags) & PF_KTHREAD))
		return false;
	if (config.filter_state && task_state(t) != config.state)
		return false;
	return true;
}

static __always_inline int on_switch(void *ctx, struct task_struct *prev, struct task_struct *next)
{
	__u32 pid = BPF_CORE_READ(prev, pid), tgid = BPF_CORE_READ(prev, tgid);
	__u64 now = bpf_ktime_get_ns(), delta, zero = 0, *total;
	struct offcputime_start *s;

	if (traced(prev, pid, tgid)) {
		struct offcputime_start st = {};
		bool kthread = BPF_CORE_READ(prev, flags) & PF_KTHREAD;

		st.time_ns = now;
		st.key.pid = pid;
		st.key.tgid = tgid;
		/*
		 * prev is the current task here: its stacks are the ones going to sleep. Kernel
		 * threads have no user stack (and switch often): not even looked for.
		 */
		if (!config.user)
			st.key.user_stack_id = -1;
		else if (kthread)
			st.key.user_stack_id = -STACK_EFAULT;
		else
			st.key.user_stack_id = bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK);
		st.key.kernel_stack_id = config.kernel ? bpf_get_stackid(ctx, &stacks, 0) : -1;
		bpf_get_current_comm(st.key.comm, sizeof(st.key.comm));
		if (bpf_map_update_elem(&starts, &pid, &st, BPF_ANY))
			count_lost_event(&lost_events);
		else if (config.user && !kthread)
			note_pid(tgid);
	}

	pid = BPF_CORE_READ(next, pid);
	s = bpf_map_lookup_elem(&starts, &pid);
	if (!s)
		return 0;
	delta = now - s->time_ns;
	if (delta >= config.min_ns && delta <= config.max_ns) {
		total = drained_lookup_or_init(info, &s->key, &zero);
		if (total)
			__sync_fetch_and_add(total, delta);
	}
	bpf_map_delete_elem(&starts, &pid);
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(tp_btf_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	return on_switch(ctx, prev, next);
}

SEC("raw_tp/sched_switch")
int BPF_PROG(raw_tp_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	return on_switch(ctx, prev, next);
}
