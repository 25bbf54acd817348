/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/*
 * Stack traces for the stack tools (profile, offcputime): a BPF_MAP_TYPE_STACK_TRACE map the
 * agent reads and symbolizes (agents/core/src/stacks.rs), and the note of each process seen
 * for the first time, so that the agent reads its mappings while it still lives.
 *
 * User stacks are walked by the kernel through frame pointers: code built without them
 * (-fomit-frame-pointer, the default of -O2 on x86_64 and arm64) gives short or broken
 * user stacks. Kernel stacks are always complete.
 */
#ifndef EBPF_RUST_STACKS_H
#define EBPF_RUST_STACKS_H

/* Frames per stack: the kernel's default kernel.perf_event_max_stack. */
#define STACK_MAX_DEPTH 127

/* bpf_get_stackid() flags (include/uapi/linux/bpf.h). */
#define BPF_F_USER_STACK (1ULL << 8)

/* errno values a stack id can carry: no user stack (a kernel thread), table full, collision. */
#define STACK_EFAULT 14

/* The map of stacks: its size is set by the agent before load (--stack-storage-size). */
#define DEFINE_STACK_MAP(name)                                       \
	struct {                                                     \
		__uint(type, BPF_MAP_TYPE_STACK_TRACE);              \
		__uint(max_entries, 1024);                           \
		__uint(key_size, sizeof(__u32));                     \
		__uint(value_size, STACK_MAX_DEPTH * sizeof(__u64)); \
	} name SEC(".maps")

/*
 * Sent once per process and program (until evicted from stack_pids) when it is first seen:
 * an exec gives the process a new name and new mappings, so the name is part of the key.
 */
struct stack_pid_event {
	__u32 pid;
	char comm[16];
};

/*
 * The processes already announced to the agent, and the announcement itself: the record is
 * small and rare, and wakes the agent at once (the process may exit soon). Needs the
 * `events` ring (DEFINE_EVENTS_RINGBUF) defined before.
 */
#define DEFINE_STACK_PIDS()                                   \
	struct {                                              \
		__uint(type, BPF_MAP_TYPE_LRU_HASH);           \
		__uint(max_entries, 8192);                     \
		__type(key, struct stack_pid_event);           \
		__type(value, __u8);                           \
	} stack_pids SEC(".maps")

/* Announces the current task's process `pid` (the thread group id) with its name. */
static __always_inline void stack_note_pid(void *pids, void *ring, void *lost, __u32 pid)
{
	struct stack_pid_event e = { .pid = pid };
	__u8 one = 1;

	if (!pid)
		return;
	bpf_get_current_comm(e.comm, sizeof(e.comm));
	if (bpf_map_lookup_elem(pids, &e))
		return;
	if (bpf_map_update_elem(pids, &e, &one, BPF_NOEXIST))
		return;
	if (bpf_ringbuf_output(ring, &e, sizeof(e), BPF_RB_FORCE_WAKEUP))
		count_lost_event(lost);
}

#define note_pid(pid) stack_note_pid(&stack_pids, &events, &lost_events, (pid))

#endif
