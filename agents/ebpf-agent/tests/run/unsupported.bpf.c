// SPDX-License-Identifier: (MIT OR GPL-2.0)
/* A program that is no tracing program: run says which sections it attaches. */
#include "kernel.h"

SEC("xdp")
int pass(void *ctx)
{
	return 2; /* XDP_PASS */
}

char LICENSE[] SEC("license") = "GPL";
