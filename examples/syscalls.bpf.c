// SPDX-License-Identifier: (MIT OR GPL-2.0)
/*
 * Syscall counts, by syscall number, counted in the kernel: run prints the map at the end
 * (and every --map-interval), largest count first.
 *
 *   ebpf-agent run syscalls.bpf.o --duration 10
 *   ebpf-agent run syscalls.bpf.o --set target_pid=1234   # one process only
 */
#include "kernel.h"

/* Options, set with --set before the program loads. */
const volatile __u32 target_pid = 0; /* a process id (tgid); 0: every process */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);   /* syscall number */
	__type(value, __u64); /* calls */
} syscalls SEC(".maps");

SEC("tracepoint/raw_syscalls/sys_enter")
int count_syscalls(struct syscall_enter *ctx)
{
	__u32 nr = ctx->id;
	__u64 one = 1, *count;

	if (target_pid && (bpf_get_current_pid_tgid() >> 32) != target_pid)
		return 0;
	count = bpf_map_lookup_elem(&syscalls, &nr);
	if (count)
		__sync_fetch_and_add(count, 1);
	else
		bpf_map_update_elem(&syscalls, &nr, &one, BPF_NOEXIST);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
