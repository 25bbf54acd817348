// SPDX-License-Identifier: (MIT OR GPL-2.0)
/*
 * funclatency: the time one function takes, as a log2 histogram. The entry notes when the
 * thread entered, the return adds the time since. Kernel functions: fentry/fexit where the
 * kernel has BPF trampolines, kprobe/kretprobe otherwise; user functions: uprobe/uretprobe.
 * The agent picks the pair and aims it at the function before load.
 */
#include "common.h"
#include "funclatency.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

const volatile struct funclatency_config config = { .unit_ns = 1 };

DEFINE_LOST_COUNTER();

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FUNCLATENCY_MAX_THREADS);
	__type(key, __u32);
	__type(value, __u64);
} starts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct funclatency_value);
} latency SEC(".maps");

static __always_inline int entry(void)
{
	__u64 id = bpf_get_current_pid_tgid(), now, *start;
	__u32 tid = (__u32)id, zero = 0;
	struct funclatency_value *v;

	if (config.filter_tgid && (id >> 32) != config.tgid)
		return 0;
	now = bpf_ktime_get_ns();
	start = bpf_map_lookup_elem(&starts, &tid);
	if (start) {
		/* The thread's previous call never had its return seen: counted, and its slot
		 * reused in place (only this thread touches it; no element to allocate). */
		v = bpf_map_lookup_elem(&latency, &zero);
		if (v)
			__sync_fetch_and_add(&v->untimed, 1);
		*start = now;
	} else if (bpf_map_update_elem(&starts, &tid, &now, BPF_NOEXIST)) {
		count_lost_event(&lost_events);
	}
	return 0;
}

static __always_inline int ret(void)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid(), zero = 0;
	struct funclatency_value *v;
	__u64 *start, delta;

	start = bpf_map_lookup_elem(&starts, &tid);
	if (!start)
		return 0;
	delta = bpf_ktime_get_ns() - *start;
	bpf_map_delete_elem(&starts, &tid);
	v = bpf_map_lookup_elem(&latency, &zero);
	if (!v)
		return 0;
	delta /= config.unit_ns;
	hist_add_log2(&v->hist, delta);
	__sync_fetch_and_add(&v->total, delta);
	__sync_fetch_and_add(&v->count, 1);
	return 0;
}

SEC("fentry")
int BPF_PROG(fentry_entry)
{
	return entry();
}

SEC("fexit")
int BPF_PROG(fexit_return)
{
	return ret();
}

SEC("kprobe")
int kp_entry(struct pt_regs *ctx)
{
	return entry();
}

SEC("kretprobe")
int kp_return(struct pt_regs *ctx)
{
	return ret();
}

SEC("uprobe")
int up_entry(struct pt_regs *ctx)
{
	return entry();
}

SEC("uretprobe")
int up_return(struct pt_regs *ctx)
{
	return ret();
}
