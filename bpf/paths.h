/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/*
 * Paths in the kernel: names a syscall was given made absolute, and paths built from dentries
 * (opensnoop -F, filewatch). Include after common.h.
 */
#ifndef EBPF_RUST_PATHS_H
#define EBPF_RUST_PATHS_H

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
