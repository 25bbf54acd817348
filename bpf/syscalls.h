/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/*
 * Syscalls seen from raw_syscalls:sys_enter and sys_exit as raw tracepoints (raw_tp, 4.17):
 * one program for every syscall of the system, without the perf buffer the syscalls:sys_*
 * tracepoints fill, the call's number and arguments read from the caller's saved registers.
 * Unlike syscalls:sys_*, which the kernel never fires for the 32-bit entry of a 64-bit kernel
 * (int $0x80, sysenter and 32-bit processes on x86_64; AArch32 tasks on arm64), these see
 * every ABI: a call is its number and whether it came in through the compat (32-bit) entry.
 *
 * A tool names the syscalls it wants in its options: a `struct syscall_table`, which the agent
 * fills from its syscall tables (src/syscalls/) with the tool's own id (1..255) at each number
 * of each ABI. Built for x86_64 and arm64 (SYSCALLS_RAW); elsewhere tools use syscalls:sys_*.
 * Include after common.h.
 */
#ifndef EBPF_RUST_SYSCALLS_H
#define EBPF_RUST_SYSCALLS_H

/* Syscall numbers below this are looked up; higher ones (x32's, none else) are not traced. */
#define SYSCALL_SLOTS 1024

/* A tool's syscalls: its id for each number, 0 for those it does not trace. */
struct syscall_table {
	__u8 native[SYSCALL_SLOTS];
	__u8 compat[SYSCALL_SLOTS];
};

/*
 * A syscall's saved registers, read in one go (each bpf_probe_read_kernel() costs more than the
 * bytes it copies): its number, ABI and arguments. syscall_regs_read() reads the number alone
 * (what every syscall of the system pays), syscall_regs_id() picks the tool's id and, for the
 * numbers a tool traces only, asks the ABI and reads the arguments in one block;
 * syscall_regs_arg() then costs a load. Offsets are the running kernel's (CO-RE).
 */
#if defined(__TARGET_ARCH_x86)
#define SYSCALLS_RAW 1

/* arch/x86/include/asm/thread_info.h: a 32-bit syscall is running (cleared on return). */
#define SYSCALL_TS_COMPAT 0x0002
struct thread_info___sys {
	__u32 status;
} __attribute__((preserve_access_index));
struct task_struct___sys {
	struct thread_info___sys thread_info;
} __attribute__((preserve_access_index));

/* From bp to orig_ax: every argument register of both ABIs and the number (ptrace's order). */
#define SYSCALL_REGS_WORDS 12
struct syscall_regs {
	long nr;
	bool compat;
	__u64 w[SYSCALL_REGS_WORDS];
};

#define SR_OFF(f) (bpf_core_field_offset(struct pt_regs, f) - bpf_core_field_offset(struct pt_regs, bp))
#define SR_WORD(s, f) (*(__u64 *)((char *)(s)->w + SR_OFF(f)))

/* The number alone: what every syscall of the system pays (the arguments come later). */
static __always_inline int syscall_regs_read(struct pt_regs *regs, struct syscall_regs *s)
{
	int rc = bpf_probe_read_kernel(&s->nr, sizeof(s->nr),
				       (char *)regs + bpf_core_field_offset(struct pt_regs, orig_ax));

	if (rc)
		s->nr = -1;
	s->compat = false;
	return rc;
}

/* Did the running syscall come through the 32-bit entry? */
static __always_inline bool syscall_is_compat(struct pt_regs *regs)
{
	struct task_struct___sys *t = (struct task_struct___sys *)bpf_get_current_task();

	return BPF_CORE_READ(t, thread_info.status) & SYSCALL_TS_COMPAT;
}

/* The arguments of a call a tool traces, in one read. */
static __always_inline void syscall_regs_more(struct pt_regs *regs, struct syscall_regs *s)
{
	if (bpf_probe_read_kernel(s->w, sizeof(s->w),
				  (char *)regs + bpf_core_field_offset(struct pt_regs, bp)))
		__builtin_memset(s->w, 0, sizeof(s->w));
}

/* Argument `i` (0..5, a constant), as the kernel takes it: 32-bit ones are the registers'
 * low halves. */
static __always_inline __u64 syscall_regs_arg(struct syscall_regs *s, int i)
{
	if (s->compat) {
		switch (i) {
		case 0: return (__u32)SR_WORD(s, bx);
		case 1: return (__u32)SR_WORD(s, cx);
		case 2: return (__u32)SR_WORD(s, dx);
		case 3: return (__u32)SR_WORD(s, si);
		case 4: return (__u32)SR_WORD(s, di);
		default: return (__u32)SR_WORD(s, bp);
		}
	}
	switch (i) {
	case 0: return SR_WORD(s, di);
	case 1: return SR_WORD(s, si);
	case 2: return SR_WORD(s, dx);
	case 3: return SR_WORD(s, r10);
	case 4: return SR_WORD(s, r8);
	default: return SR_WORD(s, r9);
	}
}

#elif defined(__TARGET_ARCH_arm64)
#define SYSCALLS_RAW 1

/* arch/arm64/include/uapi/asm/ptrace.h: the task runs in AArch32 state. */
#define SYSCALL_PSR_MODE32_BIT 0x10

/* The number (one read), then pstate, orig_x0 and x1..x5 (two more, traced calls only). */
struct syscall_regs {
	long nr;
	bool compat;
	__u64 head[3];
	__u64 args[5];
};

#define SR_OFF(f) (bpf_core_field_offset(struct pt_regs, f) - bpf_core_field_offset(struct pt_regs, pstate))
#define SR_HEAD(s, f, type) (*(type *)((char *)(s)->head + SR_OFF(f)))

/* The number alone: what every syscall of the system pays. */
static __always_inline int syscall_regs_read(struct pt_regs *regs, struct syscall_regs *s)
{
	__s32 nr;
	int rc = bpf_probe_read_kernel(&nr, sizeof(nr),
				       (char *)regs + bpf_core_field_offset(struct pt_regs, syscallno));

	s->nr = rc ? -1 : nr;
	s->compat = false;
	return rc;
}

static __always_inline bool syscall_is_compat(struct pt_regs *regs)
{
	return BPF_CORE_READ(regs, pstate) & SYSCALL_PSR_MODE32_BIT;
}

/* orig_x0 (x0 holds the result at exit: the first argument is kept there) and x1..x5. */
static __always_inline void syscall_regs_more(struct pt_regs *regs, struct syscall_regs *s)
{
	if (bpf_probe_read_kernel(s->head, sizeof(s->head),
				  (char *)regs + bpf_core_field_offset(struct pt_regs, pstate)))
		__builtin_memset(s->head, 0, sizeof(s->head));
	if (bpf_probe_read_kernel(s->args, sizeof(s->args),
				  (char *)regs + bpf_core_field_offset(struct pt_regs, regs[1])))
		__builtin_memset(s->args, 0, sizeof(s->args));
}

static __always_inline __u64 syscall_regs_arg(struct syscall_regs *s, int i)
{
	__u64 v = i == 0 ? SR_HEAD(s, orig_x0, __u64) : s->args[(i - 1) % 5];

	return s->compat ? (__u32)v : v;
}
#endif

#ifdef SYSCALLS_RAW
/*
 * The raw tracepoints' arguments (ctx[0], ctx[1]): sys_enter(struct pt_regs *regs, long id),
 * sys_exit(struct pt_regs *regs, long ret).
 */
#define RAW_SYSCALL_REGS(ctx) ((struct pt_regs *)(ctx)[0])

/*
 * The tool's id in `table` for the syscall in `s` (syscall_regs_read()), for the ABI it came
 * in through (s->compat says which), or 0 when the tool does not trace it. Only the numbers
 * some entry has cost more than two byte loads: the ABI is asked, the arguments read.
 */
static __always_inline __u8 syscall_regs_id(const volatile struct syscall_table *table,
					    struct pt_regs *regs, struct syscall_regs *s)
{
	__u64 i = (__u64)s->nr;
	__u8 native, ia32, id;

	if (i >= SYSCALL_SLOTS)
		return 0;
	/* clang may test the number as 32 bits and index with its 64-bit sign extension, which
	 * the verifiers of 6.12 and older cannot bound: hide the value so that the mask stays. */
	barrier_var(i);
	i &= SYSCALL_SLOTS - 1;
	native = table->native[i];
	ia32 = table->compat[i];
	if (!(native | ia32))
		return 0;
	s->compat = syscall_is_compat(regs);
	id = s->compat ? ia32 : native;
	if (id)
		syscall_regs_more(regs, s);
	return id;
}

/*
 * syscall_regs_read() and syscall_regs_id() for a raw sys_enter/sys_exit hit: the tool's id
 * of the call, `s` filled, or 0 when the tool does not trace it.
 */
static __always_inline __u8 raw_syscall_id(const volatile struct syscall_table *table,
					   __u64 *ctx, struct syscall_regs *s)
{
	struct pt_regs *regs = RAW_SYSCALL_REGS(ctx);

	if (syscall_regs_read(regs, s))
		return 0;
	return syscall_regs_id(table, regs, s);
}
#endif

#endif
