// SPDX-License-Identifier: (MIT OR GPL-2.0)
/*
 * biotop: block I/O per process, disk and direction: requests, bytes and time, counted in
 * the kernel and drained by the agent every interval.
 *
 * Requests are followed as block.h says; each is counted for the process that made it (its
 * origin, taken at issue), at its completion.
 */
#include "common.h"
#include "block.h"
#include "biotop.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

const volatile struct biotop_config config = {};

DEFINE_BLOCK_ISSUED();

DEFINE_DRAINED_HASH(counts, struct biotop_key, struct biotop_value, BIOTOP_MAX_ROWS);

DEFINE_LOST_COUNTER();

/* Keeps the row's types in the object's BTF for the layout check. */
struct biotop_key biotop_key_btf __attribute__((unused));
struct biotop_value biotop_value_btf __attribute__((unused));

static __noinline int on_issue(struct request *rq)
{
	struct block_origin o = {};
	bool known = take_origin(rq, &o);

	if (config.filter_pid && (!known || o.pid != config.target_pid))
		return 0;
	block_issue(&start, &lost_events, rq, known, &o);
	return 0;
}

static __noinline int on_complete(struct request *rq)
{
	struct biotop_value zero = {}, *v;
	struct biotop_key k = {};
	__u64 key = (__u64)rq, delta;
	struct block_issued *s;

	s = block_issued(&start, rq, &delta);
	if (!s)
		return 0;
	k.pid = s->pid;
	k.dev = rq_dev(rq);
	k.write = (BPF_CORE_READ(rq, cmd_flags) & BLOCK_OP_MASK) == BLOCK_OP_WRITE;
	__builtin_memcpy(k.comm, s->comm, sizeof(k.comm));
	bpf_map_delete_elem(&start, &key);
	v = drained_lookup_or_init(counts, &k, &zero);
	if (!v)
		return 0;
	__sync_fetch_and_add(&v->io, 1);
	__sync_fetch_and_add(&v->bytes, BPF_CORE_READ(rq, __data_len));
	__sync_fetch_and_add(&v->ns, delta);
	return 0;
}

BLOCK_PROGRAMS(on_issue, on_complete)
