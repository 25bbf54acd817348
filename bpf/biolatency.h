/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/* biolatency: histogram keys and options shared by biolatency.bpf.c and tools/biolatency.rs. */
#ifndef EBPF_RUST_BIOLATENCY_H
#define EBPF_RUST_BIOLATENCY_H

/* Histograms per interval: one per disk (-D) and set of request flags (-F). */
#define BIOLATENCY_MAX_HISTS 1024

/* A histogram's key: zero unless -D (the disk) or -F (the request's cmd_flags). */
struct biolatency_key {
	__u32 dev;
	__u32 flags;
};

/* Options, written into .rodata by the agent before load. */
struct biolatency_config {
	__u32 dev; /* -d: the disk, as the kernel's dev_t */
	__u8 filter_dev;
	__u8 per_disk;
	__u8 per_flags;
	__u8 milliseconds;
};

#endif
