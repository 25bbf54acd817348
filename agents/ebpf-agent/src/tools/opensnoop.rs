//! opensnoop: trace open(), openat() and openat2() (BCC/libbpf-tools compatible).
//!
//! BPF side: `bpf/opensnoop.bpf.c`, syscall tracepoints only. One record per call that
//! returned; pid, tid, uid and failed-only filters run in the kernel, `-n` here.

use std::io::Write;
use std::time::Duration;

use argh::FromArgs;

use agent_core::bpf::Object;
use agent_core::cli::{self, parse_duration, Valued};
use agent_core::json::Obj;
use agent_core::openflags::push_open_flags;
use agent_core::output::{cstr, read_record, Lines};
use agent_core::probe::{self, Need};
use agent_core::run::{self, Consumer, Flow};
use agent_core::time::{self, Clock};
use agent_core::{syscalls, Result};

use super::{SelfTest, Tool};
use crate::bpf_objects::OPENSNOOP_BPF_OBJECT;
use crate::{logging, text};

pub const TOOL: Tool = Tool {
    name: "opensnoop",
    about: "trace open() calls: path, flags, and the fd or error",
    needs: &[
        Need::Btf,
        Need::Tracepoint("syscalls", "sys_enter_openat"),
        Need::Tracepoint("syscalls", "sys_exit_openat"),
    ],
    main,
    selftest: SelfTest {
        args: |_| Vec::new(),
        workload: selftest_workload,
    },
};

/// Opens a path that cannot exist, named after the marker: the failed open is the event, and
/// nothing is left behind.
fn selftest_workload(marker: &str) -> std::io::Result<Vec<String>> {
    let path = format!("/nonexistent-ebpf-verify/{marker}");
    match std::fs::File::open(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(vec![marker.to_string()]),
        Err(e) => Err(e),
        Ok(_) => Err(std::io::Error::other(format!("{path} exists"))),
    }
}

/// Syscalls traced, where the kernel has them (arm64 has no open()).
const SYSCALLS: &[&str] = &["open", "openat", "openat2"];

/// Mirrors OPENSNOOP_PATH_BUF in bpf/opensnoop.h.
pub const PATH_BUF: usize = 8192;
const P_READ_ERROR: u16 = 1;
const P_FULL: u16 = 2;
const P_CUT: u16 = 4;

/// `struct opensnoop_event` without its path buffer (which follows it).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct EventHead {
    pub time_ns: u64,
    pub flags: u64,
    pub pid: u32,
    pub tid: u32,
    pub uid: u32,
    pub ret: i32,
    pub mode: u32,
    pub dfd: i32,
    pub syscall: u16,
    pub path_flags: u16,
    pub path_len: u32,
    pub comm: [u8; 16],
}

/// `struct opensnoop_config`, the program's options in .rodata.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct Config {
    pub target_pid: u32,
    pub target_tid: u32,
    pub target_uid: u32,
    pub filter_pid: u8,
    pub filter_tid: u8,
    pub filter_uid: u8,
    pub failed_only: u8,
    pub full_path: u8,
    pub pad: [u8; 7],
}

#[derive(FromArgs, Debug)]
/// Trace open family syscalls (open, openat, openat2): who opened which path, with which
/// flags, and the file descriptor or error it got.
pub struct Args {
    /// stop after this long (10, 30s, 5m, ...)
    #[argh(option, short = 'd', from_str_fn(parse_duration))]
    pub duration: Option<Duration>,
    /// print extended fields (the open flags, in octal)
    #[argh(switch, short = 'e')]
    pub extended_fields: bool,
    /// only print processes whose name contains NAME
    #[argh(option, short = 'n')]
    pub name: Option<String>,
    /// trace this process only
    #[argh(option, short = 'p')]
    pub pid: Option<u32>,
    /// trace this thread only
    #[argh(option, short = 't')]
    pub tid: Option<u32>,
    /// print a time column (HH:MM:SS, local time)
    #[argh(switch, short = 'T')]
    pub timestamp: bool,
    /// trace this UID only
    #[argh(option, short = 'u')]
    pub uid: Option<u32>,
    /// print a UID column
    #[argh(switch, short = 'U')]
    pub print_uid: bool,
    /// only failed opens
    #[argh(switch, short = 'x')]
    pub failed: bool,
    /// show relative paths as full paths (resolved in the kernel against the caller's working
    /// directory or dirfd)
    #[argh(switch, short = 'F')]
    pub full_path: bool,
    /// print JSON Lines (schema: docs/tools/opensnoop.md)
    #[argh(switch)]
    pub json: bool,
    /// verbose diagnostics on stderr (hooks picked, libbpf and verifier logs)
    #[argh(switch, short = 'v')]
    pub verbose: bool,
}

const VALUED: Valued = Valued {
    short: "dnptu",
    long: &["duration", "name", "pid", "tid", "uid"],
};

pub fn parse_args(args: &[String]) -> Result<Args> {
    cli::parse("opensnoop", args, VALUED)
}

fn main(args: &[String]) -> Result<()> {
    let args = parse_args(args)?;
    logging::verbose(args.verbose);
    probe::preflight("opensnoop", TOOL.needs)?;
    let mut obj = Object::open("opensnoop", OPENSNOOP_BPF_OBJECT)?;
    let config = Config {
        target_pid: args.pid.unwrap_or(0),
        target_tid: args.tid.unwrap_or(0),
        target_uid: args.uid.unwrap_or(0),
        filter_pid: args.pid.is_some() as u8,
        filter_tid: args.tid.is_some() as u8,
        filter_uid: args.uid.is_some() as u8,
        failed_only: args.failed as u8,
        full_path: args.full_path as u8,
        pad: [0; 7],
    };
    obj.set_rodata("config", &config)?;
    let hooks = syscalls::select_enters(&mut obj, SYSCALLS)?;
    obj.load()?;
    syscalls::attach_shared_exit(&mut obj, &hooks, "tp_exit")?;
    run::install_signal_handlers()?;
    log::debug!(
        "tracing: tracepoints syscalls:sys_{{enter,exit}}_{{{}}}{}",
        hooks.join(","),
        if args.full_path {
            "; -F resolves relative names in the kernel"
        } else {
            ""
        }
    );
    let duration = args.duration;
    let mut printer = Printer::new(args, agent_core::output::Stdout);
    printer.header();
    run::stream_until(&obj, duration, &mut printer)
}

/// Decodes records and prints them.
pub struct Printer<W: Write> {
    pub args: Args,
    lines: Lines<W>,
    clock: Clock,
    line: String,
}

impl<W: Write> Printer<W> {
    pub fn new(args: Args, out: W) -> Self {
        Printer {
            args,
            lines: Lines::new(out),
            clock: Clock::new(),
            line: String::with_capacity(256),
        }
    }

    fn header(&mut self) {
        if self.args.json {
            return;
        }
        let mut h = String::new();
        if self.args.timestamp {
            h.push_str(&format!("{:<8} ", "TIME"));
        }
        if self.args.print_uid {
            h.push_str(&format!("{:<7} ", "UID"));
        }
        h.push_str(&format!(
            "{:<6} {:<16} {:>3} {:>3} ",
            "PID", "COMM", "FD", "ERR"
        ));
        if self.args.extended_fields {
            h.push_str(&format!("{:<8} ", "FLAGS"));
        }
        h.push_str("PATH\n");
        self.lines.buf().extend_from_slice(h.as_bytes());
    }

    fn event(&mut self, data: &[u8]) {
        let Some(head) = read_record::<EventHead>(data) else {
            return;
        };
        let start = std::mem::size_of::<EventHead>();
        let end = (start + (head.path_len as usize).min(PATH_BUF)).min(data.len());
        let path = &data[start..end];
        let comm = cstr(&head.comm);
        if let Some(name) = &self.args.name {
            if !contains(comm, name.as_bytes()) {
                return;
            }
        }
        if self.args.json {
            self.json(&head, comm, path);
        } else {
            self.text(&head, comm, path);
        }
    }

    fn text(&mut self, e: &EventHead, comm: &[u8], path: &[u8]) {
        use std::fmt::Write as _;
        let s = &mut self.line;
        s.clear();
        if self.args.timestamp {
            let _ = write!(s, "{:<8} ", time::hms_local(self.clock.wall_ns(e.time_ns)));
        }
        if self.args.print_uid {
            let _ = write!(s, "{:<7} ", e.uid);
        }
        let (fd, err) = fd_err(e.ret);
        let mut c = String::new();
        text::push_escaped(&mut c, comm);
        let _ = write!(s, "{:<6} {c:<16} {fd:>3} {err:>3} ", e.pid);
        if self.args.extended_fields {
            let _ = write!(s, "{:08o} ", e.flags);
        }
        text::push_escaped(s, path);
        s.push('\n');
        self.lines.buf().extend_from_slice(s.as_bytes());
    }

    fn json(&mut self, e: &EventHead, comm: &[u8], path: &[u8]) {
        let ts = time::rfc3339_utc(self.clock.wall_ns(e.time_ns));
        let flags_text = &mut self.line;
        flags_text.clear();
        push_open_flags(flags_text, e.flags);
        let (fd, err) = fd_err(e.ret);
        Obj::new(self.lines.buf())
            .str("type", "open")
            .str("ts", &ts)
            .u64("time_ns", e.time_ns)
            .u64("pid", e.pid.into())
            .u64("tid", e.tid.into())
            .u64("uid", e.uid.into())
            .bytes("comm", comm)
            .str("syscall", syscall_name(e.syscall))
            .i64("dfd", e.dfd.into())
            .u64("flags", e.flags)
            .str("flags_text", flags_text)
            .u64("mode", e.mode.into())
            .i64("ret", e.ret.into())
            .i64("fd", fd.into())
            .u64("err", err.into())
            .bytes("path", path)
            .bool("path_full", e.path_flags & P_FULL != 0)
            .bool("path_incomplete", e.path_flags & P_CUT != 0)
            .bool("path_read_error", e.path_flags & P_READ_ERROR != 0)
            .end();
    }
}

/// BCC's FD and ERR columns: the descriptor or -1, and the errno or 0.
fn fd_err(ret: i32) -> (i32, u32) {
    if ret >= 0 {
        (ret, 0)
    } else {
        (-1, ret.unsigned_abs())
    }
}

fn syscall_name(n: u16) -> &'static str {
    match n {
        1 => "open",
        2 => "openat",
        3 => "openat2",
        _ => "unknown",
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

impl<W: Write> Consumer for Printer<W> {
    fn record(&mut self, data: &[u8]) -> Flow {
        self.event(data);
        self.lines.flow()
    }

    fn lost(&mut self, new: u64, total: u64) {
        self.lines.lost(self.args.json, &self.clock, new, total);
    }

    fn flush(&mut self) {
        self.lines.flush();
    }
}

#[cfg(test)]
mod tests;
