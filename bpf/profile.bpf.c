// SPDX-License-Identifier: (MIT OR GPL-2.0)
/*
 * profile: CPU samples by stack. A software cpu-clock perf event fires on every online CPU at
 * the chosen frequency (the agent opens one per CPU); each sample counts its (process, user
 * stack, kernel stack) in the kernel. The agent reads the counts and stacks once, at the end,
 * and symbolizes them.
 */
#include "common.h"
#include "stacks.h"
#include "profile.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

const volatile struct profile_config config = {};

/* Carries only the first-sample notes of processes (bpf/stacks.h). */
DEFINE_EVENTS_RINGBUF(16 * 1024);
DEFINE_STACK_MAP(stacks);
DEFINE_STACK_PIDS();

DEFINE_DRAINED_HASH(counts, struct profile_key, __u64, PROFILE_MAX_ENTRIES);

/* Samples taken (after the filters), per CPU: the counts add up to this, less the lost. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} samples SEC(".maps");

/* Set by the agent before its last report: the counts then hold still and add up. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} stopped SEC(".maps");

struct stack_pid_event stack_pid_event_btf __attribute__((unused));

SEC("perf_event")
int do_sample(void *ctx)
{
	__u64 id = bpf_get_current_pid_tgid(), zero = 0, *n;
	__u32 pid = id >> 32, tid = (__u32)id, key0 = 0;
	struct profile_key key = {};
	__u32 *stop;

	if (!config.include_idle && tid == 0)
		return 0;
	stop = bpf_map_lookup_elem(&stopped, &key0);
	if (!stop || *stop)
		return 0;
	if (config.filter_pid && pid != config.pid)
		return 0;
	if (config.filter_tid && tid != config.tid)
		return 0;
	if (config.filter_cpu && bpf_get_smp_processor_id() != config.cpu)
		return 0;
	n = bpf_map_lookup_elem(&samples, &key0);
	if (n)
		*n += 1;
	key.pid = pid;
	bpf_get_current_comm(key.comm, sizeof(key.comm));
	key.user_stack_id = config.user ? bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK) : -1;
	key.kernel_stack_id = config.kernel ? bpf_get_stackid(ctx, &stacks, 0) : -1;
	if (config.user)
		note_pid(pid);
	n = drained_lookup_or_init(counts, &key, &zero);
	if (n)
		__sync_fetch_and_add(n, 1);
	return 0;
}
