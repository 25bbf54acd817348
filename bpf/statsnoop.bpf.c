// SPDX-License-Identifier: (MIT OR GPL-2.0)
/*
 * statsnoop: every stat-family syscall with its path and result.
 *
 * On x86_64 and arm64, one program on the raw tracepoint raw_syscalls:sys_exit (bpf/syscalls.h)
 * picks the stat-family calls of every ABI, 32-bit ones included, by number and reads their
 * arguments from the caller's saved registers. Elsewhere, syscall tracepoints: the arguments
 * are kept per thread at entry, the record built at exit. Either way the path is read from the
 * caller's memory at the exit, not at entry: the kernel has just copied it, so its pages are
 * resident, where at entry they may not be yet (a BPF program cannot fault them in).
 */
#include "common.h"
#include "syscalls.h"
#include "statsnoop.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

const volatile struct statsnoop_config config = {};

DEFINE_EVENTS_RINGBUF(1024 * 1024);

#define ENAMETOOLONG 36

#ifndef SYSCALLS_RAW
/* A call in flight, by thread id. LRU: a thread killed inside a call never leaks an entry. */
struct inflight {
	__u64 path;
	__u64 time_ns;
	__s32 fd;
	__u32 at_flags;
	__u32 syscall;
	__u32 pad;
};

DEFINE_INFLIGHT(calls, struct inflight);
#endif

/* The record is too large for the BPF stack: built in a per-CPU scratch slot. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct statsnoop_event);
} scratch SEC(".maps");

/* One call that returned `ret`: its record (`time_ns` of its entry, or 0: now). */
static __always_inline int report(__u64 pid_tgid, __u32 syscall, bool compat, int fd, __u64 path,
				  __u32 at_flags, __u64 time_ns, long ret)
{
	__u32 zero = 0;
	struct statsnoop_event *e;
	long n = 0;

	if (config.failed_only && ret >= 0)
		return 0;
	e = bpf_map_lookup_elem(&scratch, &zero);
	if (!e)
		return 0;
	e->time_ns = time_ns ? time_ns : bpf_ktime_get_boot_ns();
	e->ret = ret;
	e->pid = pid_tgid >> 32;
	e->tid = (__u32)pid_tgid;
	e->fd = fd;
	e->at_flags = at_flags;
	e->syscall = syscall;
	e->flags = 0;
	e->compat = compat;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	if (path) {
		n = bpf_probe_read_user_str(e->path, sizeof(e->path), (const char *)path);
		if (n <= 0) {
			e->flags |= STATSNOOP_F_READ_ERROR;
			n = 0;
		} else if (n == sizeof(e->path) && ret == -ENAMETOOLONG) {
			e->flags |= STATSNOOP_F_TRUNCATED;
		}
	}
	e->path_size = n;

	emit_event_upto(e, struct statsnoop_event, path, n);
	return 0;
}

#ifdef SYSCALLS_RAW
SEC("raw_tp/sys_exit")
int raw_exit(__u64 *ctx)
{
	struct syscall_regs s;
	__u64 pid_tgid, a0;
	__u32 sc;
	__u8 id;

	id = raw_syscall_id(&config.sys, ctx, &s);
	if (!id)
		return 0;
	pid_tgid = bpf_get_current_pid_tgid();
	if (config.filter_pid && (pid_tgid >> 32) != config.target_pid)
		return 0;
	sc = id - 1;
	a0 = syscall_regs_arg(&s, 0);
	switch (sc) {
	case STATSNOOP_FSTATFS:
	case STATSNOOP_FSTATFS64:
	case STATSNOOP_NEWFSTAT:
	case STATSNOOP_FSTAT64:
	case STATSNOOP_FSTAT:
		/* fstat(fd, ...): an open descriptor. */
		return report(pid_tgid, sc, s.compat, (int)a0, 0, 0, 0, ctx[1]);
	case STATSNOOP_NEWFSTATAT:
	case STATSNOOP_FSTATAT64:
		/* fstatat(dfd, path, buf, flags) */
		return report(pid_tgid, sc, s.compat, (int)a0, syscall_regs_arg(&s, 1),
			      syscall_regs_arg(&s, 3), 0, ctx[1]);
	case STATSNOOP_STATX:
		/* statx(dfd, path, flags, mask, buf) */
		return report(pid_tgid, sc, s.compat, (int)a0, syscall_regs_arg(&s, 1),
			      syscall_regs_arg(&s, 2), 0, ctx[1]);
	default:
		/* stat(path, ...): a path alone, relative to the working directory. */
		return report(pid_tgid, sc, s.compat, STATSNOOP_AT_FDCWD, a0, 0, 0, ctx[1]);
	}
}
#else
static __always_inline int on_enter(__u32 syscall, int fd, __u64 path, __u32 at_flags)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct inflight call = {
		.path = path,
		.fd = fd,
		.at_flags = at_flags,
		.syscall = syscall,
	};
	__u32 tid = (__u32)pid_tgid;

	if (config.filter_pid && (pid_tgid >> 32) != config.target_pid)
		return 0;
	call.time_ns = bpf_ktime_get_boot_ns();
	if (bpf_map_update_elem(&calls, &tid, &call, BPF_ANY))
		count_lost_event(&lost_events);
	return 0;
}

static __always_inline int on_exit(long ret)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	struct inflight c;

	if (!take_inflight(calls, &tid, &c))
		return 0;
	return report(pid_tgid, c.syscall, false, c.fd, c.path, c.at_flags, c.time_ns, ret);
}

#define EXIT_PROG(name)                                                    \
	SEC("tracepoint/syscalls/sys_exit_" #name)                        \
	int tp_exit_##name(struct trace_event_raw_sys_exit *ctx)           \
	{                                                                  \
		return on_exit(ctx->ret);                                  \
	}

/* stat(path, ...): a path alone, relative to the working directory. */
#define PATH_CALL(name, id)                                                        \
	SEC("tracepoint/syscalls/sys_enter_" #name)                               \
	int tp_enter_##name(struct trace_event_raw_sys_enter *ctx)                 \
	{                                                                          \
		return on_enter(id, STATSNOOP_AT_FDCWD, ctx->args[0], 0);          \
	}                                                                          \
	EXIT_PROG(name)

/* fstat(fd, ...): an open descriptor. */
#define FD_CALL(name, id)                                                  \
	SEC("tracepoint/syscalls/sys_enter_" #name)                       \
	int tp_enter_##name(struct trace_event_raw_sys_enter *ctx)         \
	{                                                                  \
		return on_enter(id, (int)ctx->args[0], 0, 0);              \
	}                                                                  \
	EXIT_PROG(name)

/* fstatat(dfd, path, ..., flags): a path relative to a directory descriptor. */
#define AT_CALL(name, id, flags_arg)                                                        \
	SEC("tracepoint/syscalls/sys_enter_" #name)                                        \
	int tp_enter_##name(struct trace_event_raw_sys_enter *ctx)                          \
	{                                                                                   \
		return on_enter(id, (int)ctx->args[0], ctx->args[1], ctx->args[flags_arg]); \
	}                                                                                   \
	EXIT_PROG(name)

PATH_CALL(statfs, STATSNOOP_STATFS)
FD_CALL(fstatfs, STATSNOOP_FSTATFS)
PATH_CALL(statfs64, STATSNOOP_STATFS64)
FD_CALL(fstatfs64, STATSNOOP_FSTATFS64)
PATH_CALL(newstat, STATSNOOP_NEWSTAT)
PATH_CALL(newlstat, STATSNOOP_NEWLSTAT)
FD_CALL(newfstat, STATSNOOP_NEWFSTAT)
AT_CALL(newfstatat, STATSNOOP_NEWFSTATAT, 3)
AT_CALL(statx, STATSNOOP_STATX, 2)
PATH_CALL(stat64, STATSNOOP_STAT64)
PATH_CALL(lstat64, STATSNOOP_LSTAT64)
FD_CALL(fstat64, STATSNOOP_FSTAT64)
AT_CALL(fstatat64, STATSNOOP_FSTATAT64, 3)
PATH_CALL(stat, STATSNOOP_STAT)
PATH_CALL(lstat, STATSNOOP_LSTAT)
FD_CALL(fstat, STATSNOOP_FSTAT)
#endif
