// SPDX-License-Identifier: (MIT OR GPL-2.0)
/* An fentry program, required: without BPF trampolines run names the reason, exit 3. */
#include "kernel.h"

SEC("fentry/do_unlinkat")
int unlinks(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
