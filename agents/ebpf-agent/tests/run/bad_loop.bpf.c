// SPDX-License-Identifier: (MIT OR GPL-2.0)
/* A mistake of the lab's list: a loop bounded only by a value read at run time. */
#include "kernel.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} limit SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_getppid")
int spin(void *ctx)
{
	__u32 k = 0;
	__u64 *n = bpf_map_lookup_elem(&limit, &k), sum = 0;

	if (!n)
		return 0;
	for (__u64 i = 0; i < *n; i++)
		sum += bpf_get_prandom_u32() & i;
	*n = sum;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
