//! statsnoop: trace stat-family syscalls (BCC/libbpf-tools compatible).
//!
//! BPF side: `bpf/statsnoop.bpf.c`. Which stat syscalls exist depends on the architecture
//! (arm64 has no stat/lstat, only fstatat; 32-bit ones have stat64). On x86_64 and arm64 one
//! program on the raw tracepoint `raw_syscalls:sys_exit` picks them by number in both ABIs
//! (32-bit calls included); elsewhere the syscall tracepoints present are probed at start and
//! only those are attached.

use agent_core::prelude::*;

use crate::syscalls;

pub const TOOL: Spec = Spec {
    name: "statsnoop",
    about: "trace stat() calls: every stat-family syscall with its path and result",
    hooks: HOOKS,
    dynamic: &[],
    structs: &[EventHead::LAYOUT, Config::LAYOUT],
    start: tool::start::<Statsnoop>,
    selftest: SelfTest::new(selftest_workload)
        .args(|_| vec!["-x".to_string()])
        .storm(storm),
};

/// Failing stats of a path named after the marker, as fast as they go.
fn storm(marker: &str, until: std::time::Instant) -> std::io::Result<u64> {
    let path = format!("/nonexistent-{marker}");
    let mut n = 0u64;
    while std::time::Instant::now() < until {
        for _ in 0..1000 {
            let _ = std::fs::metadata(&path);
        }
        n += 1000;
    }
    Ok(n)
}

/// Stats a path that does not exist, named after the marker: nothing is created.
fn selftest_workload(marker: &str) -> std::io::Result<Vec<String>> {
    let path = format!("/nonexistent-{marker}");
    match std::fs::metadata(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(vec![path]),
        Ok(_) => Err(std::io::Error::other(format!("{path} exists"))),
        Err(e) => Err(e),
    }
}

#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
const HOOKS: &[Group] = &[Group::all(
    "",
    &[Attach::new("raw_exit", Hook::RawTp("raw_syscalls", "sys_exit"))],
)
.text("raw tracepoint raw_syscalls:sys_exit")];
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
const HOOKS: &[Group] = &[Group::syscalls(
    "",
    &NAMES,
    Required::Any(&["newfstatat", "fstatat64", "statx"]),
    Exit::PerSyscall,
)];

/// The numbers of the stat family in each ABI (ids: index in SYSCALLS + 1). The UAPI names
/// are the syscall tables' (`stat` is sys_newstat, `oldstat` sys_stat, on every ABI).
fn table() -> syscalls::Table {
    let mut wanted: Vec<(u8, &[&str])> = Vec::new();
    for (i, (name, _)) in SYSCALLS.iter().enumerate() {
        let uapi: &[&str] = match *name {
            "newstat" => &["stat"],
            "newlstat" => &["lstat"],
            "newfstat" => &["fstat"],
            "stat" => &["oldstat"],
            "lstat" => &["oldlstat"],
            "fstat" => &["oldfstat"],
            _ => std::slice::from_ref(&SYSCALLS[i].0),
        };
        wanted.push((i as u8 + 1, uapi));
    }
    syscalls::Table::of(&wanted)
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

/// The names of [`SYSCALLS`], for the hooks.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
const NAMES: [&str; SYSCALLS.len()] = {
    let mut out = [""; SYSCALLS.len()];
    let mut i = 0;
    while i < SYSCALLS.len() {
        out[i] = SYSCALLS[i].0;
        i += 1;
    }
    out
};

/// Mirrors STATSNOOP_PATH_MAX, STATSNOOP_AT_FDCWD and the STATSNOOP_F_* flags.
pub const PATH_MAX: usize = 4096;
pub const AT_FDCWD: i32 = -100;
const F_READ_ERROR: u32 = 1;
const F_TRUNCATED: u32 = 2;
/// include/uapi/linux/fcntl.h: the path is empty and the descriptor is the file.
const AT_EMPTY_PATH: u32 = 0x1000;

agent_core::pod! {
    /// `struct statsnoop_event` without its path buffer (which follows it).
    pub struct EventHead = "statsnoop_event", tail { path: PATH_MAX } {
        time_ns: u64, ret: i64,
        pid: u32, tid: u32, fd: i32, at_flags: u32, syscall: u32, path_size: u32, flags: u32,
        compat: u32,
        comm: [u8; 16],
    }

    /// The program's options in .rodata.
    pub struct Config = "statsnoop_config" {
        target_pid: u32,
        filter_pid: u8, failed_only: u8,
        pad: [u8; 2],
        sys: syscalls::Table,
    }
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
}

agent_core::args_tool!(Statsnoop);

impl Handler for Statsnoop {
    fn configure(&mut self, obj: &mut Object, _: &Plan) -> Result<()> {
        let (target_pid, filter_pid) = pid_filter(self.args.pid);
        let failed_only = self.args.failed as u8;
        obj.set_config(&Config {
            target_pid,
            filter_pid,
            failed_only,
            pad: [0; 2],
            sys: table(),
        })
    }

    fn note(&self) -> String {
        table().note().unwrap_or_default()
    }

    fn header(&mut self, out: &mut Out) {
        let a = &self.args;
        out.columns(&[
            (a.timestamp, "TIME(s)        "),
            (true, "PID     COMM                 RET  ERR "),
            (a.sysname, " SYSCALL   "),
            (true, " PATH\n"),
        ]);
    }

    fn record(&mut self, _: usize, data: &[u8], out: &mut Out) {
        let Some((e, path)) = pod::read_tail(data, PATH_MAX, |e: &EventHead| e.path_size as usize)
        else {
            return;
        };
        // The path without its NUL.
        let path = cstr(path);
        let Some((name, names)) = syscall_of(e.syscall) else {
            return;
        };
        if out.json() {
            out.event("stat", e.time_ns)
                .u64("pid", e.pid.into())
                .u64("tid", e.tid.into())
                .bytes("comm", cstr(&e.comm))
                .str("syscall", name)
                .str("abi", syscalls::abi(e.compat != 0).name)
                .i64("ret", e.ret)
                .bytes("path", path)
                .bool("path_truncated", e.flags & F_TRUNCATED != 0)
                .bool("path_read_error", e.flags & F_READ_ERROR != 0)
                .i64("fd", e.fd.into())
                .u64("at_flags", e.at_flags.into())
                .end();
            return;
        }
        let mut s = out.take_line();
        if self.args.timestamp {
            let _ = write!(s, "{:<14} ", out.clock().since_start(e.time_ns, 9));
        }
        let (ret, err) = if e.ret >= 0 { (e.ret, 0) } else { (-1, -e.ret) };
        let _ = write!(s, "{:<7} ", e.pid);
        push_escaped_left(&mut s, cstr(&e.comm), 20);
        let _ = write!(s, " {ret:<4} {err:<4}");
        if self.args.sysname {
            let _ = write!(s, " {name:<10}");
        }
        s.push(' ');
        if e.flags & F_READ_ERROR != 0 {
            s.push_str("[path unreadable]");
        } else if names == Names::Fd
            || (path.is_empty() && e.at_flags & AT_EMPTY_PATH != 0 && e.fd != AT_FDCWD)
        {
            let _ = write!(s, "[fd {}]", e.fd);
        } else {
            push_escaped(&mut s, path);
            if e.flags & F_TRUNCATED != 0 {
                s.push_str("...");
            }
        }
        s.push('\n');
        out.put_line(s);
    }
}

/// The syscall's name and how it names its file; `None` for an id this agent does not know.
fn syscall_of(id: u32) -> Option<(&'static str, Names)> {
    SYSCALLS.get(id as usize).copied()
}

#[cfg(test)]
mod tests;
