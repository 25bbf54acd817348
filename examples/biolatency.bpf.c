// SPDX-License-Identifier: (MIT OR GPL-2.0)
/*
 * Block I/O latency, issue to completion, as a log2 histogram in microseconds: run draws it
 * like BCC's print_log2_hist because the map is named like a histogram (`..._hist_usecs`:
 * the word "hist", then the unit).
 *
 *   ebpf-agent run biolatency.bpf.o --map-interval 5
 *   ebpf-agent run biolatency.bpf.o --set target_dev=$((179 << 20 | 0))   # mmcblk0 only
 */
#include "kernel.h"

const volatile __u32 target_dev = 0; /* the kernel's dev_t (major << 20 | minor); 0: all */

/* A request, by where it goes. Both fields 8 bytes: a key must have no padding, whose bytes
 * would be whatever the stack held and never match again. */
struct request_key {
	__u64 dev;
	__u64 sector;
};

/* When each request was issued (in flight only: deleted at completion). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct request_key);
	__type(value, __u64);
} start SEC(".maps");

/* Slot i counts the I/Os of 2^i to 2^(i+1)-1 microseconds (slot 0: 0 and 1). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} latency_hist_usecs SEC(".maps");

static __u32 log2_slot(__u64 v)
{
	__u32 slot = 0;

#pragma unroll
	for (int i = 32; i > 0; i >>= 1) {
		if (v >= (1ULL << i)) {
			v >>= i;
			slot += i;
		}
	}
	return slot;
}

SEC("tracepoint/block/block_rq_issue")
int rq_issue(struct block_rq *ctx)
{
	struct request_key k = { .dev = ctx->dev, .sector = ctx->sector };
	__u64 now = bpf_ktime_get_ns();

	if (target_dev && ctx->dev != target_dev)
		return 0;
	bpf_map_update_elem(&start, &k, &now, BPF_ANY);
	return 0;
}

SEC("tracepoint/block/block_rq_complete")
int rq_complete(struct block_rq *ctx)
{
	struct request_key k = { .dev = ctx->dev, .sector = ctx->sector };
	__u64 *issued, *slot;
	__u32 i;

	issued = bpf_map_lookup_elem(&start, &k);
	if (!issued)
		return 0;
	i = log2_slot((bpf_ktime_get_ns() - *issued) / 1000);
	bpf_map_delete_elem(&start, &k);
	if (i >= 64)
		i = 63;
	slot = bpf_map_lookup_elem(&latency_hist_usecs, &i);
	if (slot)
		__sync_fetch_and_add(slot, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
