//! exitsnoop: trace process exits (BCC/libbpf-tools compatible).
//!
//! BPF side: `bpf/exitsnoop.bpf.c`, the `sched:sched_process_exit` tracepoint only. By default
//! one line per process, when its last thread exits; `-T` shows every thread.

use std::io::Write;
use std::time::Duration;

use argh::FromArgs;

use agent_core::bpf::Object;
use agent_core::cli::{self, parse_duration, parse_pid, Valued};
use agent_core::json::Obj;
use agent_core::output::{cstr, read_record, Lines};
use agent_core::probe::{self, Need};
use agent_core::run::{self, Consumer, Flow};
use agent_core::time::{self, Clock};
use agent_core::Result;

use super::{SelfTest, Tool};
use crate::bpf_objects::EXITSNOOP_BPF_OBJECT;
use crate::{logging, text};

pub const TOOL: Tool = Tool {
    name: "exitsnoop",
    about: "trace process exits: status or signal, parent and age",
    needs: &[Need::Btf, Need::Tracepoint("sched", "sched_process_exit")],
    main,
    selftest: SelfTest {
        args: |_| Vec::new(),
        workload: selftest_workload,
    },
};

/// Exit status of the self-test's shell: unlikely to be anything else's at that instant.
const SELFTEST_STATUS: i32 = 42;

/// Runs `/bin/sh -c 'exit 42'` and expects its exit, with its pid, parent (us) and status.
fn selftest_workload(_marker: &str) -> std::io::Result<Vec<String>> {
    let mut child = std::process::Command::new("/bin/sh")
        .args(["-c", &format!("exit {SELFTEST_STATUS}")])
        .spawn()?;
    let pid = child.id();
    let status = child.wait()?;
    if status.code() != Some(SELFTEST_STATUS) {
        return Err(std::io::Error::other(format!(
            "/bin/sh -c 'exit {SELFTEST_STATUS}' ended with {status}"
        )));
    }
    Ok(vec![selftest_expect(pid, std::process::id())])
}

/// The part of the JSON line the self-test's exit must produce (the fields are in this order).
fn selftest_expect(pid: u32, ppid: u32) -> String {
    format!("\"pid\":{pid},\"ppid\":{ppid},\"tid\":{pid},")
        + &format!("\"comm\":\"sh\",\"exit_code\":{SELFTEST_STATUS},\"signal\":0,")
}

/// `struct exitsnoop_event`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct Event {
    pub time_ns: u64,
    pub age_ns: u64,
    pub pid: u32,
    pub tid: u32,
    pub ppid: u32,
    pub status: i32,
    pub comm: [u8; 16],
}

/// `struct exitsnoop_config`, the program's options in .rodata.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct Config {
    pub target_pid: u32,
    pub filter_pid: u8,
    pub failed_only: u8,
    pub threads: u8,
    pub pad: u8,
}

#[derive(FromArgs, Debug)]
/// Trace process exits: exit status or the signal that killed it, parent, and age.
/// By default one line per process, when its last thread exits (-T: every thread).
pub struct Args {
    /// include a timestamp column (HH:MM:SS, local time)
    #[argh(switch, short = 't')]
    pub timestamp: bool,
    /// only failed exits: a non-zero status or killed by a signal
    #[argh(switch, short = 'x')]
    pub failed: bool,
    /// trace this process (thread group) only
    #[argh(option, short = 'p', from_str_fn(parse_pid))]
    pub pid: Option<u32>,
    /// trace every thread's exit, not just the process's
    #[argh(switch, short = 'T')]
    pub threads: bool,
    /// print JSON Lines (schema: docs/tools/exitsnoop.md)
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
    cli::parse("exitsnoop", args, VALUED)
}

fn main(args: &[String]) -> Result<()> {
    let args = parse_args(args)?;
    logging::verbose(args.verbose);
    probe::preflight("exitsnoop", TOOL.needs)?;
    let mut obj = Object::open("exitsnoop", EXITSNOOP_BPF_OBJECT)?;
    let config = Config {
        target_pid: args.pid.unwrap_or(0),
        filter_pid: args.pid.is_some() as u8,
        failed_only: args.failed as u8,
        threads: args.threads as u8,
        pad: 0,
    };
    obj.set_rodata("config", &config)?;
    obj.load()?;
    obj.attach_tracepoint("tp_sched_process_exit", "sched", "sched_process_exit")?;
    run::install_signal_handlers()?;
    log::debug!(
        "tracing: tracepoint sched:sched_process_exit ({})",
        if args.threads {
            "every thread"
        } else {
            "processes: their last thread's exit"
        }
    );
    let mut printer = Printer::new(args, agent_core::output::Stdout);
    printer.header();
    run::stream_until(&obj, printer.args.duration, &mut printer)
}

/// A wait(2) status taken apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    /// The exit status (0..=255) given to exit(); 0 when killed by a signal.
    pub code: i32,
    /// The signal that killed it, 0 if none.
    pub signal: i32,
    pub core_dumped: bool,
}

impl Status {
    pub fn from_raw(raw: i32) -> Status {
        Status {
            code: (raw >> 8) & 0xff,
            signal: raw & 0x7f,
            core_dumped: raw & 0x80 != 0,
        }
    }
}

/// The name of a signal on this architecture (`SIGKILL`); real-time ones as `SIGRTMIN+n`
/// counted from the kernel's first (32), unknown ones as `SIG<n>`.
pub fn signal_name(sig: i32) -> String {
    if let Ok(s) = nix::sys::signal::Signal::try_from(sig) {
        return s.as_str().to_string();
    }
    match sig {
        32..=64 => format!("SIGRTMIN+{}", sig - 32),
        _ => format!("SIG{sig}"),
    }
}

/// Prints exit events.
pub struct Printer<W: Write> {
    pub args: Args,
    lines: Lines<W>,
    clock: Clock,
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
            h.push_str(&format!("{:<8} ", "TIME"));
        }
        h.push_str(&format!(
            "{:<16} {:<7} {:<7} {:<7} {:<7} EXIT_CODE\n",
            "PCOMM", "PID", "PPID", "TID", "AGE(s)"
        ));
        self.lines.buf().extend_from_slice(h.as_bytes());
    }

    fn text(&mut self, e: &Event) {
        let mut s = String::with_capacity(96);
        if self.args.timestamp {
            s.push_str(&format!(
                "{:<8} ",
                time::hms_local(self.clock.wall_ns(e.time_ns))
            ));
        }
        let mut comm = String::new();
        text::push_escaped(&mut comm, cstr(&e.comm));
        s.push_str(&format!(
            "{comm:<16} {:<7} {:<7} {:<7} {:<7.2} ",
            e.pid,
            e.ppid,
            e.tid,
            e.age_ns as f64 / 1e9
        ));
        let st = Status::from_raw(e.status);
        if st.signal != 0 {
            s.push_str(&format!(
                "signal {} ({})",
                st.signal,
                signal_name(st.signal)
            ));
            if st.core_dumped {
                s.push_str(", core dumped");
            }
        } else if st.code != 0 {
            s.push_str(&format!("code {}", st.code));
        } else {
            s.push('0');
        }
        s.push('\n');
        self.lines.buf().extend_from_slice(s.as_bytes());
    }

    fn json(&mut self, e: &Event) {
        let ts = time::rfc3339_utc(self.clock.wall_ns(e.time_ns));
        let st = Status::from_raw(e.status);
        let mut o = Obj::new(self.lines.buf());
        o.str("type", "exit")
            .str("ts", &ts)
            .u64("time_ns", e.time_ns)
            .u64("pid", e.pid.into())
            .u64("ppid", e.ppid.into())
            .u64("tid", e.tid.into())
            .bytes("comm", cstr(&e.comm))
            .i64("exit_code", st.code.into())
            .i64("signal", st.signal.into());
        if st.signal != 0 {
            o.str("signal_name", &signal_name(st.signal));
        }
        o.bool("core_dumped", st.core_dumped)
            .u64("age_ns", e.age_ns)
            .end();
    }
}

impl<W: Write> Consumer for Printer<W> {
    fn record(&mut self, data: &[u8]) -> Flow {
        if let Some(e) = read_record::<Event>(data) {
            if self.args.json {
                self.json(&e);
            } else {
                self.text(&e);
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
