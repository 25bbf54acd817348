// SPDX-License-Identifier: (MIT OR GPL-2.0)
/*
 * statsnoop: every stat-family syscall with its path and result.
 *
 * Syscall tracepoints only. The arguments are kept per thread at entry; the record is built at
 * exit, when the result is known. The path is read from the caller's memory then, not at
 * entry: the kernel has just copied it, so its pages are resident, where at entry they may not
 * be yet (a BPF program cannot fault them in). The agent attaches the pairs this kernel has.
 */
#include "common.h"
#include "statsnoop.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

const volatile struct statsnoop_config config = {};

DEFINE_EVENTS_RINGBUF(1024 * 1024);

#define ENAMETOOLONG 36

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

/* The record is too large for the BPF stack: built in a per-CPU scratch slot. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct statsnoop_event);
} scratch SEC(".maps");

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
	__u32 tid = (__u32)pid_tgid, zero = 0;
	struct statsnoop_event *e;
	struct inflight *call;
	long n = 0;

	call = bpf_map_lookup_elem(&calls, &tid);
	if (!call)
		return 0;
	if (config.failed_only && ret >= 0)
		goto done;
	e = bpf_map_lookup_elem(&scratch, &zero);
	if (!e)
		goto done;
	e->time_ns = call->time_ns;
	e->ret = ret;
	e->pid = pid_tgid >> 32;
	e->tid = tid;
	e->fd = call->fd;
	e->at_flags = call->at_flags;
	e->syscall = call->syscall;
	e->flags = 0;
	e->pad = 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	if (call->path) {
		n = bpf_probe_read_user_str(e->path, sizeof(e->path), (const char *)call->path);
		if (n <= 0) {
			e->flags |= STATSNOOP_F_READ_ERROR;
			n = 0;
		} else if (n == sizeof(e->path) && ret == -ENAMETOOLONG) {
			e->flags |= STATSNOOP_F_TRUNCATED;
		}
	}
	e->path_size = n;

	emit_event_upto(e, struct statsnoop_event, path, n);
done:
	bpf_map_delete_elem(&calls, &tid);
	return 0;
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
