// SPDX-License-Identifier: (MIT OR GPL-2.0)
/*
 * bashreadline: the command lines typed into bash, read where readline() returns them. The
 * agent attaches the uretprobe to bash itself when it holds readline (Debian, most distros)
 * or to the libreadline it links. Other programs using libreadline are left out, as in BCC.
 */
#include "common.h"
#include "bashreadline.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

DEFINE_EVENTS_RINGBUF(64 * 1024);

struct bashreadline_event bashreadline_event_btf __attribute__((unused));

SEC("uretprobe")
int uret_readline(struct pt_regs *ctx)
{
	/* Through unsigned long: the return register has the kernel's width (4 bytes on arm). */
	const char *line = (const char *)(unsigned long)PT_REGS_RC(ctx);
	struct bashreadline_event *e;
	__u64 id = bpf_get_current_pid_tgid();
	char comm[TASK_COMM_LEN];

	if (!line)
		return 0;
	bpf_get_current_comm(comm, sizeof(comm));
	if (comm[0] != 'b' || comm[1] != 'a' || comm[2] != 's' || comm[3] != 'h' || comm[4])
		return 0;
	e = reserve_event(struct bashreadline_event);
	if (!e)
		return 0;
	e->time_ns = bpf_ktime_get_boot_ns();
	e->pid = id >> 32;
	e->tid = (__u32)id;
	__builtin_memcpy(e->comm, comm, sizeof(comm));
	if (bpf_probe_read_user_str(e->line, sizeof(e->line), line) < 0)
		e->line[0] = 0;
	/* A typed line is rare and someone waits for it: no batching. */
	bpf_ringbuf_submit(e, 0);
	return 0;
}
