/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/*
 * The kernel types and constants the examples use: a small stand-in for the vmlinux.h that
 * `bpftool btf dump file /sys/kernel/btf/vmlinux format c` writes on the board, so that the
 * examples build on any machine with clang and libbpf's headers, for any kernel.
 *
 * Kernel structs are declared with preserve_access_index and only the fields read: libbpf
 * finds each field by name in the running kernel's BTF (CO-RE). Tracepoint contexts are laid
 * out as tracefs describes them (events/<category>/<name>/format), which is stable ABI.
 */
#ifndef EXAMPLES_KERNEL_H
#define EXAMPLES_KERNEL_H

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

/* include/uapi/linux/bpf.h: the map types and flags the examples use. */
enum bpf_map_type {
	BPF_MAP_TYPE_HASH = 1,
	BPF_MAP_TYPE_ARRAY = 2,
	BPF_MAP_TYPE_PERCPU_HASH = 5,
	BPF_MAP_TYPE_PERCPU_ARRAY = 6,
	BPF_MAP_TYPE_LRU_HASH = 9,
	BPF_MAP_TYPE_RINGBUF = 27,
};
#define BPF_ANY 0
#define BPF_NOEXIST 1

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

/* kprobe arguments (bpf_tracing.h's BPF_KPROBE) come from the registers of the architecture
 * the object is compiled for: -D__TARGET_ARCH_x86, -D__TARGET_ARCH_arm64 or
 * -D__TARGET_ARCH_arm. */
#if defined(__TARGET_ARCH_x86)
#define __VMLINUX_H__ /* bpf_tracing.h: the kernel's register names (di, si), not uapi's */
struct pt_regs {
	unsigned long di, si, dx, cx, r8, sp, ip, ax;
} __attribute__((preserve_access_index));
#elif defined(__TARGET_ARCH_arm64)
struct user_pt_regs {
	__u64 regs[31];
	__u64 sp;
	__u64 pc;
} __attribute__((preserve_access_index));
#elif defined(__TARGET_ARCH_arm)
#define __VMLINUX_H__
/* The kernel's registers are 4 bytes wide, as its long (a BPF long has 8). */
struct pt_regs {
	unsigned int uregs[18];
} __attribute__((preserve_access_index));
#endif
#include <bpf/bpf_tracing.h>

/* raw_syscalls:sys_enter, and syscalls:sys_enter_<name> (whose arguments are at the same
 * place, each as wide as the kernel's long: 8 bytes, or 4 on a 32-bit kernel). */
#if defined(__TARGET_ARCH_arm)
struct syscall_enter {
	__u64 common;
	__s32 id;
	__u32 args[6];
};
#else
struct syscall_enter {
	__u64 common;
	long id;
	unsigned long args[6];
};
#endif

/* block:block_rq_issue and block:block_rq_complete start alike. */
struct block_rq {
	__u64 common;
	__u32 dev; /* the kernel's dev_t: major << 20 | minor */
	__u64 sector;
};

/* sock:sock_send_length (Linux 6.3). */
struct sock_msg_length {
	__u64 common;
	void *sk;
	__u16 family;
	__u16 protocol;
	int ret;
	int flags;
};

/* include/net/sock.h: what the TCP example reads of a socket. */
struct sock_common {
	__be32 skc_daddr;
	__be32 skc_rcv_saddr;
	__be16 skc_dport;
	__u16 skc_num;
	unsigned short skc_family;
} __attribute__((preserve_access_index));

struct sock {
	struct sock_common __sk_common;
	__u16 sk_protocol;
} __attribute__((preserve_access_index));

#define AF_INET 2
#define IPPROTO_TCP 6
#define TASK_COMM_LEN 16

#endif
