//! opensnoop: trace open(), openat() and openat2() (BCC/libbpf-tools compatible).
//!
//! BPF side: `bpf/opensnoop.bpf.c`: the raw tracepoint `raw_syscalls:sys_exit` on x86_64 and
//! arm64 (every ABI, 32-bit calls included), syscall tracepoints elsewhere. One record per call
//! that returned; pid, tid, uid and failed-only filters run in the kernel, `-n` here.

use agent_core::openflags::push_open_flags;
use agent_core::prelude::*;

use crate::syscalls;

pub const TOOL: Spec = Spec {
    name: "opensnoop",
    about: "trace open() calls: path, flags, and the fd or error",
    hooks: HOOKS,
    dynamic: &[],
    structs: &[EventHead::LAYOUT, Config::LAYOUT],
    start: tool::start::<Opensnoop>,
    selftest: SelfTest::new(selftest_workload).storm(storm),
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

/// Failing opens of a path named after the marker, as fast as they go.
fn storm(marker: &str, until: std::time::Instant) -> std::io::Result<u64> {
    let path = std::ffi::CString::new(format!("/nonexistent-ebpf-verify/{marker}"))?;
    let mut n = 0u64;
    while std::time::Instant::now() < until {
        for _ in 0..1000 {
            // SAFETY: a NUL-terminated path; a failing open returns -1 and touches nothing.
            unsafe { libc::open(path.as_ptr(), libc::O_RDONLY) };
        }
        n += 1000;
    }
    Ok(n)
}

/// Syscalls traced, where the kernel has them (arm64 has no open()), by `enum
/// opensnoop_syscall`.
const SYSCALLS: &[&str] = &["open", "openat", "openat2"];

/// One program on every syscall's exit, which picks the opens by number.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
const HOOKS: &[Group] = &[Group::all(
    "",
    &[Attach::new("raw_exit", Hook::RawTp("raw_syscalls", "sys_exit"))],
)
.text("raw tracepoint raw_syscalls:sys_exit")];
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
const HOOKS: &[Group] = &[Group::syscalls(
    "",
    SYSCALLS,
    Required::All(&["openat"]),
    Exit::Shared("tp_exit"),
)];

/// The numbers of the opens in each ABI, for the raw tracepoint (ids from 1, as SYSCALLS).
fn table() -> syscalls::Table {
    syscalls::Table::of(&[(1, &["open"]), (2, &["openat"]), (3, &["openat2"])])
}

/// Mirrors OPENSNOOP_PATH_BUF in bpf/opensnoop.h.
pub const PATH_BUF: usize = 8192;
const P_READ_ERROR: u16 = 1;
const P_FULL: u16 = 2;
const P_CUT: u16 = 4;

agent_core::pod! {
    /// `struct opensnoop_event` without its path buffer (which follows it).
    pub struct EventHead = "opensnoop_event", tail { path: PATH_BUF } {
        time_ns: u64, flags: u64,
        pid: u32, tid: u32, uid: u32, ret: i32, mode: u32, dfd: i32,
        syscall: u8, compat: u8, path_flags: u16,
        path_len: u32,
        comm: [u8; 16],
    }

    /// The program's options in .rodata.
    pub struct Config = "opensnoop_config" {
        target_pid: u32, target_tid: u32, target_uid: u32,
        filter_pid: u8, filter_tid: u8, filter_uid: u8, failed_only: u8, full_path: u8,
        pad: [u8; 7],
        sys: syscalls::Table,
    }
}

#[derive(FromArgs, Debug)]
/// Trace open family syscalls (open, openat, openat2): who opened which path, with which
/// flags, and the file descriptor or error it got.
pub struct Args {
    /// print extended fields (the open flags, in octal)
    #[argh(switch, short = 'e')]
    pub extended_fields: bool,
    /// only print processes whose name contains NAME
    #[argh(option, short = 'n')]
    pub name: Option<String>,
    /// trace this process only
    #[argh(option, short = 'p', from_str_fn(parse_pid))]
    pub pid: Option<u32>,
    /// trace this thread only
    #[argh(option, short = 't', from_str_fn(parse_pid))]
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
}

agent_core::args_tool!(Opensnoop, duration_short = 'd');

impl Handler for Opensnoop {
    fn configure(&mut self, obj: &mut Object, _: &Plan) -> Result<()> {
        let a = &self.args;
        let [(target_pid, filter_pid), (target_tid, filter_tid), (target_uid, filter_uid)] =
            [a.pid, a.tid, a.uid].map(pid_filter);
        obj.set_config(&Config {
            target_pid,
            target_tid,
            target_uid,
            filter_pid,
            filter_tid,
            filter_uid,
            failed_only: a.failed as u8,
            full_path: a.full_path as u8,
            pad: [0; 7],
            sys: table(),
        })
    }

    fn note(&self) -> String {
        let mut note = table().note().unwrap_or_default();
        if self.args.full_path {
            if !note.is_empty() {
                note.push_str("; ");
            }
            note.push_str("-F resolves relative names in the kernel");
        }
        note
    }

    fn header(&mut self, out: &mut Out) {
        let a = &self.args;
        out.columns(&[
            (a.timestamp, "TIME     "),
            (a.print_uid, "UID     "),
            (true, "PID    COMM              FD ERR "),
            (a.extended_fields, "FLAGS    "),
            (true, "PATH\n"),
        ]);
    }

    fn record(&mut self, _: usize, data: &[u8], out: &mut Out) {
        let Some((head, path)) = pod::read_tail(data, PATH_BUF, |h: &EventHead| h.path_len as usize)
        else {
            return;
        };
        let comm = cstr(&head.comm);
        if let Some(name) = &self.args.name {
            if !contains(comm, name.as_bytes()) {
                return;
            }
        }
        if out.json() {
            json(&head, comm, path, out);
        } else {
            self.text(&head, comm, path, out);
        }
    }
}

impl Opensnoop {
    fn text(&self, e: &EventHead, comm: &[u8], path: &[u8], out: &mut Out) {
        let mut s = out.take_line();
        if self.args.timestamp {
            out.push_hms(&mut s, e.time_ns);
            s.push(' ');
        }
        if self.args.print_uid {
            let _ = write!(s, "{:<7} ", e.uid);
        }
        let (fd, err) = fd_err(e.ret);
        let _ = write!(s, "{:<6} ", e.pid);
        push_escaped_left(&mut s, comm, 16);
        let _ = write!(s, " {fd:>3} {err:>3} ");
        if self.args.extended_fields {
            let _ = write!(s, "{:08o} ", e.flags);
        }
        push_escaped(&mut s, path);
        s.push('\n');
        out.put_line(s);
    }
}

fn json(e: &EventHead, comm: &[u8], path: &[u8], out: &mut Out) {
    let mut flags_text = out.take_line();
    push_open_flags(&mut flags_text, e.flags);
    let (fd, err) = fd_err(e.ret);
    out.event("open", e.time_ns)
        .u64("pid", e.pid.into())
        .u64("tid", e.tid.into())
        .u64("uid", e.uid.into())
        .bytes("comm", comm)
        .str("syscall", syscall_name(e.syscall))
        .str("abi", syscalls::abi(e.compat != 0).name)
        .i64("dfd", e.dfd.into())
        .u64("flags", e.flags)
        .str("flags_text", &flags_text)
        .u64("mode", e.mode.into())
        .i64("ret", e.ret.into())
        .i64("fd", fd.into())
        .u64("err", err.into())
        .bytes("path", path)
        .bool("path_full", e.path_flags & P_FULL != 0)
        .bool("path_incomplete", e.path_flags & P_CUT != 0)
        .bool("path_read_error", e.path_flags & P_READ_ERROR != 0)
        .end();
    flags_text.clear();
    out.put_line(flags_text);
}

/// BCC's FD and ERR columns: the descriptor or -1, and the errno or 0.
fn fd_err(ret: i32) -> (i32, u32) {
    if ret >= 0 {
        (ret, 0)
    } else {
        (-1, ret.unsigned_abs())
    }
}

fn syscall_name(n: u8) -> &'static str {
    SYSCALLS.get((n as usize).wrapping_sub(1)).unwrap_or(&"unknown")
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests;
