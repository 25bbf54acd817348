/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/* funclatency: the histogram and options shared by funclatency.bpf.c and the agent (tools/funclatency.rs). */
#ifndef EBPF_RUST_FUNCLATENCY_H
#define EBPF_RUST_FUNCLATENCY_H

#include "hist.h"

/* Threads inside the function at once whose entry time is kept. */
#define FUNCLATENCY_MAX_THREADS 10240

/* The only value of map `latency`, cumulative since the start: the agent reports differences. */
struct funclatency_value {
	struct hist hist; /* log2 slots of the time in the chosen unit */
	__u64 total; /* sum of the times, in the unit */
	__u64 count; /* calls that returned */
	/* Calls whose return was never seen: the thread entered again first (a recursive
	 * call, or a kretprobe return the kernel dropped when all its instances were held). */
	__u64 untimed;
};

/* Options, written into .rodata by the agent before load. */
struct funclatency_config {
	__u64 unit_ns; /* 1 (nsecs), 1000 (usecs) or 1000000 (msecs) */
	__u32 tgid;
	__u8 filter_tgid;
	__u8 pad[3];
};

#endif
