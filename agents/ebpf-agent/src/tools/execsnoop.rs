//! execsnoop: trace exec() syscalls (BCC/libbpf-tools compatible).
//!
//! BPF side: `bpf/execsnoop.bpf.c`: raw tracepoints on `raw_syscalls:sys_enter/sys_exit` on
//! x86_64 and arm64 (32-bit execs included), syscall tracepoints elsewhere. The enter record
//! (argv, parent, uid) and the exit record (result, new comm) are joined here by pid; an argv
//! the entry could not read comes again, read at the exit, in a record of its own.

use std::collections::HashMap;

use agent_core::prelude::*;

use crate::syscalls;

pub const TOOL: Spec = Spec {
    name: "execsnoop",
    about: "trace new programs: exec() calls with argv, parent and result",
    hooks: HOOKS,
    dynamic: &[],
    structs: &[EnterHead::LAYOUT, ExitEvent::LAYOUT, Config::LAYOUT],
    start: tool::start::<Execsnoop>,
    selftest: SelfTest::new(selftest_workload),
};

/// Both halves of every syscall, which pick execve and execveat by number.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
const HOOKS: &[Group] = &[Group::all(
    "",
    &[
        Attach::new("raw_exit", Hook::RawTp("raw_syscalls", "sys_exit")),
        Attach::new("raw_enter", Hook::RawTp("raw_syscalls", "sys_enter")),
    ],
)
.text("raw tracepoints raw_syscalls:sys_{enter,exit}")];
// execveat (Linux 3.19) is optional: without its tracepoints, execve alone is traced.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
const HOOKS: &[Group] = &[Group::syscalls(
    "",
    &["execve", "execveat"],
    Required::All(&["execve"]),
    Exit::PerSyscall,
)];

/// EXECSNOOP_SYS_EXECVE and _EXECVEAT in each ABI.
fn table() -> syscalls::Table {
    syscalls::Table::of(&[(1, &["execve"]), (2, &["execveat"])])
}

/// Execs `/bin/sh -c : <marker>` (busybox or not, every image has /bin/sh).
fn selftest_workload(marker: &str) -> std::io::Result<Vec<String>> {
    let status = std::process::Command::new("/bin/sh")
        .args(["-c", ":", marker])
        .status()?;
    if !status.success() {
        return Err(std::io::Error::other(format!(
            "/bin/sh exited with {status}"
        )));
    }
    Ok(vec![marker.to_string()])
}

/// Mirrors EXECSNOOP_MAX_ARGS_LIMIT in bpf/execsnoop.h.
pub const MAX_ARGS_LIMIT: u32 = 512;
const KIND_ENTER: u32 = 1;
const KIND_EXIT: u32 = 2;
const F_TRUNCATED: u32 = 1;
const F_READ_ERROR: u32 = 2;
const F_COMPAT: u32 = 4;
const F_REREAD: u32 = 8;
const ARGS_UNCOUNTED: u32 = u32::MAX;

/// Mirrors EXECSNOOP_ARGS_BUF + EXECSNOOP_ARG_MAX: the argument buffer after the head.
const ARGS_BUF: usize = 16384 + 4096;

agent_core::pod! {
    /// `struct execsnoop_enter` without its argument buffer (which follows it).
    pub struct EnterHead = "execsnoop_enter", tail { args: ARGS_BUF } {
        kind: u32, pid: u32, tid: u32, ppid: u32, uid: u32, args_count: u32, args_size: u32,
        flags: u32,
        time_ns: u64,
    }

    /// `struct execsnoop_exit`.
    pub struct ExitEvent = "execsnoop_exit" {
        kind: u32, pid: u32, tid: u32, ret: i32,
        time_ns: u64,
        comm: [u8; 16],
    }

    /// The program's options in .rodata.
    pub struct Config = "execsnoop_config" {
        target_uid: u32, max_args: u32,
        filter_uid: u8,
        pad: [u8; 7],
        sys: syscalls::Table,
    }
}

#[derive(FromArgs, Debug)]
/// Trace exec() syscalls: every new program with its arguments, parent and result.
/// By default only successful execs are shown (-x adds failed ones).
pub struct Args {
    /// include a time column (HH:MM:SS)
    #[argh(switch, short = 'T')]
    pub time: bool,
    /// include a timestamp column (seconds since start)
    #[argh(switch, short = 't')]
    pub timestamp: bool,
    /// include failed exec()s
    #[argh(switch, short = 'x')]
    pub fails: bool,
    /// trace this UID only
    #[argh(option, short = 'u')]
    pub uid: Option<u32>,
    /// add quotemarks (") around arguments
    #[argh(switch, short = 'q')]
    pub quote: bool,
    /// only print commands whose name contains NAME
    #[argh(option, short = 'n')]
    pub name: Option<String>,
    /// only print commands where an argument contains LINE
    #[argh(option, short = 'l')]
    pub line: Option<String>,
    /// print a UID column
    #[argh(switch, short = 'U')]
    pub print_uid: bool,
    /// most arguments read and shown per exec (default 20, at most 512)
    #[argh(option, default = "20")]
    pub max_args: u32,
}

impl Tool for Execsnoop {
    type Args = Args;
    fn new(args: Args, _: &Common) -> Result<Self> {
        check_range("--max-args", args.max_args.into(), 1, MAX_ARGS_LIMIT.into())?;
        Ok(Execsnoop {
            args,
            pending: HashMap::new(),
            spare: Vec::new(),
        })
    }
}

impl Handler for Execsnoop {
    fn configure(&mut self, obj: &mut Object, _: &Plan) -> Result<()> {
        let (target_uid, filter_uid) = pid_filter(self.args.uid);
        obj.set_config(&Config {
            target_uid,
            max_args: self.args.max_args,
            filter_uid,
            pad: [0; 7],
            sys: table(),
        })
    }

    fn note(&self) -> String {
        table().note().unwrap_or_default()
    }

    fn header(&mut self, out: &mut Out) {
        let a = &self.args;
        out.columns(&[
            (a.time, "TIME     "),
            (a.timestamp, "TIME(s)  "),
            (a.print_uid, "UID    "),
            (true, "PCOMM            PID    PPID   RET ARGS\n"),
        ]);
    }

    fn record(&mut self, _: usize, data: &[u8], out: &mut Out) {
        match pod::read::<u32>(data) {
            Some(KIND_ENTER) => {
                if let Some(head) = pod::read::<EnterHead>(data) {
                    self.on_enter(head, data);
                }
            }
            Some(KIND_EXIT) => {
                if let Some(exit) = pod::read::<ExitEvent>(data) {
                    self.on_exit(exit, out);
                }
            }
            _ => {}
        }
    }
}

/// An enter record waiting for its exit.
struct Pending {
    head: EnterHead,
    args: Vec<u8>,
}

/// Joins enter and exit records and prints them.
pub struct Execsnoop {
    args: Args,
    pending: HashMap<u32, Pending>,
    spare: Vec<Vec<u8>>,
}

/// Enter records without an exit are dropped past this many (an exec killed mid-way).
const MAX_PENDING: usize = 4096;

impl Execsnoop {
    fn on_enter(&mut self, mut head: EnterHead, data: &[u8]) {
        let start = std::mem::size_of::<EnterHead>();
        let end = (start + head.args_size as usize).min(data.len());
        let mut args = self.spare.pop().unwrap_or_default();
        args.clear();
        args.extend_from_slice(&data[start..end]);
        if head.args_count == ARGS_UNCOUNTED {
            self.count_args(&mut head, &mut args);
        }
        if head.flags & F_REREAD != 0 {
            // argv read again at the exit: it replaces what the entry could not read.
            if let Some(p) = self.pending.get_mut(&head.pid) {
                p.head.args_count = head.args_count;
                p.head.args_size = head.args_size;
                p.head.flags = (p.head.flags & !(F_READ_ERROR | F_TRUNCATED))
                    | (head.flags & (F_READ_ERROR | F_TRUNCATED));
                let old = std::mem::replace(&mut p.args, args);
                self.recycle(old);
            } else {
                self.recycle(args);
            }
            return;
        }
        if self.pending.len() >= MAX_PENDING {
            let horizon = head.time_ns.saturating_sub(10_000_000_000);
            self.pending.retain(|_, p| p.head.time_ns >= horizon);
        }
        if let Some(old) = self.pending.insert(head.pid, Pending { head, args }) {
            self.recycle(old.args);
        }
    }

    /// The strings of an argv the kernel sent as one NUL-separated block (the new program's),
    /// cut to --max-args.
    fn count_args(&self, head: &mut EnterHead, args: &mut Vec<u8>) {
        let mut count = 0u32;
        let mut end = 0;
        for (i, &b) in args.iter().enumerate() {
            if b == 0 {
                count += 1;
                end = i + 1;
                if count == self.args.max_args {
                    break;
                }
            }
        }
        if end < args.len() {
            let rest = &args[end..];
            if count < self.args.max_args && !rest.is_empty() {
                // A last string cut by the buffer: kept, with its NUL.
                count += 1;
                end = args.len();
                args.push(0);
            } else {
                head.flags |= F_TRUNCATED;
            }
        }
        args.truncate(end);
        head.args_count = count;
        head.args_size = args.len() as u32;
    }

    fn recycle(&mut self, v: Vec<u8>) {
        if self.spare.len() < 64 {
            self.spare.push(v);
        }
    }

    fn on_exit(&mut self, exit: ExitEvent, out: &mut Out) {
        let Some(p) = self.pending.remove(&exit.pid) else {
            return;
        };
        if self.accept(&p, &exit) {
            if out.json() {
                json(&p, &exit, out);
            } else {
                self.text(&p, &exit, out);
            }
        }
        self.recycle(p.args);
    }

    fn accept(&self, p: &Pending, exit: &ExitEvent) -> bool {
        if exit.ret != 0 && !self.args.fails {
            return false;
        }
        if let Some(name) = &self.args.name {
            if !contains(cstr(&exit.comm), name.as_bytes()) {
                return false;
            }
        }
        if let Some(line) = &self.args.line {
            if !split_args(&p.args, p.head.args_count).any(|a| contains(a, line.as_bytes())) {
                return false;
            }
        }
        true
    }

    fn text(&self, p: &Pending, exit: &ExitEvent, out: &mut Out) {
        let mut s = out.take_line();
        if self.args.time {
            out.push_hms(&mut s, p.head.time_ns);
            s.push(' ');
        }
        if self.args.timestamp {
            let _ = write!(s, "{:<8} ", out.clock().since_start(p.head.time_ns, 3));
        }
        if self.args.print_uid {
            let _ = write!(s, "{:<6} ", p.head.uid);
        }
        push_escaped_left(&mut s, cstr(&exit.comm), 16);
        let _ = write!(s, " {:<6} {:<6} {:>3} ", p.head.pid, p.head.ppid, exit.ret);
        for (i, a) in split_args(&p.args, p.head.args_count).enumerate() {
            if i > 0 {
                s.push(' ');
            }
            if self.args.quote {
                s.push('"');
                let mut q = String::new();
                push_escaped(&mut q, a);
                s.push_str(&q.replace('"', "\\\""));
                s.push('"');
            } else {
                push_escaped(&mut s, a);
            }
        }
        if p.head.flags & F_TRUNCATED != 0 {
            s.push_str(" ...");
        }
        s.push('\n');
        out.put_line(s);
    }
}

fn json(p: &Pending, exit: &ExitEvent, out: &mut Out) {
    out.event("exec", p.head.time_ns)
        .u64("pid", p.head.pid.into())
        .u64("tid", p.head.tid.into())
        .u64("ppid", p.head.ppid.into())
        .u64("uid", p.head.uid.into())
        .bytes("comm", cstr(&exit.comm))
        .str("abi", syscalls::abi(p.head.flags & F_COMPAT != 0).name)
        .i64("ret", exit.ret.into())
        .bytes_array("args", split_args(&p.args, p.head.args_count))
        .bool("args_truncated", p.head.flags & F_TRUNCATED != 0)
        .bool("args_read_error", p.head.flags & F_READ_ERROR != 0)
        .end();
}

/// The `count` NUL-terminated strings packed in an argument buffer.
fn split_args(buf: &[u8], count: u32) -> impl Iterator<Item = &[u8]> + Clone {
    buf.split(|&b| b == 0).take(count as usize)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests;
