// SPDX-License-Identifier: (MIT OR GPL-2.0)
/*
 * execsnoop: every execve/execveat with its argv, parent and result.
 *
 * The enter and exit halves are sent as two records and joined by pid in user space: the argv
 * buffer never has to be kept in a kernel map between the two, and the ring only carries the
 * bytes an exec really used. On x86_64 and arm64 the halves are raw tracepoints on
 * raw_syscalls:sys_enter/sys_exit (bpf/syscalls.h), which see 32-bit execs too; elsewhere the
 * execve/execveat syscall tracepoints. An argv the entry could not read (a page the program
 * has not touched yet) is read again at the exit, once the kernel has copied it.
 */
#include "common.h"
#include "syscalls.h"
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

/* An exec whose argv could not be read at entry, by thread id: what the exit reads again. */
struct reread {
	__u64 argv;
	__u32 compat;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct reread);
} rereads SEC(".maps");

/* The new program's command line (include/linux/mm_types.h). */
struct mm_struct___exec {
	unsigned long arg_start;
	unsigned long arg_end;
} __attribute__((preserve_access_index));
struct task_struct___exec {
	struct mm_struct___exec *mm;
} __attribute__((preserve_access_index));

/*
 * Reads argv (an array of 64-bit pointers, or of 32-bit ones for a compat exec) into e->args:
 * up to max_args strings of EXECSNOOP_ARG_MAX bytes. Sets EXECSNOOP_F_TRUNCATED when anything
 * was left out, EXECSNOOP_F_READ_ERROR when something could not be read.
 */
static __always_inline void read_argv(struct execsnoop_enter *e, const void *argv, bool compat)
{
	__u32 off = 0, i, max_args = config.max_args;

	e->args_count = 0;
	if (max_args > EXECSNOOP_MAX_ARGS_LIMIT)
		max_args = EXECSNOOP_MAX_ARGS_LIMIT;

	for (i = 0; i < EXECSNOOP_MAX_ARGS_LIMIT; i++) {
		const char *argp = NULL;
		__u32 p32 = 0, full;
		char last = 0;
		long n;

		if (compat) {
			if (bpf_probe_read_user(&p32, sizeof(p32), (const char *)argv + 4 * i)) {
				e->flags |= EXECSNOOP_F_READ_ERROR;
				break;
			}
			argp = (const char *)(__u64)p32;
		} else if (read_user_ptr((const void **)&argp,
					 (const char *)argv + i * KERNEL_PTR_SIZE)) {
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
		/* A full read ends with the NUL the helper wrote: the argument was cut unless its
		 * own NUL is right there. Tested on a value derived from n, not on n itself: a
		 * branch on n would split the verifier's bounds of `off` in two at every argument
		 * and make the loop too large to verify. */
		full = (__u32)n / EXECSNOOP_ARG_MAX;
		barrier_var(full);
		if (full && (bpf_probe_read_user(&last, 1, argp + EXECSNOOP_ARG_MAX - 1) || last))
			e->flags |= EXECSNOOP_F_TRUNCATED;
		off += n;
		e->args_count++;
	}
	e->args_size = off;
}

/* The new program's argv, as its mm holds it: NUL-separated strings, which the agent counts
 * (args_count EXECSNOOP_ARGS_UNCOUNTED) and cuts to max_args. */
static __always_inline void read_new_argv(struct execsnoop_enter *e)
{
	struct task_struct___exec *t = (struct task_struct___exec *)bpf_get_current_task();
	__u64 start = BPF_CORE_READ(t, mm, arg_start), end = BPF_CORE_READ(t, mm, arg_end);
	__u32 len = end > start && end - start < EXECSNOOP_ARGS_BUF ? end - start : 0;

	if (end > start && end - start >= EXECSNOOP_ARGS_BUF) {
		len = EXECSNOOP_ARGS_BUF;
		if (end - start > EXECSNOOP_ARGS_BUF)
			e->flags |= EXECSNOOP_F_TRUNCATED;
	}
	barrier_var(len);
	if (len > EXECSNOOP_ARGS_BUF)
		len = EXECSNOOP_ARGS_BUF;
	if (bpf_probe_read_user(e->args, len, (void *)start)) {
		e->flags |= EXECSNOOP_F_READ_ERROR;
		len = 0;
	}
	e->args_count = EXECSNOOP_ARGS_UNCOUNTED;
	e->args_size = len;
}

static __always_inline int on_enter(const void *argv, bool compat)
{
	__u64 uid_gid = bpf_get_current_uid_gid();
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct task_struct *task;
	struct execsnoop_enter *e;
	__u32 zero = 0;

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
	e->flags = compat ? EXECSNOOP_F_COMPAT : 0;
	read_argv(e, argv, compat);
	if (e->flags & EXECSNOOP_F_READ_ERROR) {
		struct reread r = { .argv = (__u64)argv, .compat = compat };
		__u32 tid = (__u32)pid_tgid;

		bpf_map_update_elem(&rereads, &tid, &r, BPF_ANY);
	}

	emit_event_upto(e, struct execsnoop_enter, args, e->args_size);
	return 0;
}

/* At the exit of an exec whose entry could not read argv: argv again, as a REREAD record. */
static __always_inline void reread_argv(__u64 pid_tgid, long ret)
{
	__u32 tid = (__u32)pid_tgid, zero = 0;
	struct execsnoop_enter *e;
	struct reread *rp, r;

	rp = bpf_map_lookup_elem(&rereads, &tid);
	if (!rp)
		return;
	r = *rp;
	bpf_map_delete_elem(&rereads, &tid);
	e = bpf_map_lookup_elem(&scratch, &zero);
	if (!e)
		return;
	e->kind = EXECSNOOP_ENTER;
	e->pid = pid_tgid >> 32;
	e->tid = tid;
	e->flags = EXECSNOOP_F_REREAD | (r.compat ? EXECSNOOP_F_COMPAT : 0);
	e->time_ns = bpf_ktime_get_boot_ns();
	/* A failed exec left the caller's memory as it was; a successful one replaced it. */
	if (ret < 0)
		read_argv(e, (const void *)r.argv, r.compat);
	else
		read_new_argv(e);
	emit_event_upto(e, struct execsnoop_enter, args, e->args_size);
}

static __always_inline int on_exit(long ret)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct execsnoop_exit *e;

	reread_argv(pid_tgid, ret);
	e = reserve_event(struct execsnoop_exit);
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

#ifdef SYSCALLS_RAW
SEC("raw_tp/sys_enter")
int raw_enter(__u64 *ctx)
{
	struct syscall_regs s = {};
	__u64 i = (long)ctx[1];
	__u8 id;

	/* The number first: every other syscall stops here, before any read. */
	if (i >= SYSCALL_SLOTS || !(config.sys.native[i & (SYSCALL_SLOTS - 1)] |
				    config.sys.compat[i & (SYSCALL_SLOTS - 1)]))
		return 0;
	id = raw_syscall_id(&config.sys, ctx, &s);
	if (!id)
		return 0;
	/* execve(path, argv, envp), execveat(dfd, path, argv, envp, flags) */
	return on_enter((const void *)syscall_regs_arg(&s, id == EXECSNOOP_SYS_EXECVE ? 1 : 2),
			s.compat);
}

SEC("raw_tp/sys_exit")
int raw_exit(__u64 *ctx)
{
	struct syscall_regs s;

	if (!raw_syscall_id(&config.sys, ctx, &s))
		return 0;
	return on_exit((long)ctx[1]);
}
#else
SEC("tracepoint/syscalls/sys_enter_execve")
int tp_enter_execve(struct trace_event_raw_sys_enter *ctx)
{
	return on_enter((const void *)ctx->args[1], false);
}

SEC("tracepoint/syscalls/sys_enter_execveat")
int tp_enter_execveat(struct trace_event_raw_sys_enter *ctx)
{
	return on_enter((const void *)ctx->args[2], false);
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
#endif
