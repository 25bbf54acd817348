/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/*
 * What every BPF program of ours includes first, instead of a generated vmlinux.h.
 *
 * CO-RE needs BTF descriptions only of the kernel fields a program reads: those are declared
 * here, small and with preserve_access_index, so libbpf relocates every access against the
 * running kernel's BTF. Only field names matter, never the layout written here, which is why
 * one header serves every architecture and every kernel from 5.10 on. The UAPI constants are
 * stable ABI, copied by value.
 */
#ifndef EBPF_RUST_COMMON_H
#define EBPF_RUST_COMMON_H

typedef signed char __s8;
typedef unsigned char __u8;
typedef short __s16;
typedef unsigned short __u16;
typedef int __s32;
typedef unsigned int __u32;
typedef long long __s64;
typedef unsigned long long __u64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;
typedef _Bool bool;
#define true 1
#define false 0

/* include/uapi/linux/bpf.h */
enum bpf_map_type {
	BPF_MAP_TYPE_HASH = 1,
	BPF_MAP_TYPE_ARRAY = 2,
	BPF_MAP_TYPE_PERCPU_HASH = 5,
	BPF_MAP_TYPE_PERCPU_ARRAY = 6,
	BPF_MAP_TYPE_LRU_HASH = 9,
	BPF_MAP_TYPE_RINGBUF = 27,
};
enum {
	BPF_ANY = 0,
	BPF_NOEXIST = 1,
	BPF_EXIST = 2,
};
#define BPF_F_NO_PREALLOC (1U << 0)

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

/*
 * Kernel structures, only the fields some tool reads. Declaration order and types are ours;
 * libbpf finds each field by name in the running kernel's BTF. Add a field here when a tool
 * needs one (one definition per struct for all tools).
 */
struct qstr {
	const unsigned char *name;
	__u32 len;
} __attribute__((preserve_access_index));

struct dentry {
	struct dentry *d_parent;
	struct qstr d_name;
	struct inode *d_inode;
} __attribute__((preserve_access_index));

struct vfsmount {
	struct dentry *mnt_root;
} __attribute__((preserve_access_index));

struct path {
	struct vfsmount *mnt;
	struct dentry *dentry;
} __attribute__((preserve_access_index));

/* fs/mount.h: where a mounted vfsmount sits in the mount tree (for walks across mounts). */
struct mount {
	struct mount *mnt_parent;
	struct dentry *mnt_mountpoint;
	struct vfsmount mnt;
} __attribute__((preserve_access_index));

struct inode {
	unsigned short i_mode;
	unsigned long i_ino;
} __attribute__((preserve_access_index));

struct file {
	struct path f_path;
	struct inode *f_inode;
	unsigned int f_flags;
	unsigned int f_mode;
} __attribute__((preserve_access_index));

struct fdtable {
	unsigned int max_fds;
	struct file **fd;
} __attribute__((preserve_access_index));

struct files_struct {
	struct fdtable *fdt;
} __attribute__((preserve_access_index));

struct fs_struct {
	struct path root;
	struct path pwd;
} __attribute__((preserve_access_index));

typedef struct {
	int counter;
} atomic_t;

struct signal_struct {
	atomic_t live; /* threads not yet past do_exit()'s group_dead test */
} __attribute__((preserve_access_index));

struct task_struct {
	unsigned int flags;
	int pid;
	int tgid;
	int exit_code;
	int exit_signal;
	__u64 start_time;
	struct task_struct *real_parent;
	struct task_struct *group_leader;
	char comm[16];
	struct files_struct *files;
	struct fs_struct *fs;
	struct signal_struct *signal;
} __attribute__((preserve_access_index));

/* The context of every syscalls:sys_enter_* and sys_exit_* tracepoint. */
struct trace_event_raw_sys_enter {
	long id;
	unsigned long args[6];
} __attribute__((preserve_access_index));

struct trace_event_raw_sys_exit {
	long id;
	long ret;
} __attribute__((preserve_access_index));

#define TASK_COMM_LEN 16

/* include/uapi/linux/fcntl.h, openat2.h */
#define AT_FDCWD -100
struct open_how {
	__u64 flags;
	__u64 mode;
	__u64 resolve;
};

#ifndef offsetof
#define offsetof(type, member) __builtin_offsetof(type, member)
#endif

/*
 * Events go to user space through one ring buffer per program, named `events`. A record that
 * does not fit is not silently dropped: `lost_events` (one slot per CPU, summed by the agent)
 * counts it, and the agent reports the total.
 */
#define DEFINE_EVENTS_RINGBUF(bytes)                         \
	struct {                                             \
		__uint(type, BPF_MAP_TYPE_RINGBUF);          \
		__uint(max_entries, bytes);                  \
	} events SEC(".maps");                               \
	struct {                                             \
		__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);     \
		__uint(max_entries, 1);                      \
		__type(key, __u32);                          \
		__type(value, __u64);                        \
	} lost_events SEC(".maps")

static __always_inline void count_lost_event(void *lost_map)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(lost_map, &zero);

	if (n)
		*n += 1;
}

/* bpf_ringbuf_output/submit flags (include/uapi/linux/bpf.h). */
#define BPF_RB_NO_WAKEUP (1ULL << 0)
#define BPF_RB_FORCE_WAKEUP (1ULL << 1)

#define BPF_RB_AVAIL_DATA 0

/*
 * When to wake the agent. Waking it costs an interrupt per record (an inter-processor one, very
 * costly under virtualization: most of a record's BPF run time when measured). The agent polls
 * at least every 100 ms anyway, so records only force a wake-up once this much is waiting, which
 * keeps a burst from filling the ring between two polls.
 */
#define EVENTS_WAKEUP_BYTES (256 * 1024)

static __always_inline __u64 events_wakeup_flags(void *ring)
{
	return bpf_ringbuf_query(ring, BPF_RB_AVAIL_DATA) >= EVENTS_WAKEUP_BYTES ? BPF_RB_FORCE_WAKEUP
										: BPF_RB_NO_WAKEUP;
}

/* Copy `size` bytes (bounded by the verifier) of `data` into the ring, counting a failure. */
#define emit_event(data, size)                                                      \
	do {                                                                        \
		if (bpf_ringbuf_output(&events, (data), (size),                     \
				       events_wakeup_flags(&events)))               \
			count_lost_event(&lost_events);                             \
	} while (0)

/* Submit a reserved record. */
#define submit_event(e) bpf_ringbuf_submit((e), events_wakeup_flags(&events))

/* Reserve a fixed-size record, counting a failure; NULL when the ring is full. */
#define reserve_event(type)                                                  \
	({                                                                   \
		type *__e = bpf_ringbuf_reserve(&events, sizeof(type), 0);  \
		if (!__e)                                                    \
			count_lost_event(&lost_events);                      \
		__e;                                                         \
	})

/*
 * Paths from the kernel's dentries, built the way d_path() builds them: from the leaf up, each
 * "/<name>" written in front of the previous one, into a scratch buffer whose end already holds
 * what the path continues with (e.g. the relative name an open() was given). Offsets are masked
 * with PATH_SCRATCH_MASK and each copy is at most PATH_NAME_MAX bytes, so a buffer of
 * PATH_SCRATCH_BYTES bounds every access for the verifier.
 */
#define PATH_SCRATCH_SIZE 8192
#define PATH_SCRATCH_MASK (PATH_SCRATCH_SIZE - 1)
#define PATH_NAME_MAX 255
#define PATH_SCRATCH_BYTES (PATH_SCRATCH_SIZE + PATH_NAME_MAX + 1)
/* Directories (and mount crossings) walked at most: deeper paths lose their head. */
#define PATH_MAX_DEPTH 48

/* prepend_path() results. */
#define PATH_WALK_DONE 0 /* reached the root */
#define PATH_WALK_CUT 1 /* deeper than PATH_MAX_DEPTH or out of room: the head is missing */

static __always_inline struct vfsmount *mount_vfsmount(struct mount *m)
{
	return (struct vfsmount *)((char *)m + bpf_core_field_offset(struct mount, mnt));
}

/*
 * Writes "/<name>" for every directory from `dentry` (on `vfsmnt`) up to the process's root
 * (`root_dentry` on `root_mnt`: a chroot shows as /) in front of buf[*start], moving *start
 * back. Crosses mount points; stops at the top of the mount tree (a lazily unmounted or
 * pseudo filesystem ends there too). The root itself adds nothing.
 *
 * `start` must point into a map value, not the stack: the verifier then knows nothing of the
 * offset each time it is loaded, so the states of all the ways through one step of the walk
 * are alike and it prunes them. Kept in a register, the offset's bounds differ per path and
 * the walk's paths multiply past the verifier's limit.
 */
static __always_inline int prepend_path(char *buf, __u32 *start, struct dentry *dentry,
					struct vfsmount *vfsmnt, struct dentry *root_dentry,
					struct vfsmount *root_mnt)
{
	struct mount *mnt = (struct mount *)((char *)vfsmnt - bpf_core_field_offset(struct mount, mnt));
	__u32 off, len, i;
	int rc = PATH_WALK_CUT;

	for (i = 0; i < PATH_MAX_DEPTH; i++) {
		struct dentry *parent;
		const unsigned char *name;

		if (dentry == root_dentry && vfsmnt == root_mnt) {
			rc = PATH_WALK_DONE;
			break;
		}
		if (dentry == BPF_CORE_READ(vfsmnt, mnt_root)) {
			struct mount *up = BPF_CORE_READ(mnt, mnt_parent);

			if (!up || up == mnt) {
				rc = PATH_WALK_DONE;
				break;
			}
			dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
			mnt = up;
			vfsmnt = mount_vfsmount(up);
			continue;
		}
		parent = BPF_CORE_READ(dentry, d_parent);
		if (!parent || parent == dentry) {
			rc = PATH_WALK_DONE;
			break;
		}
		len = BPF_CORE_READ(dentry, d_name.len);
		name = BPF_CORE_READ(dentry, d_name.name);
		if (len > PATH_NAME_MAX)
			len = PATH_NAME_MAX;
		off = *start;
		if (off < len + 1)
			break;
		off -= len;
		bpf_probe_read_kernel(buf + (off & PATH_SCRATCH_MASK), len & PATH_NAME_MAX, name);
		off--;
		buf[off & PATH_SCRATCH_MASK] = '/';
		*start = off;
		dentry = parent;
	}
	return rc;
}

/* The current process's root (chroot) and working directory. */
static __always_inline void task_root(struct task_struct *task, struct dentry **dentry,
				      struct vfsmount **mnt)
{
	*dentry = BPF_CORE_READ(task, fs, root.dentry);
	*mnt = BPF_CORE_READ(task, fs, root.mnt);
}

/* The open file behind descriptor `fd` of `task`, or NULL. */
static __always_inline struct file *task_fd_file(struct task_struct *task, int fd)
{
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds, *file = NULL;

	if (!fdt || fd < 0 || (unsigned int)fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]);
	return file;
}

/*
 * Prepends the directory a name given to a *at() syscall is relative to: the working
 * directory for AT_FDCWD, else the directory open as `dfd`. Returns PATH_WALK_* or -1 when
 * `dfd` is not an open file.
 */
static __always_inline int prepend_dir_of(char *buf, __u32 *start, struct task_struct *task,
					  int dfd)
{
	struct dentry *root_dentry, *dentry;
	struct vfsmount *root_mnt, *mnt;

	task_root(task, &root_dentry, &root_mnt);
	if (dfd == AT_FDCWD) {
		dentry = BPF_CORE_READ(task, fs, pwd.dentry);
		mnt = BPF_CORE_READ(task, fs, pwd.mnt);
	} else {
		struct file *f = task_fd_file(task, dfd);

		if (!f)
			return -1;
		dentry = BPF_CORE_READ(f, f_path.dentry);
		mnt = BPF_CORE_READ(f, f_path.mnt);
	}
	return prepend_path(buf, start, dentry, mnt, root_dentry, root_mnt);
}

/*
 * A path made of a name a syscall was given: the name is read to buf[PATH_NAME_AT...] and,
 * when relative, '/' and the directory it is relative to are written in front of it.
 */
#define PATH_NAME_AT (PATH_SCRATCH_SIZE / 2)
#define PATH_USER_NAME_MAX 4096 /* PATH_MAX */

/* resolve_user_name() results besides PATH_WALK_DONE and PATH_WALK_CUT (a directory added). */
#define PATH_ABSOLUTE 2 /* the name was absolute */
#define PATH_BAD_DFD 3 /* the dirfd is no open file: the name stays relative */
#define PATH_UNREADABLE -1 /* the name could not be read from the caller's memory */

/*
 * Reads `name` (the caller's memory) into buf and makes it absolute against `dfd` (AT_FDCWD:
 * the working directory). The path is then buf[*start, PATH_NAME_AT + *namelen); `start` must
 * point into a map value (see prepend_path).
 */
static __always_inline int resolve_user_name(char *buf, __u32 *start, __u32 *namelen,
					     const char *name, int dfd)
{
	long n = bpf_probe_read_user_str(buf + PATH_NAME_AT, PATH_USER_NAME_MAX, name);
	int rc;

	*start = PATH_NAME_AT;
	if (n <= 0) {
		*namelen = 0;
		return PATH_UNREADABLE;
	}
	*namelen = (n - 1) & (PATH_USER_NAME_MAX - 1);
	if (buf[PATH_NAME_AT] == '/')
		return PATH_ABSOLUTE;
	buf[PATH_NAME_AT - 1] = '/';
	*start = PATH_NAME_AT - 1;
	rc = prepend_dir_of(buf, start, (struct task_struct *)bpf_get_current_task(), dfd);
	if (rc < 0) {
		*start = PATH_NAME_AT;
		return PATH_BAD_DFD;
	}
	return rc;
}

/*
 * Copies the path in buf[*start, PATH_NAME_AT + namelen) to `dst`, which holds at least
 * PATH_SCRATCH_SIZE bytes, in two pieces whose bounds the verifier can follow. Returns its
 * length.
 */
static __always_inline __u32 copy_resolved(char *dst, const char *buf, const __u32 *start,
					   __u64 namelen)
{
	/* 64-bit, so that the bounds checks apply to the registers the copies use. */
	__u64 off = *start, dirlen;

	if (off > PATH_NAME_AT)
		off = PATH_NAME_AT;
	dirlen = PATH_NAME_AT - off;
	namelen &= PATH_USER_NAME_MAX - 1;
	bpf_probe_read_kernel(dst, dirlen, buf + off);
	bpf_probe_read_kernel(dst + dirlen, namelen, buf + PATH_NAME_AT);
	return dirlen + namelen;
}

#endif
