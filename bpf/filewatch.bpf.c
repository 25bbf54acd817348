// SPDX-License-Identifier: (MIT OR GPL-2.0)
/*
 * filewatch: alerts when a watched path is opened, unlinked or renamed.
 *
 * Syscall tracepoints only. The enter half keeps the call's arguments per thread; the exit
 * half makes each name absolute (the caller's working directory or dirfd, walked in the
 * kernel), matches it against the watch list here, and sends a record only for a match: an
 * unwatched open costs a hash over at most the longest watched path and never reaches user
 * space. A successful open that did not match by name is matched again by the opened file's
 * own path, so symlinks, "..", "." and bind mounts do not hide a watched file.
 */
#include "common.h"
#include "paths.h"
#include "filewatch.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

const volatile struct filewatch_config config = {};

DEFINE_EVENTS_RINGBUF(1024 * 1024);

/* The watch list (see struct filewatch_key), filled by the agent before it attaches. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2 * FILEWATCH_MAX_WATCHES);
	__type(key, struct filewatch_key);
	__type(value, __u32);
} watches SEC(".maps");

/* The arguments of a call in flight, by thread id. */
struct start {
	__u64 name;
	__u64 name2;
	__u64 flags;
	__s32 dfd;
	__s32 dfd2;
	__u16 op;
	__u16 syscall;
	__u32 pad;
};

DEFINE_INFLIGHT(starts, struct start);

struct scratch {
	struct filewatch_event e;
	char buf[PATH_SCRATCH_BYTES];
	__u32 off; /* where the path in buf starts (see prepend_path) */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch SEC(".maps");

static __always_inline int on_enter(__u16 op, __u16 syscall, int dfd, const char *name, int dfd2,
				    const char *name2, __u64 flags)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct start s = {};

	s.name = (__u64)name;
	s.name2 = (__u64)name2;
	s.flags = flags;
	s.dfd = dfd;
	s.dfd2 = dfd2;
	s.op = op;
	s.syscall = syscall;
	bpf_map_update_elem(&starts, &tid, &s, BPF_ANY);
	return 0;
}

/*
 * Makes `name` absolute in sc->buf (see resolve_user_name). Returns the name's length, or -1
 * if it could not be read.
 */
static __noinline long resolve_name(struct scratch *sc, const char *name, int dfd,
				    __u16 *pflags, __u16 cut)
{
	__u32 namelen;
	int rc = resolve_user_name(sc->buf, &sc->off, &namelen, name, dfd);

	if (rc == PATH_UNREADABLE)
		return -1;
	if (rc == PATH_BAD_DFD)
		*pflags |= FILEWATCH_P_BAD_DFD;
	else if (rc == PATH_WALK_CUT)
		*pflags |= cut;
	return namelen;
}

/* The opened file's own path in sc->buf: buf[sc->off, PATH_NAME_AT). */
static __always_inline void resolve_file(struct scratch *sc, struct task_struct *task, int fd,
					 __u16 *pflags)
{
	struct dentry *root_dentry;
	struct vfsmount *root_mnt;
	struct file *f = task_fd_file(task, fd);
	int rc;

	sc->off = PATH_NAME_AT;
	if (!f)
		return;
	task_root(task, &root_dentry, &root_mnt);
	rc = prepend_path(sc->buf, &sc->off, BPF_CORE_READ(f, f_path.dentry),
			  BPF_CORE_READ(f, f_path.mnt), root_dentry, root_mnt);
	if (rc == PATH_WALK_CUT)
		*pflags |= FILEWATCH_P_CUT;
	if (sc->off == PATH_NAME_AT) {
		/* The root itself. */
		sc->buf[PATH_NAME_AT - 1] = '/';
		sc->off = PATH_NAME_AT - 1;
	}
}

/* Where the path resolve_*() left in sc->buf starts, bounded for the verifier. */
static __always_inline __u64 path_start(struct scratch *sc)
{
	__u64 off = sc->off;

	if (off > PATH_NAME_AT)
		off = PATH_NAME_AT;
	return off;
}

/*
 * Hashes the path buf[start, PATH_NAME_AT + namelen) byte by byte and looks it up at each
 * length a PREFIX entry has and, at its end, as an EXACT entry. Returns the entry's index or -1.
 */
static __noinline long match(struct scratch *sc, __u64 namelen)
{
	__u64 start = path_start(sc), len = PATH_NAME_AT - start + namelen;
	struct filewatch_key key = {};
	__u64 h = FILEWATCH_FNV_OFFSET;
	__u32 i, *id;

	/* A loop, not 256 unrolled copies: the verifier walks it up to max_len anyway. */
#pragma clang loop unroll(disable)
	for (i = 0; i <= FILEWATCH_WATCH_LEN; i++) {
		__u32 n = i + 1;

		if (i >= config.max_len + 1)
			break;
		if (i == len) {
			key.hash = h;
			key.len = i;
			key.kind = FILEWATCH_EXACT;
			id = bpf_map_lookup_elem(&watches, &key);
			/* (long) first: `id ? *id : -1` would be a u32, and -1 a valid index. */
			return id ? (long)*id : -1;
		}
		h = (h ^ (__u8)sc->buf[(start + i) & PATH_SCRATCH_MASK]) * FILEWATCH_FNV_PRIME;
		if (n <= FILEWATCH_WATCH_LEN && (config.prefix_lens[n / 64] & (1ULL << (n % 64)))) {
			key.hash = h;
			key.len = n;
			key.kind = FILEWATCH_PREFIX;
			id = bpf_map_lookup_elem(&watches, &key);
			if (id)
				return (long)*id;
		}
	}
	return -1;
}

static __always_inline int on_exit(long ret)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid, zero = 0, len;
	struct task_struct *task;
	struct filewatch_event *e;
	struct scratch *sc;
	struct start *sp, s;
	long id, n;

	sp = bpf_map_lookup_elem(&starts, &tid);
	if (!sp)
		return 0;
	s = *sp;
	bpf_map_delete_elem(&starts, &tid);
	sc = bpf_map_lookup_elem(&scratch, &zero);
	if (!sc)
		return 0;
	e = &sc->e;
	task = (struct task_struct *)bpf_get_current_task();
	e->path_flags = 0;
	e->other_len = 0;

	n = resolve_name(sc, (const char *)s.name, s.dfd, &e->path_flags, FILEWATCH_P_CUT);
	id = n < 0 ? -1 : match(sc, n);
	if (id >= 0) {
		e->path_len = copy_resolved(e->paths, sc->buf, &sc->off, n);
		if (s.op == FILEWATCH_OP_RENAME) {
			n = resolve_name(sc, (const char *)s.name2, s.dfd2, &e->path_flags,
					 FILEWATCH_P_OTHER_CUT);
			if (n >= 0)
				e->other_len = copy_resolved(e->paths + FILEWATCH_PATH_BUF,
							     sc->buf, &sc->off, n);
		}
	} else if (s.op == FILEWATCH_OP_RENAME) {
		/* The old name did not match: it is the other path if the new one does. */
		e->path_flags = 0;
		if (n >= 0)
			e->other_len = copy_resolved(e->paths + FILEWATCH_PATH_BUF, sc->buf,
						     &sc->off, n);
		n = resolve_name(sc, (const char *)s.name2, s.dfd2, &e->path_flags,
				 FILEWATCH_P_CUT);
		id = n < 0 ? -1 : match(sc, n);
		if (id < 0)
			return 0;
		e->path_len = copy_resolved(e->paths, sc->buf, &sc->off, n);
		e->path_flags |= FILEWATCH_P_NEW;
	} else if (s.op == FILEWATCH_OP_OPEN && ret >= 0) {
		e->path_flags = 0;
		resolve_file(sc, task, ret, &e->path_flags);
		id = match(sc, 0);
		if (id < 0)
			return 0;
		e->path_len = copy_resolved(e->paths, sc->buf, &sc->off, 0);
		e->path_flags |= FILEWATCH_P_FILE;
	} else {
		return 0;
	}

	e->time_ns = bpf_ktime_get_boot_ns();
	e->flags = s.flags;
	e->pid = pid_tgid >> 32;
	e->tid = tid;
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->uid = (__u32)bpf_get_current_uid_gid();
	e->ret = ret;
	e->watch_id = id;
	e->op = s.op;
	e->syscall = s.syscall;
	bpf_get_current_comm(e->comm, sizeof(e->comm));

	/* Only the bytes used: the other path's slot only for a rename. */
	len = e->other_len ? FILEWATCH_PATH_BUF + e->other_len : e->path_len;
	emit_event_upto(e, struct filewatch_event, paths, len);
	return 0;
}

#define AT_REMOVEDIR 0x200

SEC("tracepoint/syscalls/sys_enter_open")
int tp_enter_open(struct trace_event_raw_sys_enter *ctx)
{
	return on_enter(FILEWATCH_OP_OPEN, FILEWATCH_SYS_OPEN, AT_FDCWD, (const char *)ctx->args[0],
			0, NULL, ctx->args[1]);
}

SEC("tracepoint/syscalls/sys_enter_openat")
int tp_enter_openat(struct trace_event_raw_sys_enter *ctx)
{
	return on_enter(FILEWATCH_OP_OPEN, FILEWATCH_SYS_OPENAT, (int)ctx->args[0],
			(const char *)ctx->args[1], 0, NULL, ctx->args[2]);
}

SEC("tracepoint/syscalls/sys_enter_openat2")
int tp_enter_openat2(struct trace_event_raw_sys_enter *ctx)
{
	struct open_how how = {};

	bpf_probe_read_user(&how, sizeof(how), (void *)ctx->args[2]);
	return on_enter(FILEWATCH_OP_OPEN, FILEWATCH_SYS_OPENAT2, (int)ctx->args[0],
			(const char *)ctx->args[1], 0, NULL, how.flags);
}

SEC("tracepoint/syscalls/sys_enter_unlink")
int tp_enter_unlink(struct trace_event_raw_sys_enter *ctx)
{
	return on_enter(FILEWATCH_OP_UNLINK, FILEWATCH_SYS_UNLINK, AT_FDCWD,
			(const char *)ctx->args[0], 0, NULL, 0);
}

SEC("tracepoint/syscalls/sys_enter_unlinkat")
int tp_enter_unlinkat(struct trace_event_raw_sys_enter *ctx)
{
	__u64 flags = ctx->args[2];

	return on_enter(flags & AT_REMOVEDIR ? FILEWATCH_OP_RMDIR : FILEWATCH_OP_UNLINK,
			FILEWATCH_SYS_UNLINKAT, (int)ctx->args[0], (const char *)ctx->args[1], 0,
			NULL, flags);
}

SEC("tracepoint/syscalls/sys_enter_rmdir")
int tp_enter_rmdir(struct trace_event_raw_sys_enter *ctx)
{
	return on_enter(FILEWATCH_OP_RMDIR, FILEWATCH_SYS_RMDIR, AT_FDCWD,
			(const char *)ctx->args[0], 0, NULL, 0);
}

SEC("tracepoint/syscalls/sys_enter_rename")
int tp_enter_rename(struct trace_event_raw_sys_enter *ctx)
{
	return on_enter(FILEWATCH_OP_RENAME, FILEWATCH_SYS_RENAME, AT_FDCWD,
			(const char *)ctx->args[0], AT_FDCWD, (const char *)ctx->args[1], 0);
}

SEC("tracepoint/syscalls/sys_enter_renameat")
int tp_enter_renameat(struct trace_event_raw_sys_enter *ctx)
{
	return on_enter(FILEWATCH_OP_RENAME, FILEWATCH_SYS_RENAMEAT, (int)ctx->args[0],
			(const char *)ctx->args[1], (int)ctx->args[2], (const char *)ctx->args[3], 0);
}

SEC("tracepoint/syscalls/sys_enter_renameat2")
int tp_enter_renameat2(struct trace_event_raw_sys_enter *ctx)
{
	return on_enter(FILEWATCH_OP_RENAME, FILEWATCH_SYS_RENAMEAT2, (int)ctx->args[0],
			(const char *)ctx->args[1], (int)ctx->args[2], (const char *)ctx->args[3],
			ctx->args[4]);
}

/* One exit program for every syscall (attached to each sys_exit_* the agent picked). */
SEC("tracepoint/syscalls/sys_exit_openat")
int tp_exit(struct trace_event_raw_sys_exit *ctx)
{
	return on_exit(ctx->ret);
}
