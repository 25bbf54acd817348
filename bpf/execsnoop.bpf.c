// SPDX-License-Identifier: (MIT OR GPL-2.0)
/*
 * execsnoop: every execve/execveat with its argv, parent and result.
 *
 * Syscall tracepoints only, so it runs on kernels without kprobes. The enter and exit halves
 * are sent as two records and joined by pid in user space: the argv buffer never has to be kept
 * in a kernel map between the two, and the ring only carries the bytes an exec really used.
 */
#include "common.h"
#include "execsnoop.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

const volatile struct execsnoop_config config = {
	.max_args = 20,
};

DEFINE_EVENTS_RINGBUF(4 * 1024 * 1024);

/* The enter record is too large for the BPF stack: build it in a per-CPU scratch slot. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct execsnoop_enter);
} scratch SEC(".maps");

/* Keeps the exit record's type in the object's BTF for the layout check. */
struct execsnoop_exit execsnoop_exit_btf __attribute__((unused));

static __always_inline int on_enter(const char *const *argv)
{
	__u64 uid_gid = bpf_get_current_uid_gid();
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct task_struct *task;
	struct execsnoop_enter *e;
	__u32 zero = 0, off = 0, i, max_args;

	if (config.filter_uid && (__u32)uid_gid != config.target_uid)
		return 0;
	e = bpf_map_lookup_elem(&scratch, &zero);
	if (!e)
		return 0;

	task = (struct task_struct *)bpf_get_current_task();
	e->kind = EXECSNOOP_ENTER;
	e->pid = pid_tgid >> 32;
	e->tid = (__u32)pid_tgid;
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->uid = (__u32)uid_gid;
	e->time_ns = bpf_ktime_get_boot_ns();
	e->flags = 0;
	e->args_count = 0;

	max_args = config.max_args;
	if (max_args > EXECSNOOP_MAX_ARGS_LIMIT)
		max_args = EXECSNOOP_MAX_ARGS_LIMIT;

	for (i = 0; i < EXECSNOOP_MAX_ARGS_LIMIT; i++) {
		const char *argp = NULL;
		long n;

		if (read_user_ptr((const void **)&argp, (const char *)argv + i * KERNEL_PTR_SIZE)) {
			e->flags |= EXECSNOOP_F_READ_ERROR;
			break;
		}
		if (!argp)
			break;
		if (i >= max_args || off >= EXECSNOOP_ARGS_BUF) {
			e->flags |= EXECSNOOP_F_TRUNCATED;
			break;
		}
		n = bpf_probe_read_user_str(&e->args[off & (EXECSNOOP_ARGS_BUF - 1)],
					    EXECSNOOP_ARG_MAX, argp);
		if (n <= 0) {
			e->flags |= EXECSNOOP_F_READ_ERROR;
			break;
		}
		off += n;
		e->args_count++;
	}
	e->args_size = off;

	emit_event_upto(e, struct execsnoop_enter, args, off);
	return 0;
}

static __always_inline int on_exit(long ret)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct execsnoop_exit *e = reserve_event(struct execsnoop_exit);

	if (!e)
		return 0;
	e->kind = EXECSNOOP_EXIT;
	e->pid = pid_tgid >> 32;
	e->tid = (__u32)pid_tgid;
	e->ret = ret;
	e->time_ns = bpf_ktime_get_boot_ns();
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	submit_event(e);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_execve")
int tp_enter_execve(struct trace_event_raw_sys_enter *ctx)
{
	return on_enter((const char *const *)ctx->args[1]);
}

SEC("tracepoint/syscalls/sys_enter_execveat")
int tp_enter_execveat(struct trace_event_raw_sys_enter *ctx)
{
	return on_enter((const char *const *)ctx->args[2]);
}

SEC("tracepoint/syscalls/sys_exit_execve")
int tp_exit_execve(struct trace_event_raw_sys_exit *ctx)
{
	return on_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_execveat")
int tp_exit_execveat(struct trace_event_raw_sys_exit *ctx)
{
	return on_exit(ctx->ret);
}
