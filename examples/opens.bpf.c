// SPDX-License-Identifier: (MIT OR GPL-2.0)
/*
 * open() and openat() with their arguments: one record per call through the ring buffer,
 * decoded by run from struct event (its fields are the columns, or the JSON keys).
 *
 *   ebpf-agent run opens.bpf.o
 *   ebpf-agent run opens.bpf.o --set target_pid=1234 --json
 */
#include "kernel.h"

const volatile __u32 target_pid = 0; /* 0: every process */

struct event {
	__u32 pid;
	__u32 uid;
	__s32 dfd;
	__u32 flags;
	char comm[TASK_COMM_LEN];
	char filename[256];
};
/* Keeps struct event in the object's BTF, where run finds the record type. */
struct event *unused_event __attribute__((unused));

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

static int record(int dfd, const char *filename, __u32 flags)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	struct event *e;

	if (target_pid && pid != target_pid)
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->pid = pid;
	e->uid = (__u32)bpf_get_current_uid_gid();
	e->dfd = dfd;
	e->flags = flags;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_probe_read_user_str(e->filename, sizeof(e->filename), filename);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_openat")
int trace_openat(struct syscall_enter *ctx)
{
	return record((int)ctx->args[0], (const char *)(unsigned long)ctx->args[1],
		      (__u32)ctx->args[2]);
}

/* open(2) exists on x86_64, not on arm64: optional ("?"), attached where the kernel has it. */
SEC("?tracepoint/syscalls/sys_enter_open")
int trace_open(struct syscall_enter *ctx)
{
	return record(-100 /* AT_FDCWD */, (const char *)(unsigned long)ctx->args[0],
		      (__u32)ctx->args[1]);
}

char LICENSE[] SEC("license") = "GPL";
