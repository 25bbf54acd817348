// SPDX-License-Identifier: (MIT OR GPL-2.0)
/*
 * filetop: reads and writes (calls and bytes) per file and thread, summed in the kernel.
 *
 * Two ways in, the agent picks one: kprobes on vfs_read/vfs_write (entry and return), or, on
 * kernels without kprobes, the syscall tracepoints of read, write and their p/v variants, whose
 * file descriptor is resolved to the open file in the kernel. Both stash the file at entry and
 * count at return, with the byte count the call really moved, so both report the same numbers.
 * The work is done in BPF subprograms (__noinline), so the 24 programs share one copy of it:
 * the object is 26 KB instead of 94 (stripped, either architecture).
 */
#include "common.h"
#include "filetop.h"


char LICENSE[] SEC("license") = "Dual MIT/GPL";

const volatile struct filetop_config config = {
	.regular_only = 1,
};

#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define S_IFREG 0100000

struct pending {
	struct file *file;
	__u32 op;
	__u32 pad;
};

/* Calls under way, by thread: what the return counts. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FILETOP_MAX_ENTRIES);
	__type(key, __u32);
	__type(value, struct pending);
} pending SEC(".maps");

DEFINE_DRAINED_HASH(entries, struct filetop_key, struct filetop_value, FILETOP_MAX_ENTRIES);

/* A new row is built here: too large for the BPF stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct filetop_value);
} scratch SEC(".maps");

/* Calls that could not be counted (a full map): see maps.h. */
DEFINE_LOST_COUNTER();

static __noinline void on_entry(struct file *file, __u32 op)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	struct pending p = { .file = file, .op = op };
	unsigned short mode;

	if (config.filter_pid && (__u32)(pid_tgid >> 32) != config.target_pid)
		return;
	if (!file)
		return;
	mode = BPF_CORE_READ(file, f_inode, i_mode);
	if (config.regular_only && (mode & S_IFMT) != S_IFREG)
		return;
	if (bpf_map_update_elem(&pending, &tid, &p, BPF_ANY))
		count_lost_event(&lost_events);
}

static __always_inline struct filetop_value *new_row(void *rows, struct filetop_key *key,
						     struct file *file)
{
	struct filetop_value *v;
	struct inode *inode;
	unsigned short mode;
	__u32 zero = 0;

	v = bpf_map_lookup_elem(&scratch, &zero);
	if (!v)
		return NULL;
	inode = BPF_CORE_READ(file, f_inode);
	mode = BPF_CORE_READ(inode, i_mode) & S_IFMT;
	v->reads = 0;
	v->writes = 0;
	v->read_bytes = 0;
	v->write_bytes = 0;
	v->ino = BPF_CORE_READ(inode, i_ino);
	v->kind = mode == S_IFREG ? FILETOP_REGULAR : mode == S_IFSOCK ? FILETOP_SOCKET : FILETOP_OTHER;
	v->pad = 0;
	bpf_get_current_comm(v->comm, sizeof(v->comm));
	if (bpf_probe_read_kernel_str(v->name, sizeof(v->name),
				      BPF_CORE_READ(file, f_path.dentry, d_name.name)) < 0)
		v->name[0] = 0;
	/* Fails when another CPU added the row first (fine) or when the map is full. */
	bpf_map_update_elem(rows, key, v, BPF_NOEXIST);
	return bpf_map_lookup_elem(rows, key);
}

static __noinline void on_return(long ret)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	struct filetop_key key = {};
	struct filetop_value *v;
	struct pending *p;
	void *m;
	struct file *file;
	__u32 op;

	p = bpf_map_lookup_elem(&pending, &tid);
	if (!p)
		return;
	file = p->file;
	op = p->op;
	bpf_map_delete_elem(&pending, &tid);
	if (ret < 0)
		return;

	key.inode = (__u64)BPF_CORE_READ(file, f_inode);
	key.pid = pid_tgid >> 32;
	key.tid = tid;
	m = drained_map(entries);
	if (!m)
		return;
	v = bpf_map_lookup_elem(m, &key);
	if (!v)
		v = new_row(m, &key, file);
	if (!v) {
		count_lost_event(&lost_events);
		return;
	}
	if (op == FILETOP_READ) {
		__sync_fetch_and_add(&v->reads, 1);
		__sync_fetch_and_add(&v->read_bytes, ret);
	} else {
		__sync_fetch_and_add(&v->writes, 1);
		__sync_fetch_and_add(&v->write_bytes, ret);
	}
}

/* Path 1: kprobes on the VFS, every read and write whatever the syscall. */

#define VFS_PROBES(fn, op)                                                            \
	SEC("kprobe/" #fn)                                                            \
	int BPF_KPROBE(kp_##fn, struct file *file)                                    \
	{                                                                             \
		on_entry(file, op);                                                   \
		return 0;                                                             \
	}                                                                             \
	SEC("kretprobe/" #fn)                                                         \
	int BPF_KRETPROBE(krp_##fn, kernel_long ret)                                  \
	{                                                                             \
		on_return(ret);                                                       \
		return 0;                                                             \
	}

VFS_PROBES(vfs_read, FILETOP_READ)
VFS_PROBES(vfs_write, FILETOP_WRITE)

/* One copy of the fd lookup, shared by the ten enter programs below. */
static __noinline void on_fd_entry(int fd, __u32 op)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();

	on_entry(task_fd_file(task, fd), op);
}

/*
 * Path 2: syscall tracepoints. Every syscall here takes the file descriptor as its first
 * argument; the programs follow core's convention tp_enter_<name>/tp_exit_<name>.
 */
#define FD_SYSCALL(name, op)                                                          \
	SEC("tracepoint/syscalls/sys_enter_" #name)                                   \
	int tp_enter_##name(struct trace_event_raw_sys_enter *ctx)                    \
	{                                                                             \
		on_fd_entry((int)ctx->args[0], op);                                   \
		return 0;                                                             \
	}                                                                             \
	SEC("tracepoint/syscalls/sys_exit_" #name)                                    \
	int tp_exit_##name(struct trace_event_raw_sys_exit *ctx)                      \
	{                                                                             \
		on_return(ctx->ret);                                                  \
		return 0;                                                             \
	}

FD_SYSCALL(read, FILETOP_READ)
FD_SYSCALL(pread64, FILETOP_READ)
FD_SYSCALL(readv, FILETOP_READ)
FD_SYSCALL(preadv, FILETOP_READ)
FD_SYSCALL(preadv2, FILETOP_READ)
FD_SYSCALL(write, FILETOP_WRITE)
FD_SYSCALL(pwrite64, FILETOP_WRITE)
FD_SYSCALL(writev, FILETOP_WRITE)
FD_SYSCALL(pwritev, FILETOP_WRITE)
FD_SYSCALL(pwritev2, FILETOP_WRITE)

/* Keeps the row's types in the object's BTF for the layout check. */
struct filetop_key filetop_key_btf __attribute__((unused));
struct filetop_value filetop_value_btf __attribute__((unused));
