// SPDX-License-Identifier: (MIT OR GPL-2.0)
/*
 * funccount: calls of kernel functions (kprobes), tracepoint hits and calls of user functions
 * (uprobes), counted in the kernel. One program of each kind is attached to every function
 * or tracepoint the patterns matched; the key says which one fired: the kprobe's address
 * (named through kallsyms, on every kernel), or for tracepoints and uprobes the link's cookie
 * (5.15+) or the program's slot number (older kernels, FUNCCOUNT_SLOTS of each).
 */
#include "common.h"
#include "funccount.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

const volatile struct funccount_config config = {};

DEFINE_LOST_COUNTER();

DEFINE_DRAINED_HASH(counts, struct funccount_key, __u64, FUNCCOUNT_MAX_PROBES + 24);

static __always_inline int count(__u32 kind, __u64 id)
{
	struct funccount_key key = { .kind = kind, .id = id };
	__u64 zero = 0, *n;

	if (config.filter_tgid && (bpf_get_current_pid_tgid() >> 32) != config.tgid)
		return 0;
	n = drained_lookup_or_init(counts, &key, &zero);
	if (n)
		__sync_fetch_and_add(n, 1);
	return 0;
}

SEC("kprobe")
int kp_count(struct pt_regs *ctx)
{
	return count(FUNCCOUNT_KERNEL, PT_REGS_IP(ctx));
}

/*
 * Tracepoints and user functions: the link's cookie (5.15+) says which one fired, or, where
 * the kernel has no cookies, a program of their own: FUNCCOUNT_SLOTS of each kind.
 */
SEC("tracepoint")
int tp_count_cookie(void *ctx)
{
	return count(FUNCCOUNT_TRACEPOINT, bpf_get_attach_cookie(ctx));
}

SEC("uprobe")
int up_count_cookie(struct pt_regs *ctx)
{
	return count(FUNCCOUNT_USER, bpf_get_attach_cookie(ctx));
}

#define SLOT(n)                                             \
	SEC("tracepoint")                                   \
	int tp_count_##n(void *ctx)                         \
	{                                                   \
		return count(FUNCCOUNT_TRACEPOINT, (n) + 1); \
	}                                                   \
	SEC("uprobe")                                       \
	int up_count_##n(struct pt_regs *ctx)               \
	{                                                   \
		return count(FUNCCOUNT_USER, (n) + 1);       \
	}

SLOT(0) SLOT(1) SLOT(2) SLOT(3) SLOT(4) SLOT(5) SLOT(6) SLOT(7)
SLOT(8) SLOT(9) SLOT(10) SLOT(11) SLOT(12) SLOT(13) SLOT(14) SLOT(15)
