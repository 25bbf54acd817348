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
	BPF_MAP_TYPE_STACK_TRACE = 7,
	BPF_MAP_TYPE_LRU_HASH = 9,
	BPF_MAP_TYPE_ARRAY_OF_MAPS = 12,
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
 * 32-bit kernels (ARMv7). BPF is a 64-bit machine on every kernel: its `long` and its pointers
 * have 8 bytes, a 32-bit kernel's have 4. CO-RE relocates every field's offset, and resizes
 * direct loads of unsigned fields and pointers (zero-extended), but never of signed ones (the
 * verifier then rejects the program), and BPF_CORE_READ's probe reads copy as many bytes as
 * the BPF side's type has. So, on a 32-bit kernel:
 *  - kernel fields of type `long` are declared `kernel_long`, which has the kernel's width;
 *  - BPF_CORE_READ reads the field's size in the running kernel (a CO-RE relocation) into a
 *    zeroed value, and sign-extends a signed field of 4 bytes read into 8;
 *  - arrays of pointers (kernel or user) are stepped through with read_kernel_ptr() and
 *    read_user_ptr(), which read KERNEL_PTR_SIZE bytes (user pointers: the traced process's,
 *    which syscall tracepoints only show for processes of the kernel's own width).
 * On 64-bit kernels all of this is what libbpf does anyway.
 */
#if defined(__TARGET_ARCH_arm)
#define KERNEL_PTR_SIZE 4
typedef int kernel_long;
typedef unsigned int kernel_ulong;

/* Is this field an 8-byte signed integer on the BPF side (so maybe wider than the kernel's)? */
#define ___field_signed64(fld)                                                            \
	_Generic((fld), long: __builtin_preserve_field_info(fld, BPF_FIELD_SIGNED),         \
		 long long: __builtin_preserve_field_info(fld, BPF_FIELD_SIGNED), default: 0)
#undef ___read
#define ___read(read_fn, dst, src_type, src, accessor)                                      \
	({                                                                                   \
		unsigned long long __sz = __builtin_preserve_field_info(                    \
			((src_type)(src))->accessor, BPF_FIELD_BYTE_SIZE);                   \
		long __rc;                                                                   \
		__builtin_memset((void *)(dst), 0, sizeof(*(dst)));                          \
		if (__sz > sizeof(*(dst)))                                                   \
			__sz = sizeof(*(dst));                                               \
		__rc = read_fn((void *)(dst), __sz, &((src_type)(src))->accessor);          \
		if (sizeof(*(dst)) == 8 && __sz == 4 &&                                      \
		    ___field_signed64(((src_type)(src))->accessor))                          \
			*(__s64 *)(void *)(dst) = *(__s32 *)(void *)(dst);                   \
		__rc;                                                                        \
	})
#else
#define KERNEL_PTR_SIZE 8
typedef long kernel_long;
typedef unsigned long kernel_ulong;
#endif
/*
 * The kernel's register names, for bpf_tracing.h's kprobe argument macros: only the fields
 * read are declared, CO-RE finds them in the running kernel's struct.
 */
#if defined(__TARGET_ARCH_x86)
#define __VMLINUX_H__ /* tells bpf_tracing.h to use the kernel's names (di, ax), not uapi's */
struct pt_regs {
	unsigned long bp;
	unsigned long bx;
	unsigned long r10;
	unsigned long r9;
	unsigned long r8;
	unsigned long ax;
	unsigned long cx;
	unsigned long dx;
	unsigned long si;
	unsigned long di;
	unsigned long orig_ax;
	unsigned long ip;
} __attribute__((preserve_access_index));
#elif defined(__TARGET_ARCH_arm64)
struct user_pt_regs {
	__u64 regs[31];
	__u64 sp;
	__u64 pc;
} __attribute__((preserve_access_index));
/* The kernel's own (user_pt_regs is its first part): the saved state of a syscall. */
struct pt_regs {
	__u64 regs[31];
	__u64 pstate;
	__u64 orig_x0;
	__s32 syscallno;
} __attribute__((preserve_access_index));
#elif defined(__TARGET_ARCH_arm)
#define __VMLINUX_H__
/* The kernel's width: arguments (pointers) arrive zero-extended; declare a kretprobe's return
 * value `kernel_long` to have its sign. */
struct pt_regs {
	kernel_ulong uregs[18];
} __attribute__((preserve_access_index));
#endif
#include <bpf/bpf_tracing.h>

#include "maps.h"

/*
 * Kernel structures, only the fields some tool reads. Declaration order and types are ours;
 * libbpf finds each field by name in the running kernel's BTF. Add a field here when a tool
 * needs one (one definition per struct for all tools).
 */
struct qstr {
	const unsigned char *name;
	__u32 len;
	__u64 hash_len; /* hash and len in one word: a rename changes it */
} __attribute__((preserve_access_index));

struct hlist_bl_node {
	struct hlist_bl_node **pprev; /* NULL: the dentry is unhashed (deleted while in use) */
} __attribute__((preserve_access_index));

struct super_block {
	unsigned long s_magic;
} __attribute__((preserve_access_index));

struct dentry {
	struct hlist_bl_node d_hash;
	struct dentry *d_parent;
	struct qstr d_name;
	struct inode *d_inode;
	struct super_block *d_sb;
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
	void *private_data; /* a socket file's struct socket */
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

#define PF_IO_WORKER 0x00000010 /* an io_uring worker thread (include/linux/sched.h) */

struct task_struct {
	unsigned int __state; /* 5.14+; `long state` before (a flavor where a tool needs it) */
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
	kernel_long id;
	unsigned long args[6];
} __attribute__((preserve_access_index));

struct trace_event_raw_sys_exit {
	kernel_long id;
	kernel_long ret;
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
 * does not fit is not silently dropped: `lost_events` (maps.h) counts it, and the agent reports
 * the total.
 *
 * When to wake the agent: waking it costs an interrupt per record (an inter-processor one, very
 * costly under virtualization: most of a record's BPF run time when measured). The agent reads
 * the ring at least every 100 ms anyway, so a record forces a wake-up only when the data
 * waiting crosses a multiple of a batch: a quarter of the ring, at most 256 KiB (enough to keep
 * a 4 MiB ring that fills at 70 MB/s from overflowing between wake-ups, and small rings are
 * woken well before full). Once per batch, however far behind the reader is: a reader that
 * lags (descheduled, busy) is not also sent an interrupt with every record.
 */
#define DEFINE_EVENTS_RINGBUF(bytes)                                           \
	struct {                                                               \
		__uint(type, BPF_MAP_TYPE_RINGBUF);                            \
		__uint(max_entries, bytes);                                    \
	} events SEC(".maps");                                                 \
	DEFINE_LOST_COUNTER();                                                 \
	enum { EVENTS_WAKEUP_BYTES = (bytes) / 4 < 256 * 1024 ? (bytes) / 4 : 256 * 1024 }

/* bpf_ringbuf_output/submit flags (include/uapi/linux/bpf.h). */
#define BPF_RB_NO_WAKEUP (1ULL << 0)
#define BPF_RB_FORCE_WAKEUP (1ULL << 1)

#define BPF_RB_AVAIL_DATA 0

/* A record's header in the ring (struct bpf_ringbuf_hdr) and the 8-byte rounding of records. */
#define EVENTS_RECORD_BYTES(size) ((((__u64)(size)) + 8 + 7) & ~7ULL)

/*
 * The flags for a record of `size` bytes, given the bytes waiting before it: a forced wake-up
 * when it makes the waiting data cross a multiple of EVENTS_WAKEUP_BYTES.
 */
#define events_wakeup_crossing(before, size)                                        \
	(((before) / EVENTS_WAKEUP_BYTES) !=                                        \
			 (((before) + EVENTS_RECORD_BYTES(size)) / EVENTS_WAKEUP_BYTES) \
		 ? BPF_RB_FORCE_WAKEUP                                              \
		 : BPF_RB_NO_WAKEUP)

/* Copy `size` bytes (bounded by the verifier) of `data` into the ring, counting a failure. */
#define emit_event(data, size)                                                      \
	do {                                                                        \
		__u64 __before = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);     \
		if (bpf_ringbuf_output(&events, (data), (size),                     \
				       events_wakeup_crossing(__before, (size))))   \
			count_lost_event(&lost_events);                             \
	} while (0)

/*
 * Copy record `e` (a `type`) into the ring up to `used` bytes of its trailing buffer `field`:
 * only the bytes a variable-size record uses. The size is bounded where the verifier sees it
 * (clang may compare a copy otherwise).
 */
#define emit_event_upto(e, type, field, used)                         \
	do {                                                          \
		__u64 __size = offsetof(type, field) + (used);        \
		barrier_var(__size);                                  \
		if (__size > sizeof(*(e)))                            \
			__size = sizeof(*(e));                        \
		barrier_var(__size);                                  \
		emit_event((e), __size);                              \
	} while (0)

/*
 * A ring buffer besides `events` (a tool that keeps some records apart, so that a flood of one
 * kind cannot crowd out another): `name`, woken like `events` (once per batch crossing).
 */
#define DEFINE_RINGBUF(name, bytes)                                              \
	struct {                                                                 \
		__uint(type, BPF_MAP_TYPE_RINGBUF);                              \
		__uint(max_entries, bytes);                                      \
	} name SEC(".maps");                                                     \
	enum { name##_WAKEUP_BYTES = (bytes) / 4 < 256 * 1024 ? (bytes) / 4 : 256 * 1024 }

/* emit_event_upto into ring `ring` (DEFINE_RINGBUF): Err (-1) when it could not take it. */
#define emit_upto_to(ring, e, type, field, used)                                        \
	({                                                                              \
		__u64 __size = offsetof(type, field) + (used);                          \
		__u64 __before = bpf_ringbuf_query(&ring, BPF_RB_AVAIL_DATA);           \
		barrier_var(__size);                                                    \
		if (__size > sizeof(*(e)))                                              \
			__size = sizeof(*(e));                                          \
		barrier_var(__size);                                                    \
		bpf_ringbuf_output(&ring, (e), __size,                                  \
				   (__before / ring##_WAKEUP_BYTES) !=                  \
						   ((__before + EVENTS_RECORD_BYTES(__size)) / \
						    ring##_WAKEUP_BYTES)                \
					   ? BPF_RB_FORCE_WAKEUP                        \
					   : BPF_RB_NO_WAKEUP) ? -1 : 0;                \
	})

/* Submit a reserved record. */
#define submit_event(e)                                                                   \
	do {                                                                              \
		__u64 __waiting = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);          \
		__u64 __rec = EVENTS_RECORD_BYTES(sizeof(*(e)));                          \
		__u64 __before = __waiting > __rec ? __waiting - __rec : 0;               \
		bpf_ringbuf_submit((e), events_wakeup_crossing(__before, sizeof(*(e)))); \
	} while (0)

/* Reserve a fixed-size record, counting a failure; NULL when the ring is full. */
#define reserve_event(type)                                                  \
	({                                                                   \
		type *__e = bpf_ringbuf_reserve(&events, sizeof(type), 0);  \
		if (!__e)                                                    \
			count_lost_event(&lost_events);                      \
		__e;                                                         \
	})

/* The kernel pointer at `src` (of the kernel's width), or NULL if unreadable. */
static __always_inline void *read_kernel_ptr(const void *src)
{
	__u64 p = 0;

	if (bpf_probe_read_kernel(&p, KERNEL_PTR_SIZE, src))
		return NULL;
	return (void *)p;
}

/* The user pointer at `src` into *dst (NULL if unreadable): 0, or the read's error. */
static __always_inline long read_user_ptr(const void **dst, const void *src)
{
	__u64 p = 0;
	long rc = bpf_probe_read_user(&p, KERNEL_PTR_SIZE, src);

	*dst = (const void *)p;
	return rc;
}

/* The open file behind descriptor `fd` of `task`, or NULL. */
static __always_inline struct file *task_fd_file(struct task_struct *task, int fd)
{
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds;

	if (!fdt || fd < 0 || (unsigned int)fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	return read_kernel_ptr((const char *)fds + (__u64)fd * KERNEL_PTR_SIZE);
}

#endif
