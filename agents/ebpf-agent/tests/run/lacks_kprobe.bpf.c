// SPDX-License-Identifier: (MIT OR GPL-2.0)
/* A kprobe program, required: on a kernel without kprobes run names the reason, exit 3. */
#include "kernel.h"

SEC("kprobe/do_unlinkat")
int unlinks(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
