//! syscount: count syscalls, per syscall or per process, with their time (libbpf-tools
//! compatible).
//!
//! BPF side: `bpf/syscount.bpf.c` on `raw_syscalls:sys_exit` (and `sys_enter` for -L). The
//! kernel counts; every interval the agent drains the map and prints the top rows.

use std::io::Write;
use std::time::Duration;

use argh::FromArgs;

use agent_core::bpf::Object;
use agent_core::cli::{self, parse_duration, Valued};
use agent_core::error::Error;
use agent_core::interval::{self, IntervalOptions, LostCounter, Tick};
use agent_core::json::Obj;
use agent_core::maps;
use agent_core::output::{cstr, Lines};
use agent_core::probe::{self, Need};
use agent_core::run::{self, Flow};
use agent_core::time::{self, Clock};
use agent_core::Result;

use super::{SelfTest, Tool};
use crate::bpf_objects::SYSCOUNT_BPF_OBJECT;
use crate::{logging, text};

mod errnos;
#[cfg(target_arch = "aarch64")]
#[path = "syscount/syscalls_aarch64.rs"]
mod table;
#[cfg(target_arch = "x86_64")]
#[path = "syscount/syscalls_x86_64.rs"]
mod table;
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
mod table {
    /// No generated table for this architecture: syscalls show by number.
    pub const SYSCALLS: &[(u32, &str)] = &[];
}

pub const TOOL: Tool = Tool {
    name: "syscount",
    about: "count syscalls per syscall or per process, with their time (-L)",
    needs: &[
        Need::Btf,
        Need::Tracepoint("raw_syscalls", "sys_enter"),
        Need::Tracepoint("raw_syscalls", "sys_exit"),
    ],
    main,
    selftest: SelfTest {
        args: |_| {
            vec![
                "-p".into(),
                std::process::id().to_string(),
                "-T".into(),
                "1000".into(),
            ]
        },
        workload: selftest_workload,
    },
};

/// getppid() calls the self-test makes: nothing else in the verifying process calls it.
const SELFTEST_CALLS: u32 = 1234;

/// Calls getppid() a known number of times in this process (the one `-p` traces) and expects
/// exactly that count in the report.
fn selftest_workload(_marker: &str) -> std::io::Result<Vec<String>> {
    let id = syscall_number("getppid")
        .ok_or_else(|| std::io::Error::other("no syscall table for this architecture"))?;
    for _ in 0..SELFTEST_CALLS {
        std::hint::black_box(std::os::unix::process::parent_id());
    }
    Ok(vec![format!(
        "{{\"syscall\":\"getppid\",\"id\":{id},\"count\":{SELFTEST_CALLS}"
    )])
}

/// The name of syscall `id` on the architecture this agent was built for.
pub fn syscall_name(id: u32) -> Option<&'static str> {
    let t = table::SYSCALLS;
    t.binary_search_by_key(&id, |&(n, _)| n)
        .ok()
        .map(|i| t[i].1)
}

/// The number of syscall `name`.
pub fn syscall_number(name: &str) -> Option<u32> {
    table::SYSCALLS
        .iter()
        .find(|&&(_, n)| n == name)
        .map(|&(id, _)| id)
}

/// An errno given by name (`ENOENT`, `EWOULDBLOCK`) or number.
pub fn parse_errno(s: &str) -> std::result::Result<u32, String> {
    if let Ok(n) = s.parse::<u32>() {
        return if (1..4096).contains(&n) {
            Ok(n)
        } else {
            Err(format!("errno {n} is out of range (1..4095)"))
        };
    }
    let upper = s.to_ascii_uppercase();
    let name = errnos::ERRNO_ALIASES
        .iter()
        .find(|(alias, _)| *alias == upper)
        .map_or(upper.as_str(), |(_, name)| name);
    errnos::ERRNOS
        .iter()
        .find(|(_, n)| *n == name)
        .map(|&(v, _)| v)
        .ok_or_else(|| format!("unknown errno {s:?}: give a name like ENOENT or a number"))
}

/// `struct syscount_value`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct Value {
    pub count: u64,
    pub total_ns: u64,
    pub comm: [u8; 16],
}

/// `struct syscount_config`, the program's options in .rodata.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct Config {
    pub target_pid: u32,
    pub errno_value: u32,
    pub filter_pid: u8,
    pub failures_only: u8,
    pub filter_errno: u8,
    pub latency: u8,
    pub per_process: u8,
    pub pad: [u8; 3],
}

/// `-i 0` (libbpf-tools: wait for the end) or a duration.
fn parse_interval(s: &str) -> std::result::Result<Duration, String> {
    if s.trim() == "0" {
        Ok(Duration::ZERO)
    } else {
        parse_duration(s)
    }
}

#[derive(FromArgs, Debug)]
/// Count syscalls, per syscall or per process (-P), and with -L the time spent in them.
/// Prints the top rows when it ends (Ctrl-C, -d) and, with -i, at every interval.
pub struct Args {
    /// trace this process only
    #[argh(option, short = 'p')]
    pub pid: Option<u32>,
    /// print a summary at this interval (5, 500ms, ...); 0: only at the end (default)
    #[argh(option, short = 'i', from_str_fn(parse_interval))]
    pub interval: Option<Duration>,
    /// total tracing duration (10, 30s, 5m, ...)
    #[argh(option, short = 'd', from_str_fn(parse_duration))]
    pub duration: Option<Duration>,
    /// print only the top N rows (default 10)
    #[argh(option, short = 'T', default = "10")]
    pub top: usize,
    /// count only failed syscalls
    #[argh(switch, short = 'x')]
    pub failures: bool,
    /// count only syscalls that failed with this errno (ENOENT, or a number)
    #[argh(option, short = 'e', from_str_fn(parse_errno))]
    pub errno: Option<u32>,
    /// measure the time spent in syscalls, and sort by it
    #[argh(switch, short = 'L')]
    pub latency: bool,
    /// show times in milliseconds (default: microseconds)
    #[argh(switch, short = 'm')]
    pub milliseconds: bool,
    /// count per process, not per syscall
    #[argh(switch, short = 'P')]
    pub process: bool,
    /// list the syscalls this agent knows by name, and exit
    #[argh(switch, short = 'l')]
    pub list: bool,
    /// print JSON Lines, one object per interval (schema: docs/tools/syscount.md)
    #[argh(switch)]
    pub json: bool,
    /// verbose diagnostics on stderr (hooks picked, libbpf and verifier logs)
    #[argh(switch, short = 'v')]
    pub verbose: bool,
}

const VALUED: Valued = Valued {
    short: "pidTe",
    long: &["pid", "interval", "duration", "top", "errno"],
};

pub fn parse_args(args: &[String]) -> Result<Args> {
    let a: Args = cli::parse("syscount", args, VALUED)?;
    if a.pid == Some(0) {
        return Err(Error::usage("-p/--pid must be a process id, not 0"));
    }
    if a.top == 0 {
        return Err(Error::usage("-T/--top must be at least 1"));
    }
    Ok(a)
}

fn list() -> Result<()> {
    let mut out = String::new();
    for (id, name) in table::SYSCALLS {
        out.push_str(&format!("{id:3}: {name}\n"));
    }
    if out.is_empty() {
        return Err(Error::new(format!(
            "no syscall names for {}: syscalls show by number",
            std::env::consts::ARCH
        )));
    }
    let _ = std::io::stdout().lock().write_all(out.as_bytes());
    Ok(())
}

fn main(args: &[String]) -> Result<()> {
    let args = parse_args(args)?;
    if args.list {
        return list();
    }
    logging::verbose(args.verbose);
    probe::preflight("syscount", TOOL.needs)?;
    let mut obj = Object::open("syscount", SYSCOUNT_BPF_OBJECT)?;
    let config = Config {
        target_pid: args.pid.unwrap_or(0),
        errno_value: args.errno.unwrap_or(0),
        filter_pid: args.pid.is_some() as u8,
        failures_only: args.failures as u8,
        filter_errno: args.errno.is_some() as u8,
        latency: args.latency as u8,
        per_process: args.process as u8,
        pad: [0; 3],
    };
    obj.set_rodata("config", &config)?;
    // Without -L nothing needs the syscall's start: leave the enter program out altogether.
    if !args.latency {
        obj.set_autoload("sys_enter", false)?;
        obj.set_autoload("sched_exit", false)?;
    }
    obj.load()?;
    if args.latency {
        obj.attach_tracepoint("sys_enter", "raw_syscalls", "sys_enter")?;
        obj.attach_tracepoint("sched_exit", "sched", "sched_process_exit")?;
    }
    obj.attach_tracepoint("sys_exit", "raw_syscalls", "sys_exit")?;
    run::install_signal_handlers()?;
    log::debug!(
        "tracing: tracepoint raw_syscalls:sys_exit{}",
        if args.latency {
            " and raw_syscalls:sys_enter, sched:sched_process_exit (for -L)"
        } else {
            ""
        }
    );
    let opts = IntervalOptions {
        interval: args.interval.filter(|i| !i.is_zero()),
        count: None,
        duration: args.duration,
    };
    let mut report = Report::new(args, agent_core::output::Stdout);
    report.banner();
    let mut lost = LostCounter::default();
    interval::run(&opts, &mut |tick| {
        let rows = maps::drain_hash::<u32, Value>(&obj, "counts")?;
        if let Some((new, total)) = lost.update(obj.lost_events()) {
            report.lost(new, total);
        }
        Ok(report.interval(tick, rows))
    })
}

/// Sorts, cuts and prints the counters of each interval.
pub struct Report<W: Write> {
    pub args: Args,
    lines: Lines<W>,
    clock: Clock,
}

impl<W: Write> Report<W> {
    pub fn new(args: Args, out: W) -> Self {
        Report {
            args,
            lines: Lines::new(out),
            clock: Clock::new(),
        }
    }

    fn banner(&mut self) {
        if !self.args.json {
            let s = format!(
                "Tracing syscalls, printing top {}... Ctrl+C to quit.\n",
                self.args.top
            );
            self.lines.buf().extend_from_slice(s.as_bytes());
            self.lines.flush();
        }
    }

    fn lost(&mut self, new: u64, total: u64) {
        let why = "a full map";
        self.lines
            .lost_because(self.args.json, &self.clock, new, total, why);
    }

    /// The report of one interval: `rows` as drained from the kernel, in any order.
    pub fn interval(&mut self, tick: &Tick, mut rows: Vec<(u32, Value)>) -> Flow {
        let total_rows = rows.len();
        if self.args.latency {
            rows.sort_by(|a, b| b.1.total_ns.cmp(&a.1.total_ns).then(a.0.cmp(&b.0)));
        } else {
            rows.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(&b.0)));
        }
        rows.truncate(self.args.top);
        if self.args.json {
            self.json(tick, &rows, total_rows);
        } else {
            self.text(tick, &rows);
        }
        self.lines.flush();
        if self.lines.broken() {
            Flow::Stop
        } else {
            Flow::Continue
        }
    }

    fn time_column(&self) -> (&'static str, f64) {
        if self.args.milliseconds {
            ("TIME (ms)", 1e6)
        } else {
            ("TIME (us)", 1e3)
        }
    }

    fn text(&mut self, tick: &Tick, rows: &[(u32, Value)]) {
        let mut s = format!("[{}]\n", time::hms_local(self.clock.wall_ns(tick.end_ns)));
        let (time_name, per_unit) = self.time_column();
        if self.args.process {
            s.push_str(&format!("{:<6} {:<15} {:>8}", "PID", "COMM", "COUNT"));
        } else {
            s.push_str(&format!("{:<22} {:>8}", "SYSCALL", "COUNT"));
        }
        if self.args.latency {
            s.push_str(&format!(" {time_name:>16}"));
        }
        s.push('\n');
        for (key, v) in rows {
            if self.args.process {
                let mut comm = String::new();
                text::push_escaped(&mut comm, cstr(&v.comm));
                s.push_str(&format!("{key:<6} {comm:<15} {:>8}", v.count));
            } else {
                let name =
                    syscall_name(*key).map_or_else(|| format!("[unknown: {key}]"), String::from);
                s.push_str(&format!("{name:<22} {:>8}", v.count));
            }
            if self.args.latency {
                s.push_str(&format!(" {:>16.3}", v.total_ns as f64 / per_unit));
            }
            s.push('\n');
        }
        s.push('\n');
        self.lines.buf().extend_from_slice(s.as_bytes());
    }

    fn json(&mut self, tick: &Tick, rows: &[(u32, Value)], total_rows: usize) {
        let ts = time::rfc3339_utc(self.clock.wall_ns(tick.end_ns));
        let (process, latency) = (self.args.process, self.args.latency);
        let mut o = Obj::new(self.lines.buf());
        o.str("type", "interval")
            .str("ts", &ts)
            .u64("time_ns", tick.end_ns)
            .u64("interval_ns", tick.length_ns())
            .str("by", if process { "process" } else { "syscall" })
            .objects("rows", rows, |r, (key, v)| {
                if process {
                    r.u64("pid", (*key).into()).bytes("comm", cstr(&v.comm));
                } else {
                    match syscall_name(*key) {
                        Some(name) => r.str("syscall", name),
                        None => r.str("syscall", &format!("[unknown: {key}]")),
                    };
                    r.u64("id", (*key).into());
                }
                r.u64("count", v.count);
                if latency {
                    r.u64("total_ns", v.total_ns);
                }
            })
            .u64("total_rows", total_rows as u64)
            .end();
    }
}

#[cfg(test)]
mod tests;
