//! execsnoop: trace exec() syscalls (BCC/libbpf-tools compatible).
//!
//! BPF side: `bpf/execsnoop.bpf.c`, syscall tracepoints only. The enter record (argv, parent,
//! uid) and the exit record (result, new comm) are joined here by pid.

use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

use argh::FromArgs;

use agent_core::bpf::Object;
use agent_core::cli::{self, parse_duration, Valued};
use agent_core::error::Error;
use agent_core::json::Obj;
use agent_core::output::{cstr, read_record, Lines};
use agent_core::probe::{self, Need};
use agent_core::run::{self, Consumer, Flow};
use agent_core::time::{self, Clock};
use agent_core::Result;

use super::{SelfTest, Tool};
use crate::bpf_objects::EXECSNOOP_BPF_OBJECT;
use crate::{logging, text};

pub const TOOL: Tool = Tool {
    name: "execsnoop",
    about: "trace new programs: exec() calls with argv, parent and result",
    needs: &[
        Need::Btf,
        Need::Tracepoint("syscalls", "sys_enter_execve"),
        Need::Tracepoint("syscalls", "sys_exit_execve"),
    ],
    main,
    selftest: SelfTest {
        args: |_| Vec::new(),
        workload: selftest_workload,
    },
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

/// `struct execsnoop_enter` without its argument buffer (which follows it).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct EnterHead {
    pub kind: u32,
    pub pid: u32,
    pub tid: u32,
    pub ppid: u32,
    pub uid: u32,
    pub args_count: u32,
    pub args_size: u32,
    pub flags: u32,
    pub time_ns: u64,
}

/// `struct execsnoop_exit`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct ExitEvent {
    pub kind: u32,
    pub pid: u32,
    pub tid: u32,
    pub ret: i32,
    pub time_ns: u64,
    pub comm: [u8; 16],
}

/// `struct execsnoop_config`, the program's options in .rodata.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct Config {
    pub target_uid: u32,
    pub max_args: u32,
    pub filter_uid: u8,
    pub pad: [u8; 7],
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
    /// print JSON Lines (schema: docs/json.md)
    #[argh(switch)]
    pub json: bool,
    /// stop after this long (10, 30s, 5m, ...)
    #[argh(option, from_str_fn(parse_duration))]
    pub duration: Option<Duration>,
    /// verbose diagnostics on stderr (hooks picked, libbpf and verifier logs)
    #[argh(switch, short = 'v')]
    pub verbose: bool,
}

const VALUED: Valued = Valued {
    short: "unl",
    long: &["uid", "name", "line", "max-args", "duration"],
};

pub fn parse_args(args: &[String]) -> Result<Args> {
    let a: Args = cli::parse("execsnoop", args, VALUED)?;
    if a.max_args == 0 || a.max_args > MAX_ARGS_LIMIT {
        return Err(Error::usage(format!(
            "--max-args must be 1..={MAX_ARGS_LIMIT}, not {}",
            a.max_args
        )));
    }
    Ok(a)
}

fn main(args: &[String]) -> Result<()> {
    let args = parse_args(args)?;
    logging::verbose(args.verbose);
    probe::preflight("execsnoop", TOOL.needs)?;
    let mut obj = Object::open("execsnoop", EXECSNOOP_BPF_OBJECT)?;
    let config = Config {
        target_uid: args.uid.unwrap_or(0),
        max_args: args.max_args,
        filter_uid: args.uid.is_some() as u8,
        pad: [0; 7],
    };
    obj.set_rodata("config", &config)?;
    // execveat (Linux 3.19) is optional: without its tracepoints, execve alone is traced.
    let execveat = probe::tracepoint_exists("syscalls", "sys_enter_execveat")
        && probe::tracepoint_exists("syscalls", "sys_exit_execveat");
    if !execveat {
        obj.set_autoload("tp_enter_execveat", false)?;
        obj.set_autoload("tp_exit_execveat", false)?;
    }
    for need in TOOL.needs {
        if let Some(why) = need.missing() {
            return Err(Error::new(format!("cannot trace execs: {why}"))
                .code(agent_core::error::EXIT_UNSUPPORTED));
        }
    }
    obj.load()?;
    obj.attach_tracepoint("tp_enter_execve", "syscalls", "sys_enter_execve")?;
    obj.attach_tracepoint("tp_exit_execve", "syscalls", "sys_exit_execve")?;
    if execveat {
        obj.attach_tracepoint("tp_enter_execveat", "syscalls", "sys_enter_execveat")?;
        obj.attach_tracepoint("tp_exit_execveat", "syscalls", "sys_exit_execveat")?;
    }
    run::install_signal_handlers()?;
    log::debug!(
        "tracing: tracepoints syscalls:sys_{{enter,exit}}_execve{}",
        if execveat {
            " and sys_{enter,exit}_execveat"
        } else {
            " (no execveat tracepoints on this kernel)"
        }
    );
    let mut printer = Printer::new(args, agent_core::output::Stdout);
    printer.header();
    run::stream_until(&obj, printer.args.duration, &mut printer)
}

/// An enter record waiting for its exit.
struct Pending {
    head: EnterHead,
    args: Vec<u8>,
}

/// Joins enter and exit records and prints them.
pub struct Printer<W: Write> {
    pub args: Args,
    lines: Lines<W>,
    clock: Clock,
    pending: HashMap<u32, Pending>,
    spare: Vec<Vec<u8>>,
}

/// Enter records without an exit are dropped past this many (an exec killed mid-way).
const MAX_PENDING: usize = 4096;

impl<W: Write> Printer<W> {
    pub fn new(args: Args, out: W) -> Self {
        Printer {
            args,
            lines: Lines::new(out),
            clock: Clock::new(),
            pending: HashMap::new(),
            spare: Vec::new(),
        }
    }

    fn header(&mut self) {
        if self.args.json {
            return;
        }
        let mut h = String::new();
        if self.args.time {
            h.push_str(&format!("{:<8} ", "TIME"));
        }
        if self.args.timestamp {
            h.push_str(&format!("{:<8} ", "TIME(s)"));
        }
        if self.args.print_uid {
            h.push_str(&format!("{:<6} ", "UID"));
        }
        h.push_str(&format!(
            "{:<16} {:<6} {:<6} {:>3} ARGS\n",
            "PCOMM", "PID", "PPID", "RET"
        ));
        self.lines.buf().extend_from_slice(h.as_bytes());
    }

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

    fn on_exit(&mut self, exit: ExitEvent) {
        let Some(p) = self.pending.remove(&exit.pid) else {
            return;
        };
        if self.accept(&p, &exit) {
            if self.args.json {
                self.json(&p, &exit);
            } else {
                self.text(&p, &exit);
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

    fn text(&mut self, p: &Pending, exit: &ExitEvent) {
        let mut s = String::with_capacity(128);
        if self.args.time {
            s.push_str(&format!(
                "{:<8} ",
                time::hms_local(self.clock.wall_ns(p.head.time_ns))
            ));
        }
        if self.args.timestamp {
            s.push_str(&format!("{:<8.3} ", self.clock.since_start(p.head.time_ns)));
        }
        if self.args.print_uid {
            s.push_str(&format!("{:<6} ", p.head.uid));
        }
        let mut comm = String::new();
        text::push_escaped(&mut comm, cstr(&exit.comm));
        s.push_str(&format!(
            "{comm:<16} {:<6} {:<6} {:>3} ",
            p.head.pid, p.head.ppid, exit.ret
        ));
        for (i, a) in split_args(&p.args, p.head.args_count).enumerate() {
            if i > 0 {
                s.push(' ');
            }
            if self.args.quote {
                s.push('"');
                let mut q = String::new();
                text::push_escaped(&mut q, a);
                s.push_str(&q.replace('"', "\\\""));
                s.push('"');
            } else {
                text::push_escaped(&mut s, a);
            }
        }
        if p.head.flags & F_TRUNCATED != 0 {
            s.push_str(" ...");
        }
        s.push('\n');
        self.lines.buf().extend_from_slice(s.as_bytes());
    }

    fn json(&mut self, p: &Pending, exit: &ExitEvent) {
        let ts = time::rfc3339_utc(self.clock.wall_ns(p.head.time_ns));
        let mut o = Obj::new(self.lines.buf());
        o.str("type", "exec")
            .str("ts", &ts)
            .u64("time_ns", p.head.time_ns)
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
}

impl<W: Write> Consumer for Printer<W> {
    fn record(&mut self, data: &[u8]) -> Flow {
        match read_record::<u32>(data) {
            Some(KIND_ENTER) => {
                if let Some(head) = read_record::<EnterHead>(data) {
                    self.on_enter(head, data);
                }
            }
            Some(KIND_EXIT) => {
                if let Some(exit) = read_record::<ExitEvent>(data) {
                    self.on_exit(exit);
                }
            }
            _ => {}
        }
        self.lines.flow()
    }

    fn lost(&mut self, new: u64, total: u64) {
        self.lines.lost(self.args.json, &self.clock, new, total);
    }

    fn flush(&mut self) {
        self.lines.flush();
    }
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
