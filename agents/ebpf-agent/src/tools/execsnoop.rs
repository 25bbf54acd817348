//! execsnoop: trace exec() syscalls (BCC/libbpf-tools compatible).
//!
//! BPF side: `bpf/execsnoop.bpf.c`, syscall tracepoints only. The enter record (argv, parent,
//! uid) and the exit record (result, new comm) are joined here by pid.

use std::collections::HashMap;

use agent_core::prelude::*;

pub const TOOL: Spec = Spec {
    name: "execsnoop",
    about: "trace new programs: exec() calls with argv, parent and result",
    // execveat (Linux 3.19) is optional: without its tracepoints, execve alone is traced.
    hooks: &[Group::syscalls(
        "",
        &["execve", "execveat"],
        Required::All(&["execve"]),
        Exit::PerSyscall,
    )],
    dynamic: &[],
    structs: &[EnterHead::LAYOUT, ExitEvent::LAYOUT, Config::LAYOUT],
    start: tool::start::<Execsnoop>,
    selftest: SelfTest::new(selftest_workload),
};

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
        })
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
    fn on_enter(&mut self, head: EnterHead, data: &[u8]) {
        let start = std::mem::size_of::<EnterHead>();
        let end = (start + head.args_size as usize).min(data.len());
        let mut args = self.spare.pop().unwrap_or_default();
        args.clear();
        args.extend_from_slice(&data[start..end]);
        if self.pending.len() >= MAX_PENDING {
            let horizon = head.time_ns.saturating_sub(10_000_000_000);
            self.pending.retain(|_, p| p.head.time_ns >= horizon);
        }
        if let Some(old) = self.pending.insert(head.pid, Pending { head, args }) {
            self.recycle(old.args);
        }
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
