// SPDX-License-Identifier: (MIT OR GPL-2.0)
/*
 * biolatency: block I/O latency as log2 histograms, counted in the kernel.
 *
 * From issue to completion of each request (block.h); with -Q from the moment the request
 * was made for its first bio (its origin), so the time it waited in the plug and the I/O
 * scheduler counts too. Histograms per disk (-D) and per request flags (-F) in a hash map the
 * agent drains every interval.
 */
#include "common.h"
#include "hist.h"
#include "block.h"
#include "biolatency.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

const volatile struct biolatency_config config = {};

/* When each request started (issue, or its origin with -Q), by request address. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, BLOCK_INFLIGHT);
	__type(key, __u64);
	__type(value, __u64);
} start SEC(".maps");

DEFINE_DRAINED_HASH(hists, struct biolatency_key, struct hist, BIOLATENCY_MAX_HISTS);

DEFINE_LOST_COUNTER();

/* A new histogram's first value: too large for the BPF stack. */
static struct hist zero_hist;

static __noinline int on_issue(struct request *rq)
{
	struct block_origin o = {};
	__u64 key = (__u64)rq, ts;
	bool known = take_origin(rq, &o);

	if (config.filter_dev && rq_dev(rq) != config.dev)
		return 0;
	ts = known ? o.ns : bpf_ktime_get_ns();
	if (bpf_map_update_elem(&start, &key, &ts, BPF_ANY))
		count_lost_event(&lost_events);
	return 0;
}

static __noinline int on_complete(struct request *rq)
{
	struct biolatency_key hkey = {};
	__u64 key = (__u64)rq, *tsp;
	struct hist *h;
	__s64 delta;

	tsp = bpf_map_lookup_elem(&start, &key);
	if (!tsp) {
		drop_origin(rq);
		return 0;
	}
	delta = (__s64)(bpf_ktime_get_ns() - *tsp);
	bpf_map_delete_elem(&start, &key);
	if (delta < 0)
		delta = 0;
	if (config.per_disk)
		hkey.dev = rq_dev(rq);
	if (config.per_flags)
		hkey.flags = BPF_CORE_READ(rq, cmd_flags);
	h = drained_lookup_or_init(hists, &hkey, &zero_hist);
	if (!h)
		return 0;
	hist_add_log2(h, (__u64)delta / (config.milliseconds ? 1000000 : 1000));
	return 0;
}

BLOCK_PROGRAMS(on_issue, on_complete)
