/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/*
 * Kernel fields and arguments that changed between the kernels we support (5.10 on), read the
 * way this kernel lays them out: CO-RE field checks against the running kernel's BTF, never
 * a version guess where the BTF can tell. Include after common.h.
 *
 * Block layer:
 * - `struct request` lost `rq_disk` (5.17-6.0): the disk is `rq->q->disk` (5.15 on).
 * - `struct bio` replaced `bi_disk` with `bi_bdev` (5.12).
 * - Raw tracepoint arguments moved: `block_rq_issue` and `block_rq_insert` lost their `q`
 *   argument in 5.11 (`(q, rq)` became `(rq)`), and so did `block_getrq` and `block_bio_queue`
 *   (`(q, bio, rw)` became `(bio)`). Stable kernels took only part of it: Debian's 5.10.223 has
 *   `block_rq_issue(rq)` (backported in 5.10.137) but still `block_getrq(q, bio, rw)`. No
 *   version number tells which, so the agent reads the prototype from the kernel's BTF
 *   (`btf_trace_<tracepoint>`) and hands the position over in .rodata: see tp_arg().
 * - dev_t inside the kernel is MKDEV(major, first_minor) with 20 minor bits (not the 8:8 or
 *   12:20 user-space encodings).
 *
 * Network:
 * - `sock:inet_sock_set_state`'s `protocol` widened from u8 to u16 (5.6).
 */
#ifndef EBPF_RUST_CORE_FIXES_H
#define EBPF_RUST_CORE_FIXES_H

#define MINORBITS 20
#define MKDEV(ma, mi) (((__u32)(ma) << MINORBITS) | (__u32)(mi))

typedef __u32 dev_t;
typedef __u64 sector_t;

struct gendisk {
	int major;
	int first_minor;
	char disk_name[32];
} __attribute__((preserve_access_index));

struct request_queue {
	struct gendisk *disk;
} __attribute__((preserve_access_index));

struct request {
	struct request_queue *q;
	unsigned int cmd_flags;
	unsigned int __data_len;
	sector_t __sector;
	struct bio *bio;
} __attribute__((preserve_access_index));

/* Before 6.0. */
struct request___rq_disk {
	struct gendisk *rq_disk;
} __attribute__((preserve_access_index));

struct block_device {
	dev_t bd_dev;
	struct gendisk *bd_disk;
} __attribute__((preserve_access_index));

struct bvec_iter {
	sector_t bi_sector;
	unsigned int bi_size;
} __attribute__((preserve_access_index));

struct bio {
	struct block_device *bi_bdev;
	unsigned int bi_opf;
	struct bvec_iter bi_iter;
} __attribute__((preserve_access_index));

/* Before 5.12. */
struct bio___bi_disk {
	struct gendisk *bi_disk;
} __attribute__((preserve_access_index));

/* The disk a request is for. */
static __always_inline struct gendisk *rq_gendisk(struct request *rq)
{
	struct request___rq_disk *old = (void *)rq;

	if (bpf_core_field_exists(old->rq_disk))
		return BPF_CORE_READ(old, rq_disk);
	return BPF_CORE_READ(rq, q, disk);
}

/* The disk a bio is for. */
static __always_inline struct gendisk *bio_gendisk(struct bio *bio)
{
	struct bio___bi_disk *old = (void *)bio;

	if (bpf_core_field_exists(old->bi_disk))
		return BPF_CORE_READ(old, bi_disk);
	return BPF_CORE_READ(bio, bi_bdev, bd_disk);
}

/* The kernel dev_t of a disk (what /proc/partitions lists, as MKDEV). */
static __always_inline dev_t disk_dev(struct gendisk *disk)
{
	if (!disk)
		return 0;
	return MKDEV(BPF_CORE_READ(disk, major), BPF_CORE_READ(disk, first_minor));
}

/*
 * Argument `pos` (0 or 1) of a raw or BTF-typed tracepoint, counted after the hidden `__data`
 * one. `pos` comes from .rodata, a constant at load time: the verifier prunes the branch not
 * taken, so a program never reads past the arguments the tracepoint really has (the kernel
 * would refuse to attach it, and tp_btf would not load). The barriers keep each load at its
 * own constant offset: clang would otherwise compute ctx + 8 * pos and load from there, and
 * the verifier refuses an access through a modified context pointer.
 */
static __always_inline __u64 tp_arg(__u64 *ctx, __u32 pos)
{
	__u64 v;

	if (pos) {
		v = ctx[1];
		barrier_var(v);
	} else {
		v = ctx[0];
		barrier_var(v);
	}
	return v;
}

/* The context of sock:inet_sock_set_state (the fields the tools read). */
struct trace_event_raw_inet_sock_set_state {
	const void *skaddr;
	int oldstate;
	int newstate;
	__u16 sport;
	__u16 dport;
	__u16 family;
	__u16 protocol;
	__u8 saddr[4];
	__u8 daddr[4];
	__u8 saddr_v6[16];
	__u8 daddr_v6[16];
} __attribute__((preserve_access_index));

/* `protocol` of inet_sock_set_state, u8 before 5.6 and u16 since. */
static __always_inline __u16 sock_state_protocol(struct trace_event_raw_inet_sock_set_state *ctx)
{
	__u16 proto = 0;

	bpf_core_read(&proto, bpf_core_field_size(ctx->protocol), &ctx->protocol);
	return proto;
}

#endif
