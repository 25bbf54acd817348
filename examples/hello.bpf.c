// SPDX-License-Identifier: (MIT OR GPL-2.0)
/*
 * Hello, eBPF: a line in the trace for every exec, with the program started.
 *
 *   ebpf-agent run hello.bpf.o     # echoes the bpf_printk lines; --json: {"type":"printk"}
 */
#include "kernel.h"

SEC("tracepoint/syscalls/sys_enter_execve")
int hello(struct syscall_enter *ctx)
{
	char path[64];

	bpf_probe_read_user_str(path, sizeof(path), (const char *)(unsigned long)ctx->args[0]);
	bpf_printk("Hello, eBPF! exec %s", path);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
