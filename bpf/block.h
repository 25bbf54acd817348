/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/*
 * Block I/O requests, traced without kprobes: what biolatency, biosnoop and biotop share. The
 * agent's half is agents/core/src/block.rs (the hook groups, the .rodata below, disk names and
 * request flags). Include after common.h.
 *
 * A request is followed by its address from issue to completion, on the block_rq_issue and
 * block_rq_complete tracepoints: BTF-typed (tp_btf) where the kernel allows them, raw
 * tracepoints otherwise (this is the same tracepoint; raw_tp needs no kernel BTF to attach and
 * no trampolines). Both run in whatever context issues or completes the request: a kernel
 * worker, an interrupt. The process that asked for the I/O is noted where the request is made
 * from its first bio, in that process: block_io_start (6.5 on) by request, or block_getrq
 * (every kernel) by bio, found again at issue through rq->bio. That "origin" (pid, comm, time)
 * moves into the tool's own record at issue, so origins live only while requests wait.
 *
 * A tool defines its issue and complete functions and expands BLOCK_PROGRAMS(issue, complete),
 * which makes every program the agent may pick from (eight; it loads four at most).
 */
#ifndef EBPF_RUST_BLOCK_H
#define EBPF_RUST_BLOCK_H

#include "core_fixes.h"

/* Requests followed at once, issued and not completed (a full map counts as lost). */
#define BLOCK_INFLIGHT 4096

/* Set by the agent (block::configure) before load. */
struct block_config {
	__u8 rq_arg; /* position of the request among block_rq_issue's arguments */
	__u8 origin_arg; /* position of the bio (block_getrq) or request (block_io_start) */
	__u8 origin_by_bio; /* origins are noted by bio (block_getrq), not by request */
	__u8 origins; /* origin hooks are attached: take_origin() finds something */
};

const volatile struct block_config block_config = {};

/* Who made a request, and when. */
struct block_origin {
	__u64 ns; /* bpf_ktime_get_ns() when it was made */
	__u32 pid;
	__u32 pad;
	char comm[TASK_COMM_LEN];
};

/*
 * Origins not yet issued, by request or bio address. LRU: one whose request was never issued
 * (the flush machinery ends some requests itself) ages out instead of filling the map.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, BLOCK_INFLIGHT);
	__type(key, __u64);
	__type(value, struct block_origin);
} origins SEC(".maps");

static __noinline void note_origin(__u64 key)
{
	struct block_origin o = {};

	o.ns = bpf_ktime_get_ns();
	o.pid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(o.comm, sizeof(o.comm));
	bpf_map_update_elem(&origins, &key, &o, BPF_ANY);
}

static __always_inline __u64 origin_key(struct request *rq)
{
	if (block_config.origin_by_bio)
		return (__u64)BPF_CORE_READ(rq, bio);
	return (__u64)rq;
}

/* At issue: the request's origin, taken out of the map. False when unknown (or not traced). */
static __always_inline bool take_origin(struct request *rq, struct block_origin *o)
{
	struct block_origin *p;
	__u64 key;

	if (!block_config.origins)
		return false;
	key = origin_key(rq);
	p = bpf_map_lookup_elem(&origins, &key);
	if (!p)
		return false;
	__builtin_memcpy(o, p, sizeof(*o));
	bpf_map_delete_elem(&origins, &key);
	return true;
}

/* At the completion of a request that was never seen issued: its origin goes too. */
static __always_inline void drop_origin(struct request *rq)
{
	__u64 key;

	if (!block_config.origins)
		return;
	key = origin_key(rq);
	bpf_map_delete_elem(&origins, &key);
}

/* A request from its issue on: when, and who made it (pid 0, comm "?" if unknown). */
struct block_issued {
	__u64 issue_ns;
	__u64 origin_ns; /* when it was made, if `origin` */
	__u32 pid;
	__u32 origin; /* 1: made by `pid` at `origin_ns` */
	char comm[TASK_COMM_LEN];
};

/* The record of a request issued now, with its origin if `known`. */
static __always_inline void note_issue(struct block_issued *s, bool known, struct block_origin *o)
{
	s->issue_ns = bpf_ktime_get_ns();
	if (known) {
		s->origin_ns = o->ns;
		s->pid = o->pid;
		s->origin = 1;
		__builtin_memcpy(s->comm, o->comm, sizeof(s->comm));
	} else {
		s->comm[0] = '?';
	}
}

/*
 * The requests under way, by request address, from issue to completion: what was known at
 * the issue. The map of block_issue() and block_issued().
 */
#define DEFINE_BLOCK_ISSUED()                                                                  \
	struct {                                                                               \
		__uint(type, BPF_MAP_TYPE_HASH);                                               \
		__uint(max_entries, BLOCK_INFLIGHT);                                           \
		__type(key, __u64);                                                            \
		__type(value, struct block_issued);                                            \
	} start SEC(".maps")

/* Notes in `start` that `rq` is issued now; a full map counts it in `lost`. */
static __always_inline void block_issue(void *start, void *lost, struct request *rq, bool known,
					struct block_origin *o)
{
	struct block_issued s = {};
	__u64 key = (__u64)rq;

	note_issue(&s, known, o);
	if (bpf_map_update_elem(start, &key, &s, BPF_ANY))
		count_lost_event(lost);
}

/*
 * What `start` knows of `rq` at its completion, and in `latency` the time since its issue; NULL
 * (its origin dropped) for a request issued before tracing began. The caller deletes the entry.
 */
static __always_inline struct block_issued *block_issued(void *start, struct request *rq,
							 __u64 *latency)
{
	__u64 key = (__u64)rq;
	struct block_issued *s = bpf_map_lookup_elem(start, &key);
	__s64 delta;

	if (!s) {
		drop_origin(rq);
		return NULL;
	}
	delta = (__s64)(bpf_ktime_get_ns() - s->issue_ns);
	*latency = delta < 0 ? 0 : delta;
	return s;
}

/* The disk of a request, as the kernel's dev_t (MKDEV(major, first_minor)). */
static __always_inline dev_t rq_dev(struct request *rq)
{
	return disk_dev(rq_gendisk(rq));
}

/* REQ_OP_WRITE, the same value on every kernel (include/linux/blk_types.h). */
#define BLOCK_OP_MASK 0xff
#define BLOCK_OP_WRITE 1

#define BLOCK_PROGRAMS(issue, complete)                                                \
	SEC("tp_btf/block_rq_issue")                                                   \
	int btf_rq_issue(__u64 *ctx)                                                   \
	{                                                                              \
		return issue((struct request *)tp_arg(ctx, block_config.rq_arg));      \
	}                                                                              \
	SEC("raw_tp/block_rq_issue")                                                   \
	int raw_rq_issue(__u64 *ctx)                                                   \
	{                                                                              \
		return issue((struct request *)tp_arg(ctx, block_config.rq_arg));      \
	}                                                                              \
	SEC("tp_btf/block_rq_complete")                                                \
	int btf_rq_complete(__u64 *ctx)                                                \
	{                                                                              \
		return complete((struct request *)ctx[0]);                             \
	}                                                                              \
	SEC("raw_tp/block_rq_complete")                                                \
	int raw_rq_complete(__u64 *ctx)                                                \
	{                                                                              \
		return complete((struct request *)ctx[0]);                             \
	}                                                                              \
	SEC("tp_btf/block_io_start")                                                   \
	int btf_io_start(__u64 *ctx)                                                   \
	{                                                                              \
		note_origin(tp_arg(ctx, block_config.origin_arg));                     \
		return 0;                                                              \
	}                                                                              \
	SEC("raw_tp/block_io_start")                                                   \
	int raw_io_start(__u64 *ctx)                                                   \
	{                                                                              \
		note_origin(tp_arg(ctx, block_config.origin_arg));                     \
		return 0;                                                              \
	}                                                                              \
	SEC("tp_btf/block_getrq")                                                      \
	int btf_getrq(__u64 *ctx)                                                      \
	{                                                                              \
		note_origin(tp_arg(ctx, block_config.origin_arg));                     \
		return 0;                                                              \
	}                                                                              \
	SEC("raw_tp/block_getrq")                                                      \
	int raw_getrq(__u64 *ctx)                                                      \
	{                                                                              \
		note_origin(tp_arg(ctx, block_config.origin_arg));                     \
		return 0;                                                              \
	}

#endif
