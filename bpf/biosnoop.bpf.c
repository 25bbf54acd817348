// SPDX-License-Identifier: (MIT OR GPL-2.0)
/*
 * biosnoop: one record per block I/O request, at its completion: the process that made it,
 * disk, flags, sector, size, latency (issue to completion) and time queued (made to issue).
 *
 * Requests are followed as block.h says; the origin taken at issue gives the process that
 * submitted the I/O (not whoever runs when it completes: an interrupt, a worker).
 */
#include "common.h"
#include "block.h"
#include "biosnoop.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

const volatile struct biosnoop_config config = {};

DEFINE_EVENTS_RINGBUF(512 * 1024);

DEFINE_BLOCK_ISSUED();

/* Keeps the event's type in the object's BTF for the layout check. */
struct biosnoop_event biosnoop_event_btf __attribute__((unused));

static __noinline int on_issue(struct request *rq)
{
	struct block_origin o = {};
	bool known = take_origin(rq, &o);

	if (config.filter_dev && rq_dev(rq) != config.dev)
		return 0;
	block_issue(&start, &lost_events, rq, known, &o);
	return 0;
}

static __noinline int on_complete(struct request *rq)
{
	struct biosnoop_event *e;
	__u64 key = (__u64)rq, delta;
	struct block_issued *s;

	s = block_issued(&start, rq, &delta);
	if (!s)
		return 0;
	if (delta < config.min_ns)
		goto done;
	e = reserve_event(struct biosnoop_event);
	if (!e)
		goto done;
	e->time_ns = bpf_ktime_get_boot_ns();
	e->latency_ns = delta;
	e->queue_ns = s->origin && s->issue_ns > s->origin_ns ? s->issue_ns - s->origin_ns : 0;
	e->sector = BPF_CORE_READ(rq, __sector);
	e->bytes = BPF_CORE_READ(rq, __data_len);
	e->cmd_flags = BPF_CORE_READ(rq, cmd_flags);
	e->dev = rq_dev(rq);
	e->pid = s->pid;
	e->origin = s->origin;
	e->pad = 0;
	__builtin_memcpy(e->comm, s->comm, sizeof(e->comm));
	submit_event(e);
done:
	bpf_map_delete_elem(&start, &key);
	return 0;
}

BLOCK_PROGRAMS(on_issue, on_complete)
