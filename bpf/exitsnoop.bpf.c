// SPDX-License-Identifier: (MIT OR GPL-2.0)
/*
 * exitsnoop: every process exit with its status, parent and age.
 *
 * One tracepoint, sched:sched_process_exit, which fires in do_exit() for every thread. A
 * process has exited when its last thread does: signal->live has then already dropped to zero
 * (do_exit decrements it before the tracepoint, on every kernel since 2.6). That is also the
 * thread that carries the process's real status: the leader may have left long before with
 * pthread_exit(), and after an exec from another thread the old leader's exit is not the
 * process's. task->exit_code is set before the tracepoint too.
 */
#include "common.h"
#include "exitsnoop.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

const volatile struct exitsnoop_config config = {};

DEFINE_EVENTS_RINGBUF(256 * 1024);

/*
 * Processes already reported. Two threads leaving at once can both find signal->live at zero
 * (the second decrement lands before the first thread reaches the tracepoint): the first to
 * insert its process here reports it. A process is its tgid with its leader's start time
 * (pids are reused, start times of one pid are not). LRU: entries age out by themselves.
 */
struct process_key {
	__u32 tgid;
	__u32 pad;
	__u64 start_time;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct process_key);
	__type(value, __u8);
} reported SEC(".maps");

/* Keeps the event's type in the object's BTF for the layout check. */
struct exitsnoop_event exitsnoop_event_btf __attribute__((unused));

SEC("tracepoint/sched/sched_process_exit")
int tp_sched_process_exit(void *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct exitsnoop_event *e;
	__u32 pid = pid_tgid >> 32;
	__u64 start;
	int status;

	if (config.filter_pid && pid != config.target_pid)
		return 0;
	if (!config.threads && BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0;
	status = BPF_CORE_READ(task, exit_code);
	if (config.failed_only && status == 0)
		return 0;

	/* A process's age counts from its leader's start; a thread's from its own. */
	if (config.threads) {
		start = BPF_CORE_READ(task, start_time);
	} else {
		struct process_key key = { .tgid = pid };
		__u8 one = 1;

		start = BPF_CORE_READ(task, group_leader, start_time);
		key.start_time = start;
		if (bpf_map_update_elem(&reported, &key, &one, BPF_NOEXIST))
			return 0;
	}
	e = reserve_event(struct exitsnoop_event);
	if (!e)
		return 0;
	e->age_ns = bpf_ktime_get_ns() - start;
	e->time_ns = bpf_ktime_get_boot_ns();
	e->pid = pid;
	e->tid = (__u32)pid_tgid;
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->status = status;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	submit_event(e);
	return 0;
}
