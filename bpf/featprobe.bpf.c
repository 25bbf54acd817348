// SPDX-License-Identifier: (MIT OR GPL-2.0)
/*
 * Trial programs for `ebpf-agent check`: whether this kernel really loads and attaches a ring
 * buffer with a tracepoint program, a kprobe, and an fentry program (BPF trampoline). Each is
 * loaded on its own; none does anything when it fires.
 *
 * It also includes every shared header, so the build type-checks each one even before a tool
 * uses it.
 */
#include "common.h"
#include "paths.h"
#include "hist.h"
#include "core_fixes.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} probe_ring SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_getppid")
int probe_tracepoint(void *ctx)
{
	/* Uses the ring so the verifier checks ring buffer support (5.8+). */
	return bpf_ringbuf_query(&probe_ring, 0) > 0;
}

SEC("kprobe/vfs_read")
int probe_kprobe(void *ctx)
{
	return 0;
}

SEC("fentry/vfs_read")
int probe_fentry(void *ctx)
{
	return 0;
}
