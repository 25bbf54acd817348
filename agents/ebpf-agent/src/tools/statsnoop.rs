//! statsnoop: trace stat-family syscalls (BCC/libbpf-tools compatible).
//!
//! BPF side: `bpf/statsnoop.bpf.c`, syscall tracepoints only. Which stat syscalls exist depends
//! on the architecture (arm64 has no stat/lstat, only fstatat; 32-bit ones have stat64): the
//! tracepoints present are probed at start and only those are attached.

use std::io::Write;
use std::time::Duration;

use argh::FromArgs;

use agent_core::bpf::Object;
use agent_core::cli::{self, parse_duration, parse_pid, Valued};
use agent_core::error::{Error, EXIT_UNSUPPORTED};
use agent_core::json::Obj;
use agent_core::output::{cstr, read_record, Lines};
use agent_core::probe::{self, Need};
use agent_core::run::{self, Consumer, Flow};
use agent_core::time::{self, Clock};
use agent_core::Result;

use super::{SelfTest, Tool};
use crate::bpf_objects::STATSNOOP_BPF_OBJECT;
use crate::{logging, text};

pub const TOOL: Tool = Tool {
    name: "statsnoop",
    about: "trace stat() calls: every stat-family syscall with its path and result",
    needs: &[
        Need::Btf,
        Need::Any(&[
            Need::Tracepoint("syscalls", "sys_enter_newfstatat"),
            Need::Tracepoint("syscalls", "sys_enter_fstatat64"),
            Need::Tracepoint("syscalls", "sys_enter_statx"),
        ]),
    ],
    main,
    selftest: SelfTest {
        args: |_| vec!["-x".to_string()],
        workload: selftest_workload,
    },
};

/// Stats a path that does not exist, named after the marker: nothing is created.
fn selftest_workload(marker: &str) -> std::io::Result<Vec<String>> {
    let path = format!("/nonexistent-{marker}");
    match std::fs::metadata(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(vec![path]),
        Ok(_) => Err(std::io::Error::other(format!("{path} exists"))),
        Err(e) => Err(e),
    }
}

/// How a syscall names its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Names {
    /// A path, relative to the working directory (`stat`).
    Path,
    /// An open descriptor (`fstat`).
    Fd,
    /// A path relative to a directory descriptor, with AT_* flags (`fstatat`, `statx`).
    At,
}

/// The stat-family syscalls, indexed by `enum statsnoop_syscall` (bpf/statsnoop.h). Each has
/// programs `tp_enter_<name>` and `tp_exit_<name>` for `syscalls:sys_{enter,exit}_<name>`.
pub const SYSCALLS: &[(&str, Names)] = &[
    ("statfs", Names::Path),
    ("fstatfs", Names::Fd),
    ("statfs64", Names::Path),
    ("fstatfs64", Names::Fd),
    ("newstat", Names::Path),
    ("newlstat", Names::Path),
    ("newfstat", Names::Fd),
    ("newfstatat", Names::At),
    ("statx", Names::At),
    ("stat64", Names::Path),
    ("lstat64", Names::Path),
    ("fstat64", Names::Fd),
    ("fstatat64", Names::At),
    ("stat", Names::Path),
    ("lstat", Names::Path),
    ("fstat", Names::Fd),
];

/// Mirrors STATSNOOP_PATH_MAX, STATSNOOP_AT_FDCWD and the STATSNOOP_F_* flags.
pub const PATH_MAX: usize = 4096;
pub const AT_FDCWD: i32 = -100;
const F_READ_ERROR: u32 = 1;
const F_TRUNCATED: u32 = 2;
/// include/uapi/linux/fcntl.h: the path is empty and the descriptor is the file.
const AT_EMPTY_PATH: u32 = 0x1000;

/// `struct statsnoop_event` without its path buffer (which follows it).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct EventHead {
    pub time_ns: u64,
    pub ret: i64,
    pub pid: u32,
    pub tid: u32,
    pub fd: i32,
    pub at_flags: u32,
    pub syscall: u32,
    pub path_size: u32,
    pub flags: u32,
    pub pad: u32,
    pub comm: [u8; 16],
}

/// `struct statsnoop_config`, the program's options in .rodata.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct Config {
    pub target_pid: u32,
    pub filter_pid: u8,
    pub failed_only: u8,
    pub pad: [u8; 2],
}

#[derive(FromArgs, Debug)]
/// Trace stat-family syscalls (stat, lstat, fstat, fstatat, statx, statfs, ...): who asks
/// about which file, and the result.
pub struct Args {
    /// trace this process (thread group) only
    #[argh(option, short = 'p', from_str_fn(parse_pid))]
    pub pid: Option<u32>,
    /// only failed calls
    #[argh(switch, short = 'x')]
    pub failed: bool,
    /// include a timestamp column (seconds since start)
    #[argh(switch, short = 't')]
    pub timestamp: bool,
    /// include the syscall's name
    #[argh(switch, short = 's')]
    pub sysname: bool,
    /// print JSON Lines (schema: docs/tools/statsnoop.md)
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
    short: "p",
    long: &["pid", "duration"],
};

pub fn parse_args(args: &[String]) -> Result<Args> {
    cli::parse("statsnoop", args, VALUED)
}

/// Which syscalls of [`SYSCALLS`] this kernel has both tracepoints for.
fn present() -> Vec<bool> {
    SYSCALLS
        .iter()
        .map(|(name, _)| {
            probe::tracepoint_exists("syscalls", &format!("sys_enter_{name}"))
                && probe::tracepoint_exists("syscalls", &format!("sys_exit_{name}"))
        })
        .collect()
}

fn main(args: &[String]) -> Result<()> {
    let args = parse_args(args)?;
    logging::verbose(args.verbose);
    probe::preflight("statsnoop", TOOL.needs)?;
    let mut obj = Object::open("statsnoop", STATSNOOP_BPF_OBJECT)?;
    let config = Config {
        target_pid: args.pid.unwrap_or(0),
        filter_pid: args.pid.is_some() as u8,
        failed_only: args.failed as u8,
        pad: [0; 2],
    };
    obj.set_rodata("config", &config)?;
    let present = present();
    if !present.contains(&true) {
        return Err(Error::new("this kernel has no stat syscall tracepoints")
            .code(EXIT_UNSUPPORTED)
            .hint(format!("enable {}", probe::tracepoint_config("syscalls"))));
    }
    for (&(name, _), &here) in SYSCALLS.iter().zip(&present) {
        if !here {
            obj.set_autoload(&format!("tp_enter_{name}"), false)?;
            obj.set_autoload(&format!("tp_exit_{name}"), false)?;
        }
    }
    obj.load()?;
    // Exits first: an entry is never recorded without its exit hook in place.
    let mut attached = Vec::new();
    for (&(name, _), &here) in SYSCALLS.iter().zip(&present) {
        if here {
            let (enter, exit) = (format!("sys_enter_{name}"), format!("sys_exit_{name}"));
            obj.attach_tracepoint(&format!("tp_exit_{name}"), "syscalls", &exit)?;
            obj.attach_tracepoint(&format!("tp_enter_{name}"), "syscalls", &enter)?;
            attached.push(name);
        }
    }
    run::install_signal_handlers()?;
    let absent: Vec<&str> = SYSCALLS
        .iter()
        .zip(&present)
        .filter(|(_, &here)| !here)
        .map(|(&(name, _), _)| name)
        .collect();
    log::debug!(
        "tracing: tracepoints syscalls:sys_{{enter,exit}}_{{{}}} (not on this kernel: {})",
        attached.join(","),
        if absent.is_empty() {
            "none".to_string()
        } else {
            absent.join(",")
        }
    );
    let mut printer = Printer::new(args, agent_core::output::Stdout);
    printer.header();
    run::stream_until(&obj, printer.args.duration, &mut printer)
}

/// Prints stat events.
pub struct Printer<W: Write> {
    pub args: Args,
    lines: Lines<W>,
    clock: Clock,
}

/// The syscall's name and how it names its file; `None` for an id this agent does not know.
fn syscall_of(id: u32) -> Option<(&'static str, Names)> {
    SYSCALLS.get(id as usize).copied()
}

impl<W: Write> Printer<W> {
    pub fn new(args: Args, out: W) -> Self {
        Printer {
            args,
            lines: Lines::new(out),
            clock: Clock::new(),
        }
    }

    fn header(&mut self) {
        if self.args.json {
            return;
        }
        let mut h = String::new();
        if self.args.timestamp {
            h.push_str(&format!("{:<14} ", "TIME(s)"));
        }
        h.push_str(&format!(
            "{:<7} {:<20} {:<4} {:<4}",
            "PID", "COMM", "RET", "ERR"
        ));
        if self.args.sysname {
            h.push_str(&format!(" {:<10}", "SYSCALL"));
        }
        h.push_str(" PATH\n");
        self.lines.buf().extend_from_slice(h.as_bytes());
    }

    fn text(&mut self, e: &EventHead, path: &[u8]) {
        let Some((name, names)) = syscall_of(e.syscall) else {
            return;
        };
        let mut s = String::with_capacity(96 + path.len());
        if self.args.timestamp {
            s.push_str(&format!("{:<14.9} ", self.clock.since_start(e.time_ns)));
        }
        let mut comm = String::new();
        text::push_escaped(&mut comm, cstr(&e.comm));
        let (ret, err) = if e.ret >= 0 { (e.ret, 0) } else { (-1, -e.ret) };
        s.push_str(&format!("{:<7} {comm:<20} {ret:<4} {err:<4}", e.pid));
        if self.args.sysname {
            s.push_str(&format!(" {name:<10}"));
        }
        s.push(' ');
        if e.flags & F_READ_ERROR != 0 {
            s.push_str("[path unreadable]");
        } else if names == Names::Fd
            || (path.is_empty() && e.at_flags & AT_EMPTY_PATH != 0 && e.fd != AT_FDCWD)
        {
            s.push_str(&format!("[fd {}]", e.fd));
        } else {
            text::push_escaped(&mut s, path);
            if e.flags & F_TRUNCATED != 0 {
                s.push_str("...");
            }
        }
        s.push('\n');
        self.lines.buf().extend_from_slice(s.as_bytes());
    }

    fn json(&mut self, e: &EventHead, path: &[u8]) {
        let Some((name, _)) = syscall_of(e.syscall) else {
            return;
        };
        let ts = time::rfc3339_utc(self.clock.wall_ns(e.time_ns));
        Obj::new(self.lines.buf())
            .str("type", "stat")
            .str("ts", &ts)
            .u64("time_ns", e.time_ns)
            .u64("pid", e.pid.into())
            .u64("tid", e.tid.into())
            .bytes("comm", cstr(&e.comm))
            .str("syscall", name)
            .i64("ret", e.ret)
            .bytes("path", path)
            .bool("path_truncated", e.flags & F_TRUNCATED != 0)
            .bool("path_read_error", e.flags & F_READ_ERROR != 0)
            .i64("fd", e.fd.into())
            .u64("at_flags", e.at_flags.into())
            .end();
    }
}

impl<W: Write> Consumer for Printer<W> {
    fn record(&mut self, data: &[u8]) -> Flow {
        if let Some(e) = read_record::<EventHead>(data) {
            let start = std::mem::size_of::<EventHead>();
            let end = (start + (e.path_size as usize).min(PATH_MAX)).min(data.len());
            // The path without its NUL.
            let path = cstr(&data[start..end]);
            if self.args.json {
                self.json(&e, path);
            } else {
                self.text(&e, path);
            }
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

#[cfg(test)]
mod tests;
