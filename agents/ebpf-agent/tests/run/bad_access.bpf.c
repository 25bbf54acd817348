// SPDX-License-Identifier: (MIT OR GPL-2.0)
/* A mistake of the lab's list: a read past the end of a map value. */
#include "kernel.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_getppid")
int peek(void *ctx)
{
	__u32 k = 0;
	__u64 *v = bpf_map_lookup_elem(&counts, &k);

	if (!v)
		return 0;
	v[0] = v[1] + 1;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
