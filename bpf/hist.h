/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/*
 * Histograms counted in the kernel, read and drawn by the agent (agents/core/src/hist.rs,
 * like BCC's print_log2_hist). A log2 histogram's slot i counts values whose floor(log2) is i
 * (slot 0 also counts 0); a linear one's slot i counts base + i*step up to the next step.
 */
#ifndef EBPF_RUST_HIST_H
#define EBPF_RUST_HIST_H

/* Enough slots for any u64 value. */
#define HIST_SLOTS 64

struct hist {
	__u64 slots[HIST_SLOTS];
};

/* floor(log2(v)), 0 for 0: a branch-free binary search over the bits, 32 of them first. */
static __always_inline __u32 log2_slot(__u64 v)
{
	__u32 r = 0, bits, shift;

#pragma unroll
	for (bits = 32; bits > 0; bits >>= 1) {
		shift = (v >= (1ULL << bits)) * bits;
		v >>= shift;
		r |= shift;
	}
	return r;
}

/* Counts `v` in its log2 slot. */
static __always_inline void hist_add_log2(struct hist *h, __u64 v)
{
	__u32 slot = log2_slot(v);

	if (slot >= HIST_SLOTS)
		slot = HIST_SLOTS - 1;
	/*
	 * clang knows the slot is below 64 and drops any bound; the verifiers of 5.10 and 6.1
	 * cannot follow log2_slot() and refuse the access. barrier_var() hides the value from
	 * clang, so the mask (a no-op) stays for the verifier to see.
	 */
	barrier_var(slot);
	__sync_fetch_and_add(&h->slots[slot & (HIST_SLOTS - 1)], 1);
}

/* Counts `v` in linear slot (v - base) / step, the last slot taking everything above. */
static __always_inline void hist_add_linear(struct hist *h, __u64 v, __u64 base, __u64 step)
{
	__u64 slot = v > base && step ? (v - base) / step : 0;

	if (slot >= HIST_SLOTS)
		slot = HIST_SLOTS - 1;
	barrier_var(slot);
	__sync_fetch_and_add(&h->slots[slot & (HIST_SLOTS - 1)], 1);
}

#endif
