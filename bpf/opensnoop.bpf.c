// SPDX-License-Identifier: (MIT OR GPL-2.0)
/*
 * opensnoop: every open(), openat() and openat2() with its flags, result and path.
 *
 * On x86_64 and arm64, one program on the raw tracepoint raw_syscalls:sys_exit (bpf/syscalls.h)
 * sees every open of every ABI, 32-bit ones included: the syscall's number picks the calls
 * (two byte loads for any other syscall), the arguments come from the caller's saved
 * registers, which the call leaves as they were, and nothing is kept between entry and exit.
 * Elsewhere, syscall tracepoints: the enter half keeps the arguments per thread (filters are
 * applied there), the exit half reports. Either way the name is read from the caller's memory
 * at the exit, when the kernel has just read it itself, so it is paged in, and one record is
 * sent with only the bytes the path uses.
 */
#include "common.h"
#include "paths.h"
#include "syscalls.h"
#include "opensnoop.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

const volatile struct opensnoop_config config = {};

DEFINE_EVENTS_RINGBUF(4 * 1024 * 1024);

#ifndef SYSCALLS_RAW
/* The arguments of a call in flight, by thread id. */
struct start {
	__u64 name;
	__u64 flags;
	__u32 mode;
	__s32 dfd;
	__u32 syscall;
	__u32 pad;
};

DEFINE_INFLIGHT(starts, struct start);
#endif

/* The record and, for -F, the buffer a path is assembled in: too large for the BPF stack. */
struct scratch {
	struct opensnoop_event e;
	char buf[PATH_SCRATCH_BYTES];
	__u32 off; /* where the path in buf starts (see prepend_path) */
};

DEFINE_SCRATCH(struct scratch, scratch);

/* Not traced: -p, -t, -u. */
static __always_inline bool filtered_out(__u64 pid_tgid)
{
	if (config.filter_pid && (pid_tgid >> 32) != config.target_pid)
		return true;
	if (config.filter_tid && (__u32)pid_tgid != config.target_tid)
		return true;
	if (config.filter_uid && (__u32)bpf_get_current_uid_gid() != config.target_uid)
		return true;
	return false;
}

/* -F: a relative name made absolute with the directory it is relative to. */
static __always_inline __u32 full_path(struct scratch *sc, const char *name, int dfd)
{
	struct opensnoop_event *e = &sc->e;
	__u32 namelen;
	int rc = resolve_user_name(sc->buf, &sc->off, &namelen, name, dfd);

	if (rc == PATH_UNREADABLE) {
		e->path_flags |= OPENSNOOP_P_READ_ERROR;
		return 0;
	}
	if (rc == PATH_BAD_DFD)
		e->path_flags |= OPENSNOOP_P_BAD_DFD;
	else if (rc != PATH_ABSOLUTE)
		e->path_flags |= OPENSNOOP_P_FULL;
	if (rc == PATH_WALK_CUT)
		e->path_flags |= OPENSNOOP_P_CUT;
	return copy_resolved(e->path, sc->buf, &sc->off, namelen);
}

/* One open that returned `ret`: its record. */
static __always_inline int report(__u64 pid_tgid, __u8 syscall, bool compat, int dfd,
				  const char *name, __u64 flags, __u32 mode, long ret)
{
	__u32 zero = 0, len = 0;
	struct opensnoop_event *e;
	struct scratch *sc;
	long n;

	if (config.failed_only && ret >= 0)
		return 0;
	sc = bpf_map_lookup_elem(&scratch, &zero);
	if (!sc)
		return 0;
	e = &sc->e;
	e->time_ns = bpf_ktime_get_boot_ns();
	e->flags = flags;
	e->pid = pid_tgid >> 32;
	e->tid = (__u32)pid_tgid;
	e->uid = (__u32)bpf_get_current_uid_gid();
	e->ret = ret;
	e->mode = mode;
	e->dfd = dfd;
	e->syscall = syscall;
	e->compat = compat;
	e->path_flags = 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));

	if (config.full_path) {
		len = full_path(sc, name, dfd);
	} else {
		n = bpf_probe_read_user_str(e->path, OPENSNOOP_NAME_MAX, name);
		if (n > 0)
			len = n - 1;
		else
			e->path_flags |= OPENSNOOP_P_READ_ERROR;
	}
	e->path_len = len;

	emit_event_upto(e, struct opensnoop_event, path, len);
	return 0;
}

/* openat2's flags and mode, from the caller's struct open_how (the same in both ABIs). */
static __always_inline void read_how(__u64 how_ptr, __u64 *flags, __u32 *mode)
{
	struct open_how how = {};

	bpf_probe_read_user(&how, sizeof(how), (void *)how_ptr);
	*flags = how.flags;
	*mode = how.mode;
}

#ifdef SYSCALLS_RAW
SEC("raw_tp/sys_exit")
int raw_exit(__u64 *ctx)
{
	struct syscall_regs s;
	__u64 pid_tgid, flags;
	__u32 mode;
	__u8 id;

	id = raw_syscall_id(&config.sys, ctx, &s);
	if (!id)
		return 0;
	pid_tgid = bpf_get_current_pid_tgid();
	if (filtered_out(pid_tgid))
		return 0;
	if (id == OPENSNOOP_SYS_OPEN)
		return report(pid_tgid, id, s.compat, AT_FDCWD, (const char *)syscall_regs_arg(&s, 0),
			      syscall_regs_arg(&s, 1), syscall_regs_arg(&s, 2), ctx[1]);
	if (id == OPENSNOOP_SYS_OPENAT2) {
		read_how(syscall_regs_arg(&s, 2), &flags, &mode);
		return report(pid_tgid, id, s.compat, (int)syscall_regs_arg(&s, 0),
			      (const char *)syscall_regs_arg(&s, 1), flags, mode, ctx[1]);
	}
	return report(pid_tgid, id, s.compat, (int)syscall_regs_arg(&s, 0),
		      (const char *)syscall_regs_arg(&s, 1), syscall_regs_arg(&s, 2),
		      syscall_regs_arg(&s, 3), ctx[1]);
}
#else
static __always_inline int on_enter(__u32 syscall, int dfd, const char *name, __u64 flags,
				    __u32 mode)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	struct start s = {};

	if (filtered_out(pid_tgid))
		return 0;
	s.name = (__u64)name;
	s.flags = flags;
	s.mode = mode;
	s.dfd = dfd;
	s.syscall = syscall;
	bpf_map_update_elem(&starts, &tid, &s, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_open")
int tp_enter_open(struct trace_event_raw_sys_enter *ctx)
{
	return on_enter(OPENSNOOP_SYS_OPEN, AT_FDCWD, (const char *)ctx->args[0], ctx->args[1],
			ctx->args[2]);
}

SEC("tracepoint/syscalls/sys_enter_openat")
int tp_enter_openat(struct trace_event_raw_sys_enter *ctx)
{
	return on_enter(OPENSNOOP_SYS_OPENAT, (int)ctx->args[0], (const char *)ctx->args[1],
			ctx->args[2], ctx->args[3]);
}

SEC("tracepoint/syscalls/sys_enter_openat2")
int tp_enter_openat2(struct trace_event_raw_sys_enter *ctx)
{
	__u64 flags;
	__u32 mode;

	read_how(ctx->args[2], &flags, &mode);
	return on_enter(OPENSNOOP_SYS_OPENAT2, (int)ctx->args[0], (const char *)ctx->args[1],
			flags, mode);
}

/* One exit program for every syscall (attached to each sys_exit_* the agent picked). */
SEC("tracepoint/syscalls/sys_exit_openat")
int tp_exit(struct trace_event_raw_sys_exit *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	struct start s;

	if (!take_inflight(starts, &tid, &s))
		return 0;
	return report(pid_tgid, s.syscall, false, s.dfd, (const char *)s.name, s.flags, s.mode,
		      ctx->ret);
}
#endif
