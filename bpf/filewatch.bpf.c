// SPDX-License-Identifier: (MIT OR GPL-2.0)
/*
 * filewatch: alerts when a watched file is opened, unlinked or renamed, under any name.
 *
 * By identity first. The agent opens every watched object that exists (a file, a directory,
 * and each entry's deepest existing ancestor, its anchor) and keeps it open, so the kernel
 * pointers of those inodes and dentries stay valid; its own opens teach this program what they
 * are (`learned`). Then:
 *
 * - an open that succeeded (open, openat, openat2, creat, open_by_handle_at, of every ABI; an
 *   io_uring OPENAT) is matched by the file it returned: its inode is a watched file, or a
 *   walk up its dentries (across mounts) meets a watched directory, or an anchor whose path
 *   down to the file an entry names. Hard links, bind mounts, chroots, renamed parents,
 *   symlinks and relative names from anywhere all reach the same inode and dentries.
 * - an unlink or rename is matched by the dentry it removes or moves: in d_delete, d_move and
 *   d_exchange where the kernel has kprobes (any caller, io_uring's included); elsewhere the
 *   watched files' pinned dentries are looked at when such a call succeeds (unhashed: gone;
 *   another parent or name: renamed).
 *
 * By name otherwise: what failed (there is no file to ask) and, without kprobes, unlinks and
 * renames below watched directories and prefixes. The name is made absolute in the kernel
 * (the caller's working directory or dirfd, walked up to the top of its mount tree: a chroot
 * shows as where it is), "//", "." and ".." are folded, and the result is hashed only as far
 * as the longest watched path and looked up. Failed calls are counted per (uid, entry,
 * operation, error) in the kernel and sent on a ring of their own: a flood of them can never
 * push out a successful match, and the alert stream says how many it folded.
 */
#include "common.h"
#include "paths.h"
#include "syscalls.h"
#include "filewatch.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

const volatile struct filewatch_config config = {};

/* Matches of calls that succeeded; failed ones on their own ring. */
DEFINE_EVENTS_RINGBUF(1024 * 1024);
DEFINE_RINGBUF(failures, 256 * 1024);

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8 * FILEWATCH_MAX_WATCHES);
	__type(key, struct filewatch_key);
	__type(value, __u32);
} names SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FILEWATCH_MAX_OBJECTS);
	__type(key, __u64);
	__type(value, struct filewatch_object);
} objects SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct filewatch_bloom);
} bloom SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FILEWATCH_LEARN_SLOTS);
	__type(key, __u32);
	__type(value, struct filewatch_learned);
} learned SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct filewatch_pins);
} pins SEC(".maps");

/* Pinned dentries whose change was reported (the agent clears them when it pins anew). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FILEWATCH_MAX_PINS);
	__type(key, __u64);
	__type(value, __u32);
} claims SEC(".maps");

/* Failed calls of each kind since the agent's last report, which drains the map: the first
 * of a kind in each report interval is sent as an alert, the rest are counted. */
DEFINE_DRAINED_HASH(fails, struct filewatch_fail_key, struct filewatch_fail,
		    FILEWATCH_MAX_FAILURES);

/* What a dentry hook found, for the syscall's exit to report (by thread id). */
struct pending {
	__s32 watch_id;
	__u32 base;
	__u16 op;
	__u16 path_flags;
	__u32 path_len;
	char path[PATH_NAME_MAX + 1];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct pending);
} pendings SEC(".maps");

/* The record, built before it is sent (each path in a slot of its own), and packed. */
DEFINE_SCRATCH(struct filewatch_event, scratch);
DEFINE_SCRATCH(struct filewatch_event, packs);

/* What a match found. */
struct hit {
	__s32 watch_id;
	__u32 base; /* the agent's object the path is relative to (identity), or 0 */
	__u32 level; /* dentries below the object (identity) */
	__u16 flags; /* FILEWATCH_P_* */
	__u16 pad;
};

/* The call being reported, as the syscall exit (or the tracepoints' entry) found it. */
struct call {
	__u64 name;
	__u64 name2;
	__u64 flags;
	__s64 ret;
	__s32 dfd;
	__s32 dfd2;
	__u16 op;
	__u16 syscall;
	__u16 compat;
	__u16 pad;
};

/*
 * Per CPU: paths built and walked, and what the functions below hand each other. They are
 * global functions (verified once, not at every call) and so take scalars only: the rest is
 * here.
 */
struct work {
	char buf[PATH_SCRATCH_BYTES];
	__u32 off; /* where the path in buf starts (see prepend_path) */
	__u32 namelen; /* bytes of the name at buf[PATH_NAME_AT] */
	__u32 o; /* normalisation: where the next byte goes, */
	__u32 cs; /* where the component being read started, */
	__u32 sp; /* how many components are kept, */
	__u32 ups; /* and a relative name's leading ".." */
	__u16 stack[FILEWATCH_NORM_DEPTH];
	__u64 walk[FILEWATCH_WALK_MAX]; /* the dentries walked up from a file (0: a mount root) */
	struct hit hit;
	struct call call;
	struct pending pend;
};

DEFINE_SCRATCH(struct work, works);

/* struct io_kiocb and struct io_open (io_uring/), as far as read. */
struct io_kiocb___fw {
	__u8 opcode;
} __attribute__((preserve_access_index));

struct io_open___fw {
	__u32 file_slot;
	struct open_how how;
} __attribute__((preserve_access_index));

struct trace_event_raw_io_uring_complete___fw {
	void *req;
	int res;
} __attribute__((preserve_access_index));

#define IORING_OP_OPENAT 18
#define IORING_OP_OPENAT2 28
#define IORING_OP_RENAMEAT 35
#define IORING_OP_UNLINKAT 36

#define AT_REMOVEDIR 0x200
#define S_IFMT 00170000
#define S_IFDIR 0040000
#define O_CREAT 0100
#define O_WRONLY 01
#define O_TRUNC 01000

/* fw_match() modes: which prefix lengths to try, and the key kind at the end (<< 8). */
#define MATCH_ABSOLUTE 1
#define MATCH_ANCHOR 2

static __always_inline bool is_self(void)
{
	return (__u32)(bpf_get_current_pid_tgid() >> 32) == config.self_tgid;
}

/* ----- identity --------------------------------------------------------------------------- */

static __always_inline bool in_bloom(__u64 ptr)
{
	__u32 zero = 0;
	struct filewatch_bloom *b = bpf_map_lookup_elem(&bloom, &zero);
	__u64 bit = (ptr * 0x9E3779B97F4A7C15ULL) >> 55;

	return b && (b->bits[(bit >> 6) & 7] & (1ULL << (bit & 63)));
}

static __always_inline struct filewatch_object *object_of(const void *ptr)
{
	__u64 key = (__u64)ptr;

	if (!key || !in_bloom(key))
		return NULL;
	return bpf_map_lookup_elem(&objects, &key);
}

/*
 * Hashes w->buf[start, start + len) byte by byte and looks it up among the names relative to
 * `anchor` (0: absolute paths): at each length a PREFIX entry has (`mode`: whose lengths)
 * and, at its end, as a key of kind `mode >> 8` (EXACT, FIRST; 0: none). Returns the
 * entry's index or -1.
 */
__noinline long fw_match(__u32 start, __u32 len, __u32 anchor, __u32 mode)
{
	struct filewatch_key key = { .anchor = anchor };
	struct work *w = scratch_of(works);
	__u64 h = FILEWATCH_FNV_OFFSET;
	__u32 i, *id;

	if (!w)
		return -1;
	/* A loop, not 256 unrolled copies: the verifier walks it up to max_len anyway. */
#pragma clang loop unroll(disable)
	for (i = 0; i <= FILEWATCH_WATCH_LEN; i++) {
		__u32 n = i + 1;
		__u64 lens = 0;

		if (i >= config.max_len + 1)
			break;
		if (i == len) {
			if (!(mode >> 8))
				return -1;
			key.hash = h;
			key.len = i;
			key.kind = mode >> 8;
			id = bpf_map_lookup_elem(&names, &key);
			/* (long) first: `id ? *id : -1` would be a u32, and -1 a valid index. */
			return id ? (long)*id : -1;
		}
		h = (h ^ (__u8)w->buf[(start + i) & PATH_SCRATCH_MASK]) * FILEWATCH_FNV_PRIME;
		if (mode & MATCH_ABSOLUTE)
			lens = config.prefix_lens[(n / 64) & 3];
		else if (mode & MATCH_ANCHOR)
			lens = config.anchor_prefix_lens[(n / 64) & 3];
		if (n <= FILEWATCH_WATCH_LEN && (lens & (1ULL << (n % 64)))) {
			key.hash = h;
			key.len = n;
			key.kind = FILEWATCH_PREFIX;
			id = bpf_map_lookup_elem(&names, &key);
			if (id)
				return (long)*id;
		}
	}
	return -1;
}

/* Writes "/<name>" of each dentry w->walk[level - 1] ... walk[0] (skipping mount roots) in
 * front of w->buf[PATH_NAME_AT]: the path below a matched object. Returns its length. */
__noinline __u32 fw_tail(__u32 level)
{
	struct work *w = scratch_of(works);
	__u32 i, len, off;

	if (!w)
		return 0;
	w->off = PATH_NAME_AT;
	for (i = 0; i < FILEWATCH_WALK_MAX; i++) {
		struct dentry *d;
		const unsigned char *name;

		if (i >= level)
			break;
		d = (struct dentry *)w->walk[i & (FILEWATCH_WALK_MAX - 1)];
		if (!d)
			continue;
		len = BPF_CORE_READ(d, d_name.len);
		name = BPF_CORE_READ(d, d_name.name);
		if (len > PATH_NAME_MAX)
			len = PATH_NAME_MAX;
		off = w->off;
		if (off < len + 1)
			break;
		off -= len;
		bpf_probe_read_kernel(w->buf + (off & PATH_SCRATCH_MASK), len & PATH_NAME_MAX, name);
		off--;
		w->buf[off & PATH_SCRATCH_MASK] = '/';
		w->off = off;
	}
	return PATH_NAME_AT - w->off;
}

/*
 * Does an entry relative to anchor `anchor` name the path from the anchor down to walk[0]
 * (through `child`, the dentry right below the anchor, which is walk[level])? The component
 * right below is checked first (exact, prefixes within it, or FIRST: some entry goes deeper
 * through it); only then the whole path down is built and matched.
 */
__noinline long fw_below_anchor(__u64 child, __u32 level, __u32 anchor)
{
	struct dentry *c = (struct dentry *)child;
	struct work *w = scratch_of(works);
	__u32 len = BPF_CORE_READ(c, d_name.len), tail;
	const unsigned char *name = BPF_CORE_READ(c, d_name.name);
	long id;

	if (!w || len > PATH_NAME_MAX)
		return -1;
	if (bpf_probe_read_kernel(w->buf + PATH_NAME_AT, len & PATH_NAME_MAX, name))
		return -1;
	if (level == 0)
		return fw_match(PATH_NAME_AT, len, anchor, MATCH_ANCHOR | (FILEWATCH_EXACT << 8));
	/* Deeper: a prefix within the first component covers everything below it, ... */
	id = fw_match(PATH_NAME_AT, len, anchor, MATCH_ANCHOR);
	if (id >= 0)
		return id;
	/* ... and FIRST says some entry goes on below this component: the whole path, then. */
	if (fw_match(PATH_NAME_AT, len, anchor, FILEWATCH_FIRST << 8) < 0)
		return -1;
	tail = fw_tail(level + 1);
	if (tail < 2 || tail > PATH_NAME_AT)
		return -1;
	/* The tail starts with '/': the entry's relative name does not. */
	return fw_match(PATH_NAME_AT - tail + 1, tail - 1, anchor,
			MATCH_ANCHOR | (FILEWATCH_EXACT << 8));
}

/*
 * Is the file of `dentry` (reached through `vfsmnt`; 0: its own filesystem only) watched: its
 * inode a watched file, a watched directory above it, or an anchor above it whose path down an
 * entry names? Walks up to FILEWATCH_WALK_MAX dentries, across mounts, noting them in w->walk.
 * Returns 1 with w->hit filled, else 0 (w->hit.flags: P_UNDECIDED if cut short).
 */
__noinline int fw_identity(__u64 dentry, __u64 vfsmnt)
{
	struct work *w = scratch_of(works);
	struct dentry *d = (struct dentry *)dentry, *parent, *mnt_root = NULL;
	struct vfsmount *vm = (struct vfsmount *)vfsmnt;
	struct filewatch_object *o;
	struct mount *mnt = NULL;
	__u32 i;
	long id;

	if (!w || !d)
		return 0;
	w->hit.watch_id = -1;
	w->hit.base = 0;
	w->hit.level = 0;
	w->hit.flags = 0;
	o = object_of(BPF_CORE_READ(d, d_inode));
	if (o && (o->kind & FILEWATCH_OBJ_FILE)) {
		w->hit.watch_id = o->watch_id;
		w->hit.base = o->index;
		return 1;
	}
	if (vm) {
		mnt = (struct mount *)((char *)vm - bpf_core_field_offset(struct mount, mnt));
		mnt_root = BPF_CORE_READ(vm, mnt_root);
	}
	for (i = 0; i < FILEWATCH_WALK_MAX; i++) {
		w->walk[i & (FILEWATCH_WALK_MAX - 1)] = (__u64)d;
		o = object_of(d);
		if (o && (o->kind & FILEWATCH_OBJ_DIR)) {
			w->hit.watch_id = o->watch_id;
			w->hit.base = o->index;
			w->hit.level = i;
			return 1;
		}
		if (mnt && d == mnt_root) {
			struct mount *up = BPF_CORE_READ(mnt, mnt_parent);

			if (!up || up == mnt)
				return 0;
			/* A mount root names nothing: the mount point does, one step up. */
			w->walk[i & (FILEWATCH_WALK_MAX - 1)] = 0;
			d = BPF_CORE_READ(mnt, mnt_mountpoint);
			mnt = up;
			mnt_root = BPF_CORE_READ(mount_vfsmount(up), mnt_root);
			continue;
		}
		parent = BPF_CORE_READ(d, d_parent);
		if (!parent || parent == d)
			return 0;
		o = object_of(parent);
		if (o && (o->kind & FILEWATCH_OBJ_ANCHOR)) {
			id = fw_below_anchor((__u64)d, i, o->anchor);
			if (id >= 0) {
				w->hit.watch_id = id;
				w->hit.base = o->index;
				w->hit.level = i + 1;
				return 1;
			}
		}
		d = parent;
	}
	/* Deeper than the walk: no telling. Reported, with the path as far as it was walked. */
	w->hit.flags = FILEWATCH_P_UNDECIDED;
	w->hit.level = FILEWATCH_WALK_MAX;
	return 0;
}

/* The identity path of w->hit (the tail below its object) into `dst`. */
static __always_inline __u32 copy_tail(struct work *w, char *dst)
{
	__u64 start, len;

	if (w->hit.level)
		fw_tail(w->hit.level);
	else
		w->off = PATH_NAME_AT;
	start = w->off;
	if (start > PATH_NAME_AT)
		start = PATH_NAME_AT;
	len = PATH_NAME_AT - start;
	bpf_probe_read_kernel(dst, len, w->buf + start);
	return len;
}

/* ----- names ------------------------------------------------------------------------------ */

/* One byte of fw_normalize()'s walk over the name (the loop's body). */
struct norm {
	__u32 len;
	__u32 absolute;
	__s32 deep; /* nested deeper than FILEWATCH_NORM_DEPTH */
	__u32 pad;
};

static long norm_step(__u32 i, void *ctx)
{
	struct norm *n = ctx;
	struct work *w = scratch_of(works);
	__u32 o, cs, clen;
	char c;

	if (!w || i > n->len)
		return 1;
	if (i < n->absolute)
		return 0;
	o = w->o;
	cs = w->cs;
	c = i == n->len ? '/' : w->buf[(PATH_NAME_AT + i) & PATH_SCRATCH_MASK];
	if (c != '/') {
		w->buf[o & PATH_SCRATCH_MASK] = c;
		w->o = o + 1;
		return 0;
	}
	clen = o - cs;
	if (clen == 0)
		return 0;
	if (clen == 1 && w->buf[cs & PATH_SCRATCH_MASK] == '.') {
		w->o = cs;
		return 0;
	}
	if (clen == 2 && w->buf[cs & PATH_SCRATCH_MASK] == '.' &&
	    w->buf[(cs + 1) & PATH_SCRATCH_MASK] == '.') {
		if (w->sp > 0) {
			w->sp--;
			w->o = w->stack[w->sp & (FILEWATCH_NORM_DEPTH - 1)];
		} else {
			/* "/.." is "/"; a relative name goes up from its directory. */
			if (!n->absolute)
				w->ups++;
			w->o = PATH_NAME_AT + n->absolute;
		}
		w->cs = w->o;
		return 0;
	}
	if (w->sp >= FILEWATCH_NORM_DEPTH) {
		n->deep = 1;
		return 1;
	}
	w->stack[w->sp & (FILEWATCH_NORM_DEPTH - 1)] = cs;
	w->sp++;
	w->buf[o & PATH_SCRATCH_MASK] = '/';
	w->o = o + 1;
	w->cs = o + 1;
	return 0;
}

/* Names longer than this are not folded: a loop the verifier follows byte by byte must stay
 * short. (bpf_loop() would take any length, but a program that names a callback does not load
 * before 5.13, even where the call is never made, nor on 32-bit ARM, whose JIT cannot call one.)
 */
#define NORM_INLINE_MAX 384

/*
 * Folds "//", "." and ".." in the name at w->buf[PATH_NAME_AT, + len), in place. A relative
 * name keeps no leading ".." components: their count is left in w->ups. Returns the new
 * length; -1 when the name nests deeper than FILEWATCH_NORM_DEPTH (the buffer is then
 * spoilt), -2 when it is too long to fold here (left as it was).
 */
__noinline long fw_normalize(__u32 len)
{
	struct work *w = scratch_of(works);
	struct norm n = { .len = len };
	__u32 i;

	if (!w)
		return -1;
	n.absolute = w->buf[PATH_NAME_AT] == '/';
	w->ups = 0;
	w->o = PATH_NAME_AT + n.absolute;
	w->cs = w->o;
	w->sp = 0;
	if (len > NORM_INLINE_MAX)
		return -2;
	for (i = 0; i <= NORM_INLINE_MAX; i++) {
		if (norm_step(i, &n))
			break;
	}
	if (n.deep)
		return -1;
	w = scratch_of(works);
	if (!w)
		return -1;
	/* No trailing '/' (kept for "/" alone). */
	if (w->o > PATH_NAME_AT + 1)
		return w->o - 1 - PATH_NAME_AT;
	return w->o - PATH_NAME_AT;
}

/* Moves *d (on *vfsmnt) up one directory: d_parent, or across the mounts it is the root of. */
static __always_inline bool dentry_up(struct dentry **d, struct vfsmount **vfsmnt)
{
	struct mount *mnt = (struct mount *)((char *)*vfsmnt - bpf_core_field_offset(struct mount, mnt));
	__u32 i;

	for (i = 0; i < 4; i++) {
		struct mount *up;

		if (*d != BPF_CORE_READ(*vfsmnt, mnt_root))
			break;
		up = BPF_CORE_READ(mnt, mnt_parent);
		if (!up || up == mnt)
			return false;
		*d = BPF_CORE_READ(mnt, mnt_mountpoint);
		mnt = up;
		*vfsmnt = mount_vfsmount(up);
	}
	*d = BPF_CORE_READ(*d, d_parent);
	return true;
}

/*
 * Makes `name` (the caller's memory) an absolute, folded path in w->buf[w->off, PATH_NAME_AT +
 * w->namelen): relative to `dfd` (AT_FDCWD: the working directory), up to the top of the
 * caller's mount tree (a chroot's absolute names show with the chroot's own path in front).
 * With `keep`, the name as given goes to the event's name slot first. Returns
 * PATH_UNREADABLE, PATH_BAD_DFD, PATH_WALK_CUT or PATH_WALK_DONE.
 */
__noinline int fw_resolve(__u64 name, int dfd, __u32 keep)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct filewatch_event *e = scratch_of(scratch);
	struct work *w = scratch_of(works);
	struct vfsmount *mnt, *root_mnt;
	struct dentry *d, *root;
	long n, len;
	__u32 i;

	if (!w || !e)
		return PATH_UNREADABLE;
	w->off = PATH_NAME_AT;
	w->namelen = 0;
	n = bpf_probe_read_user_str(w->buf + PATH_NAME_AT, PATH_USER_NAME_MAX, (const char *)name);
	if (n <= 0)
		return PATH_UNREADABLE;
	len = (n - 1) & (PATH_USER_NAME_MAX - 1);
	if (keep) {
		e->name_len = len;
		bpf_probe_read_kernel(e->paths + 2 * FILEWATCH_PATH_BUF, len & (FILEWATCH_NAME_BUF - 1),
				      w->buf + PATH_NAME_AT);
	}
	n = fw_normalize(len);
	if (n == -1) {
		/* Too deep to fold: as given. */
		n = bpf_probe_read_user_str(w->buf + PATH_NAME_AT, PATH_USER_NAME_MAX,
					    (const char *)name);
		if (n <= 0)
			return PATH_UNREADABLE;
		n--;
	}
	if (n < 0) {
		n = len;
		w->ups = 0;
	}
	len = n;
	w->namelen = len & (PATH_USER_NAME_MAX - 1);
	task_root(task, &root, &root_mnt);
	if (w->buf[PATH_NAME_AT] == '/') {
		/* Absolute: where the chroot is, unless it is the top of the tree. */
		if (root == BPF_CORE_READ(root_mnt, mnt_root)) {
			struct mount *m = (struct mount *)((char *)root_mnt -
							   bpf_core_field_offset(struct mount, mnt));
			struct mount *up = BPF_CORE_READ(m, mnt_parent);

			if (!up || up == m)
				return PATH_WALK_DONE;
		}
		return prepend_path(w->buf, &w->off, root, root_mnt, NULL, NULL);
	}
	if (dfd == AT_FDCWD) {
		d = BPF_CORE_READ(task, fs, pwd.dentry);
		mnt = BPF_CORE_READ(task, fs, pwd.mnt);
	} else {
		struct file *f = task_fd_file(task, dfd);

		if (!f)
			return PATH_BAD_DFD;
		d = BPF_CORE_READ(f, f_path.dentry);
		mnt = BPF_CORE_READ(f, f_path.mnt);
	}
	/* Leading "..": up from the directory, never above the caller's root. */
	for (i = 0; i < FILEWATCH_NORM_DEPTH; i++) {
		if (i >= w->ups || (d == root && mnt == root_mnt))
			break;
		if (!dentry_up(&d, &mnt))
			break;
	}
	if (w->namelen) {
		w->buf[PATH_NAME_AT - 1] = '/';
		w->off = PATH_NAME_AT - 1;
	}
	return prepend_path(w->buf, &w->off, d, mnt, NULL, NULL);
}

/* The path fw_resolve() made, matched by name. */
static __always_inline long match_path(struct work *w)
{
	__u64 start = w->off;

	if (start > PATH_NAME_AT)
		start = PATH_NAME_AT;
	return fw_match(start, PATH_NAME_AT - start + w->namelen, 0,
			MATCH_ABSOLUTE | (FILEWATCH_EXACT << 8));
}

/*
 * fw_resolve() with what went wrong marked in the event: `cut_flag` for a walk cut short,
 * FILEWATCH_P_BAD_DFD for a descriptor that is no directory. Returns fw_resolve()'s rc.
 */
static __always_inline int resolve_marked(struct filewatch_event *e, __u64 name, int dfd,
					  __u32 keep, __u16 cut_flag)
{
	int rc = fw_resolve(name, dfd, keep);

	if (rc == PATH_WALK_CUT)
		e->path_flags |= cut_flag;
	else if (rc == PATH_BAD_DFD)
		e->path_flags |= FILEWATCH_P_BAD_DFD;
	return rc;
}

/* Resolves `name` into slot `off` of the event (path or other): the rc of fw_resolve. */
static __always_inline int resolve_into(struct work *w, struct filewatch_event *e, __u64 off,
					__u64 name, int dfd, __u16 cut_flag)
{
	int rc = resolve_marked(e, name, dfd, 0, cut_flag);

	if (rc == PATH_UNREADABLE)
		return rc;
	copy_resolved(e->paths + (off & FILEWATCH_PATH_BUF), w->buf, &w->off, w->namelen);
	return rc;
}

/* ----- records ---------------------------------------------------------------------------- */

static __always_inline struct filewatch_event *begin(__u16 op, __u16 syscall, __u16 compat,
						     __u64 flags)
{
	struct filewatch_event *e = scratch_of(scratch);

	if (!e)
		return NULL;
	e->op = op;
	e->syscall = syscall;
	e->compat = compat;
	e->flags = flags;
	e->path_flags = 0;
	e->path_len = 0;
	e->other_len = 0;
	e->name_len = 0;
	e->base = 0;
	e->other_base = 0;
	return e;
}

/*
 * Sends the event scratch as a match of entry `watch_id` with result `ret`. Failed calls are
 * counted per (uid, entry, operation, error): the first of each kind between two of the
 * agent's reports is sent on the failures ring, the rest only counted.
 */
__noinline int fw_send(long watch_id, long ret)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct filewatch_event *e = scratch_of(scratch);
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct filewatch_fail_key k = {};
	struct filewatch_fail *f, init = {};
	struct filewatch_event *packed;
	__u32 len, other, name;
	void *m;

	if (!e)
		return 0;
	e->time_ns = bpf_ktime_get_boot_ns();
	e->pid = pid_tgid >> 32;
	e->tid = (__u32)pid_tgid;
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->uid = (__u32)bpf_get_current_uid_gid();
	e->ret = ret;
	e->watch_id = watch_id;
	bpf_get_current_comm(e->comm, sizeof(e->comm));

	/* Only the bytes used, packed: path, other, name, one after the other (the agent reads
	 * them by their lengths). */
	len = e->path_len & (FILEWATCH_PATH_BUF - 1);
	other = e->other_len & (FILEWATCH_PATH_BUF - 1);
	name = e->name_len & (FILEWATCH_NAME_BUF - 1);
	if (other || name) {
		packed = scratch_of(packs);
		if (!packed)
			return 0;
		__builtin_memcpy(packed, e, offsetof(struct filewatch_event, paths));
		bpf_probe_read_kernel(packed->paths, len, e->paths);
		bpf_probe_read_kernel(packed->paths + len, other, e->paths + FILEWATCH_PATH_BUF);
		bpf_probe_read_kernel(packed->paths + ((len + other) & (2 * FILEWATCH_PATH_BUF - 1)),
				      name, e->paths + 2 * FILEWATCH_PATH_BUF);
		len += other + name;
		e = packed;
	}

	if (ret >= 0) {
		emit_event_upto(e, struct filewatch_event, paths, len);
		return 0;
	}
	k.uid = e->uid;
	k.watch_id = watch_id;
	k.op = e->op;
	k.ret = ret;
	m = drained_map(fails);
	if (!m) {
		count_lost_event(&lost_events);
		return 0;
	}
	f = bpf_map_lookup_elem(m, &k);
	if (f) {
		/* Not the first of its kind in this interval: counted only. */
		__sync_fetch_and_add(&f->count, 1);
		f->last_ns = e->time_ns;
		f->pid = e->pid;
		f->syscall = e->syscall;
		__builtin_memcpy(f->comm, e->comm, sizeof(f->comm));
		return 0;
	}
	init.count = 1;
	init.first_ns = e->time_ns;
	init.last_ns = e->time_ns;
	init.pid = e->pid;
	init.syscall = e->syscall;
	__builtin_memcpy(init.comm, e->comm, sizeof(init.comm));
	e->path_flags |= FILEWATCH_P_AGGREGATE;
	if (!emit_upto_to(failures, e, struct filewatch_event, paths, len))
		init.sent = 1;
	if (bpf_map_update_elem(m, &k, &init, BPF_NOEXIST)) {
		/* Another CPU was first (count there), or the table is full (count as lost). */
		f = bpf_map_lookup_elem(m, &k);
		if (f) {
			__sync_fetch_and_add(&f->count, 1);
			if (init.sent)
				__sync_fetch_and_add(&f->sent, 1);
		} else if (!init.sent) {
			count_lost_event(&lost_events);
		}
	}
	return 0;
}

/* ----- opens ------------------------------------------------------------------------------ */

/* The agent's own open of one of its objects: what it is, in slot fd. */
static __always_inline void learn(struct task_struct *task, long fd)
{
	struct file *f = task_fd_file(task, fd);
	struct filewatch_learned l = {};
	__u32 slot = fd;
	struct dentry *d;

	if (!f || fd >= FILEWATCH_LEARN_SLOTS)
		return;
	d = BPF_CORE_READ(f, f_path.dentry);
	l.inode = (__u64)BPF_CORE_READ(f, f_inode);
	l.dentry = (__u64)d;
	l.parent = (__u64)BPF_CORE_READ(d, d_parent);
	l.hash_len = BPF_CORE_READ(d, d_name.hash_len);
	l.sb = (__u64)BPF_CORE_READ(d, d_sb);
	l.ino = BPF_CORE_READ(f, f_inode, i_ino);
	l.fd = fd;
	l.is_dir = (BPF_CORE_READ(f, f_inode, i_mode) & S_IFMT) == S_IFDIR;
	bpf_map_update_elem(&learned, &slot, &l, BPF_ANY);
}

/* An open-like call (w->call) that returned: by the file it opened, else (failed) by name. */
__noinline int fw_open(void)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct work *w = scratch_of(works);
	struct filewatch_event *e;
	struct call c;
	long id;
	int rc;

	if (!w)
		return 0;
	c = w->call;
	if (is_self()) {
		if (c.ret >= 0)
			learn(task, c.ret);
		return 0;
	}
	e = begin(FILEWATCH_OP_OPEN, c.syscall, c.compat, c.flags);
	if (!e)
		return 0;
	if (c.ret >= 0) {
		struct file *f = task_fd_file(task, c.ret);

		if (!f)
			return 0;
		if (!fw_identity((__u64)BPF_CORE_READ(f, f_path.dentry),
				 (__u64)BPF_CORE_READ(f, f_path.mnt)) &&
		    !(w->hit.flags & FILEWATCH_P_UNDECIDED))
			return 0;
		e->path_flags |= FILEWATCH_P_FILE | w->hit.flags;
		e->base = w->hit.base;
		e->path_len = copy_tail(w, e->paths);
		/* The name it was opened by, as given (none for open_by_handle_at). */
		if (c.name) {
			long n = bpf_probe_read_user_str(e->paths + 2 * FILEWATCH_PATH_BUF,
							 FILEWATCH_NAME_BUF, (const char *)c.name);
			e->name_len = n > 0 ? n - 1 : 0;
		}
		return fw_send(w->hit.watch_id, c.ret);
	}
	if (!c.name)
		return 0;
	rc = resolve_marked(e, c.name, c.dfd, 1, FILEWATCH_P_CUT);
	if (rc == PATH_UNREADABLE)
		return 0;
	id = match_path(w);
	if (id < 0)
		return 0;
	e->path_len = copy_resolved(e->paths, w->buf, &w->off, w->namelen);
	return fw_send(id, c.ret);
}

/* ----- unlinks and renames ---------------------------------------------------------------- */

/*
 * Without kprobes: after an unlink or rename that succeeded, has a pinned watched file gone
 * (its dentry unhashed: deleted, or replaced by a rename onto it) or moved (another parent or
 * name)? The first call to see it reports it: `op` the call's (0: an io_uring request, whose
 * names are not known). Returns 1 if it sent something.
 */
__noinline int fw_pins(__u32 syscall, __u32 compat, __u32 op)
{
	struct work *w = scratch_of(works);
	struct filewatch_pins *all;
	struct filewatch_event *e;
	__u32 i, zero = 0;
	int sent = 0;

	all = bpf_map_lookup_elem(&pins, &zero);
	if (!all || !w)
		return 0;
	for (i = 0; i < FILEWATCH_MAX_PINS; i++) {
		struct filewatch_pin *p = &all->pin[i];
		struct dentry *d = (struct dentry *)p->dentry;
		__u32 index = i;
		bool gone, moved;
		__u16 eop;

		if (!d)
			break;
		gone = !BPF_CORE_READ(d, d_hash.pprev);
		moved = (__u64)BPF_CORE_READ(d, d_parent) != p->parent ||
			BPF_CORE_READ(d, d_name.hash_len) != p->hash_len;
		if (!gone && !moved)
			continue;
		/* Claimed once (an insert that fails for every later one; 5.10 has no atomic
		 * exchange): by this call, or already by another. */
		if (bpf_map_update_elem(&claims, &p->dentry, &index, BPF_NOEXIST))
			continue;
		eop = op ? op : gone ? FILEWATCH_OP_UNLINK : FILEWATCH_OP_RENAME;
		if (eop == FILEWATCH_OP_UNLINK && (BPF_CORE_READ(d, d_inode, i_mode) & S_IFMT) == S_IFDIR)
			eop = FILEWATCH_OP_RMDIR;
		e = begin(eop, syscall, compat, op ? w->call.flags : 0);
		if (!e)
			return sent;
		e->path_flags = FILEWATCH_P_FILE;
		e->base = p->index;
		if (op == FILEWATCH_OP_RENAME) {
			/* Moved: the new name is the other one; gone: another file took its name,
			 * and the old name of that one is the other. */
			if (gone)
				e->path_flags |= FILEWATCH_P_NEW | FILEWATCH_P_REPLACED;
			if (resolve_into(w, e, FILEWATCH_PATH_BUF, gone ? w->call.name : w->call.name2,
					 gone ? w->call.dfd : w->call.dfd2,
					 FILEWATCH_P_OTHER_CUT) != PATH_UNREADABLE)
				e->other_len = PATH_NAME_AT - w->off + w->namelen;
		}
		fw_send(p->watch_id, 0);
		sent = 1;
	}
	return sent;
}

/*
 * An unlink, rmdir or rename (w->call) that returned: what a dentry hook found for it
 * (kprobes), the pinned files (no kprobes), or by name.
 */
__noinline int fw_remove(void)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct work *w = scratch_of(works);
	struct filewatch_event *e;
	struct pending *pd;
	struct call c;
	long id;
	int rc;

	if (!w || is_self())
		return 0;
	c = w->call;
	pd = bpf_map_lookup_elem(&pendings, &tid);
	if (pd) {
		/* A watched dentry was removed or moved by this call: report it, with the other
		 * name of a rename as given. */
		__u32 len = pd->path_len & PATH_NAME_MAX;
		__u16 op = pd->op, flags = pd->path_flags;

		e = begin(op, c.syscall, c.compat, c.flags);
		if (!e)
			return 0;
		e->path_flags = flags | FILEWATCH_P_FILE;
		e->base = pd->base;
		e->path_len = len;
		bpf_probe_read_kernel(e->paths, len, pd->path);
		id = pd->watch_id;
		bpf_map_delete_elem(&pendings, &tid);
		if (op == FILEWATCH_OP_RENAME && c.name2 &&
		    resolve_into(w, e, FILEWATCH_PATH_BUF,
				 (flags & FILEWATCH_P_NEW) ? c.name : c.name2,
				 (flags & FILEWATCH_P_NEW) ? c.dfd : c.dfd2,
				 FILEWATCH_P_OTHER_CUT) != PATH_UNREADABLE)
			e->other_len = PATH_NAME_AT - w->off + w->namelen;
		return fw_send(id, c.ret);
	}
	if (c.ret == 0 && !config.vfs_probes && fw_pins(c.syscall, c.compat, c.op))
		return 0;
	if (!c.name)
		return 0;

	e = begin(c.op, c.syscall, c.compat, c.flags);
	if (!e)
		return 0;
	rc = resolve_marked(e, c.name, c.dfd, 0, FILEWATCH_P_CUT);
	if (rc == PATH_UNREADABLE)
		return 0;
	id = match_path(w);
	if (id >= 0) {
		e->path_len = copy_resolved(e->paths, w->buf, &w->off, w->namelen);
		if (c.op == FILEWATCH_OP_RENAME &&
		    resolve_into(w, e, FILEWATCH_PATH_BUF, c.name2, c.dfd2, FILEWATCH_P_OTHER_CUT) !=
			    PATH_UNREADABLE)
			e->other_len = PATH_NAME_AT - w->off + w->namelen;
		return fw_send(id, c.ret);
	}
	if (c.op != FILEWATCH_OP_RENAME)
		return 0;
	/* The old name did not match: it is the other path if the new one does. */
	e->path_flags = rc == PATH_WALK_CUT ? FILEWATCH_P_OTHER_CUT : 0;
	e->other_len = copy_resolved(e->paths + FILEWATCH_PATH_BUF, w->buf, &w->off, w->namelen);
	rc = fw_resolve(c.name2, c.dfd2, 0);
	if (rc == PATH_UNREADABLE)
		return 0;
	if (rc == PATH_WALK_CUT)
		e->path_flags |= FILEWATCH_P_CUT;
	id = match_path(w);
	if (id < 0)
		return 0;
	e->path_len = copy_resolved(e->paths, w->buf, &w->off, w->namelen);
	e->path_flags |= FILEWATCH_P_NEW;
	return fw_send(id, c.ret);
}

/*
 * A dentry the kernel is about to delete or move (kprobes): watched? The finding waits for the
 * syscall's exit (its result and names); an io_uring worker has none, so it is sent now.
 * Returns 1 if watched.
 */
__noinline int fw_dentry(__u64 dentry, __u32 op, __u32 flags)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct work *w = scratch_of(works);
	struct dentry *d = (struct dentry *)dentry;
	struct filewatch_event *e;
	__u64 start, len;

	if (!w || !d || is_self() || !fw_identity(dentry, 0))
		return 0;
	if (op == FILEWATCH_OP_UNLINK && (BPF_CORE_READ(d, d_inode, i_mode) & S_IFMT) == S_IFDIR)
		op = FILEWATCH_OP_RMDIR;
	if (BPF_CORE_READ(task, flags) & PF_IO_WORKER) {
		e = begin(op, FILEWATCH_SYS_IO_URING, 0, 0);
		if (!e)
			return 1;
		e->path_flags = FILEWATCH_P_FILE | flags;
		e->base = w->hit.base;
		e->path_len = copy_tail(w, e->paths);
		fw_send(w->hit.watch_id, 0);
		return 1;
	}
	w->pend.watch_id = w->hit.watch_id;
	w->pend.base = w->hit.base;
	w->pend.op = op;
	w->pend.path_flags = flags;
	if (w->hit.level)
		fw_tail(w->hit.level);
	else
		w->off = PATH_NAME_AT;
	start = w->off;
	if (start > PATH_NAME_AT)
		start = PATH_NAME_AT;
	len = PATH_NAME_AT - start;
	if (len > PATH_NAME_MAX) {
		len = PATH_NAME_MAX;
		w->pend.path_flags |= FILEWATCH_P_CUT;
	}
	w->pend.path_len = len;
	bpf_probe_read_kernel(w->pend.path, len & PATH_NAME_MAX, w->buf + start);
	bpf_map_update_elem(&pendings, &tid, &w->pend, BPF_ANY);
	return 1;
}

SEC("kprobe/d_delete")
int BPF_KPROBE(kp_d_delete, struct dentry *dentry)
{
	return fw_dentry((__u64)dentry, FILEWATCH_OP_UNLINK, 0);
}

SEC("kprobe/d_move")
int BPF_KPROBE(kp_d_move, struct dentry *dentry, struct dentry *target)
{
	/* The moved file, or the file its new name replaces. */
	if (fw_dentry((__u64)dentry, FILEWATCH_OP_RENAME, 0))
		return 0;
	if (BPF_CORE_READ(target, d_inode))
		fw_dentry((__u64)target, FILEWATCH_OP_RENAME, FILEWATCH_P_NEW | FILEWATCH_P_REPLACED);
	return 0;
}

SEC("kprobe/d_exchange")
int BPF_KPROBE(kp_d_exchange, struct dentry *a, struct dentry *b)
{
	if (!fw_dentry((__u64)a, FILEWATCH_OP_RENAME, 0))
		fw_dentry((__u64)b, FILEWATCH_OP_RENAME, FILEWATCH_P_NEW);
	return 0;
}

/* ----- io_uring ----------------------------------------------------------------------------- */

/* A completed io_uring request (6.0+, where the record names it): opens by the file they
 * installed, and removals and renames that succeeded through the pinned files. */
SEC("tracepoint/io_uring/io_uring_complete")
int tp_uring_complete(struct trace_event_raw_io_uring_complete___fw *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct work *w = scratch_of(works);
	struct io_kiocb___fw *req;
	struct filewatch_event *e;
	struct file *f;
	__u8 opcode;
	int res;

	if (!bpf_core_field_exists(ctx->req) || !w)
		return 0;
	req = BPF_CORE_READ(ctx, req);
	res = BPF_CORE_READ(ctx, res);
	opcode = BPF_CORE_READ(req, opcode);
	if ((opcode == IORING_OP_UNLINKAT || opcode == IORING_OP_RENAMEAT) && res == 0) {
		if (!config.vfs_probes)
			fw_pins(FILEWATCH_SYS_IO_URING, 0, 0);
		return 0;
	}
	if ((opcode != IORING_OP_OPENAT && opcode != IORING_OP_OPENAT2) || res < 0 || is_self())
		return 0;
	/* A direct descriptor (a fixed file slot) is no descriptor of the task's. */
	if (bpf_core_type_exists(struct io_open___fw) &&
	    BPF_CORE_READ((struct io_open___fw *)req, file_slot))
		return 0;
	f = task_fd_file(task, res);
	if (!f)
		return 0;
	if (!fw_identity((__u64)BPF_CORE_READ(f, f_path.dentry), (__u64)BPF_CORE_READ(f, f_path.mnt)) &&
	    !(w->hit.flags & FILEWATCH_P_UNDECIDED))
		return 0;
	e = begin(FILEWATCH_OP_OPEN, FILEWATCH_SYS_IO_URING, 0, 0);
	if (!e)
		return 0;
	if (bpf_core_type_exists(struct io_open___fw))
		e->flags = BPF_CORE_READ((struct io_open___fw *)req, how.flags);
	e->path_flags |= FILEWATCH_P_FILE | w->hit.flags;
	e->base = w->hit.base;
	e->path_len = copy_tail(w, e->paths);
	return fw_send(w->hit.watch_id, res);
}

/* ----- syscalls ----------------------------------------------------------------------------- */

/* Notes the call for fw_open()/fw_remove(). */
static __always_inline struct work *note_call(__u16 op, __u16 syscall, __u16 compat, int dfd,
					      __u64 name, int dfd2, __u64 name2, __u64 flags,
					      long ret)
{
	struct work *w = scratch_of(works);

	if (!w)
		return NULL;
	w->call.op = op;
	w->call.syscall = syscall;
	w->call.compat = compat;
	w->call.dfd = dfd;
	w->call.name = name;
	w->call.dfd2 = dfd2;
	w->call.name2 = name2;
	w->call.flags = flags;
	w->call.ret = ret;
	return w;
}

#ifdef SYSCALLS_RAW
/* A traced call's id, ABI and first five arguments. */
struct fw_call {
	__u64 a[5];
	__u8 id;
	bool compat;
};

/*
 * Reads the call ending at raw_exit into *c; 0 when filewatch does not trace it. A frame of
 * its own, gone before the matching starts: x86_64's register block would otherwise sit under
 * the deepest call chain, past the 512 bytes of stack the 6.1 verifier allows all frames.
 */
static __noinline int fw_read_call(struct pt_regs *regs, struct fw_call *c)
{
	struct syscall_regs s;
	int i;

	if (syscall_regs_read(regs, &s))
		return 0;
	c->id = syscall_regs_id(&config.sys, regs, &s);
	if (!c->id)
		return 0;
	c->compat = s.compat;
	for (i = 0; i < 5; i++)
		c->a[i] = syscall_regs_arg(&s, i);
	return c->id;
}

SEC("raw_tp/sys_exit")
int raw_exit(__u64 *ctx)
{
	struct pt_regs *regs = RAW_SYSCALL_REGS(ctx);
	struct fw_call c = {};
	long ret = ctx[1];
	__u64 a0, a1, a2;
	bool compat;
	__u16 op;
	__u8 id;

	id = fw_read_call(regs, &c);
	if (!id)
		return 0;
	compat = c.compat;
	a0 = c.a[0];
	a1 = c.a[1];
	a2 = c.a[2];
	switch (id) {
	case FILEWATCH_SYS_OPEN:
		if (!note_call(FILEWATCH_OP_OPEN, id, compat, AT_FDCWD, a0, 0, 0, a1, ret))
			return 0;
		return fw_open();
	case FILEWATCH_SYS_CREAT:
		if (!note_call(FILEWATCH_OP_OPEN, id, compat, AT_FDCWD, a0, 0, 0,
			       O_CREAT | O_WRONLY | O_TRUNC, ret))
			return 0;
		return fw_open();
	case FILEWATCH_SYS_OPENAT:
		if (!note_call(FILEWATCH_OP_OPEN, id, compat, (int)a0, a1, 0, 0, a2, ret))
			return 0;
		return fw_open();
	case FILEWATCH_SYS_OPENAT2: {
		struct open_how how = {};

		bpf_probe_read_user(&how, sizeof(how), (void *)a2);
		if (!note_call(FILEWATCH_OP_OPEN, id, compat, (int)a0, a1, 0, 0, how.flags, ret))
			return 0;
		return fw_open();
	}
	case FILEWATCH_SYS_OPEN_BY_HANDLE_AT:
		if (!note_call(FILEWATCH_OP_OPEN, id, compat, (int)a0, 0, 0, 0, a2, ret))
			return 0;
		return fw_open();
	case FILEWATCH_SYS_UNLINK:
	case FILEWATCH_SYS_RMDIR:
		op = id == FILEWATCH_SYS_RMDIR ? FILEWATCH_OP_RMDIR : FILEWATCH_OP_UNLINK;
		if (!note_call(op, id, compat, AT_FDCWD, a0, 0, 0, 0, ret))
			return 0;
		return fw_remove();
	case FILEWATCH_SYS_UNLINKAT:
		op = a2 & AT_REMOVEDIR ? FILEWATCH_OP_RMDIR : FILEWATCH_OP_UNLINK;
		if (!note_call(op, id, compat, (int)a0, a1, 0, 0, a2, ret))
			return 0;
		return fw_remove();
	case FILEWATCH_SYS_RENAME:
		if (!note_call(FILEWATCH_OP_RENAME, id, compat, AT_FDCWD, a0, AT_FDCWD, a1, 0, ret))
			return 0;
		return fw_remove();
	case FILEWATCH_SYS_RENAMEAT:
	case FILEWATCH_SYS_RENAMEAT2:
		if (!note_call(FILEWATCH_OP_RENAME, id, compat, (int)a0, a1, (int)a2, c.a[3],
			       id == FILEWATCH_SYS_RENAMEAT2 ? c.a[4] : 0, ret))
			return 0;
		return fw_remove();
	case FILEWATCH_SYS_IO_URING_ENTER: {
		/* A removal an io_uring request made inline, seen by a dentry hook. */
		__u32 tid = (__u32)bpf_get_current_pid_tgid();

		if (!bpf_map_lookup_elem(&pendings, &tid))
			return 0;
		if (!note_call(FILEWATCH_OP_UNLINK, FILEWATCH_SYS_IO_URING, compat, AT_FDCWD, 0,
			       AT_FDCWD, 0, 0, 0))
			return 0;
		return fw_remove();
	}
	}
	return 0;
}
#else
/* The arguments of a call in flight, by thread id (syscall tracepoints). */
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

static __always_inline int on_enter(__u16 op, __u16 syscall, int dfd, const char *name, int dfd2,
				    const char *name2, __u64 flags)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct start s = {
		.name = (__u64)name,
		.name2 = (__u64)name2,
		.flags = flags,
		.dfd = dfd,
		.dfd2 = dfd2,
		.op = op,
		.syscall = syscall,
	};

	bpf_map_update_elem(&starts, &tid, &s, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_open")
int tp_enter_open(struct trace_event_raw_sys_enter *ctx)
{
	return on_enter(FILEWATCH_OP_OPEN, FILEWATCH_SYS_OPEN, AT_FDCWD, (const char *)ctx->args[0],
			0, NULL, ctx->args[1]);
}

SEC("tracepoint/syscalls/sys_enter_creat")
int tp_enter_creat(struct trace_event_raw_sys_enter *ctx)
{
	return on_enter(FILEWATCH_OP_OPEN, FILEWATCH_SYS_CREAT, AT_FDCWD, (const char *)ctx->args[0],
			0, NULL, O_CREAT | O_WRONLY | O_TRUNC);
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

SEC("tracepoint/syscalls/sys_enter_open_by_handle_at")
int tp_enter_open_by_handle_at(struct trace_event_raw_sys_enter *ctx)
{
	return on_enter(FILEWATCH_OP_OPEN, FILEWATCH_SYS_OPEN_BY_HANDLE_AT, (int)ctx->args[0], NULL,
			0, NULL, ctx->args[2]);
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
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct start s;

	if (!take_inflight(starts, &tid, &s))
		return 0;
	if (!note_call(s.op, s.syscall, 0, s.dfd, s.name, s.dfd2, s.name2, s.flags, ctx->ret))
		return 0;
	if (s.op == FILEWATCH_OP_OPEN)
		return fw_open();
	return fw_remove();
}
#endif
