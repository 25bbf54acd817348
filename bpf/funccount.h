/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/* funccount: counters and options shared by funccount.bpf.c and the agent (tools/funccount.rs). */
#ifndef EBPF_RUST_FUNCCOUNT_H
#define EBPF_RUST_FUNCCOUNT_H

/* Functions and tracepoints counted at most (the agent refuses more). */
#define FUNCCOUNT_MAX_PROBES 1000

/* Tracepoints, and user functions, counted on kernels without BPF link cookies (< 5.15). */
#define FUNCCOUNT_SLOTS 16

enum funccount_kind {
	FUNCCOUNT_KERNEL = 0, /* id: the instruction pointer at the kprobe */
	FUNCCOUNT_TRACEPOINT = 1, /* id: the link's cookie or the program's slot, plus 1 */
	FUNCCOUNT_USER = 2, /* id: as for tracepoints */
};

/* The key of map `counts`; the value is the number of calls. */
struct funccount_key {
	__u32 kind;
	__u32 pad;
	__u64 id;
};

/* Options, written into .rodata by the agent before load. */
struct funccount_config {
	__u32 tgid;
	__u8 filter_tgid;
	__u8 pad[3];
};

#endif
