// SPDX-License-Identifier: (MIT OR GPL-2.0)
/*
 * An alert when a file is opened (/etc/shadow unless --set target=PATH), matched in the
 * kernel: only matches reach user space, through the ring buffer `alerts`, whose record type
 * the global `alerts_record` names (the convention for a ring of its own record type).
 *
 *   ebpf-agent run shadow.bpf.o
 *   ebpf-agent run shadow.bpf.o --set target=/etc/passwd --json
 *
 * It matches the name the program passed to open(), as written: a relative name or another
 * link to the same file is not seen (a tool for real use matches the file that was opened).
 */
#include "kernel.h"

#define NAME_LEN 64

const volatile char target[NAME_LEN] = "/etc/shadow";

struct alert {
	__u32 pid;
	__u32 uid;
	char comm[TASK_COMM_LEN];
	char filename[NAME_LEN];
};
struct alert *alerts_record __attribute__((unused));

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} alerts SEC(".maps");

static int check(const char *filename)
{
	char name[NAME_LEN] = {};
	struct alert *a;

	if (bpf_probe_read_user_str(name, sizeof(name), filename) <= 0)
		return 0;
	for (int i = 0; i < NAME_LEN; i++) {
		if (name[i] != target[i])
			return 0;
		if (!name[i])
			break;
	}
	a = bpf_ringbuf_reserve(&alerts, sizeof(*a), 0);
	if (!a)
		return 0;
	a->pid = bpf_get_current_pid_tgid() >> 32;
	a->uid = (__u32)bpf_get_current_uid_gid();
	bpf_get_current_comm(a->comm, sizeof(a->comm));
	__builtin_memcpy(a->filename, name, sizeof(name));
	bpf_ringbuf_submit(a, 0);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_openat")
int shadow_openat(struct syscall_enter *ctx)
{
	return check((const char *)(unsigned long)ctx->args[1]);
}

SEC("?tracepoint/syscalls/sys_enter_open")
int shadow_open(struct syscall_enter *ctx)
{
	return check((const char *)(unsigned long)ctx->args[0]);
}

char LICENSE[] SEC("license") = "GPL";
