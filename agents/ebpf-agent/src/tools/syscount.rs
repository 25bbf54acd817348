//! syscount: count syscalls, per syscall or per process, with their time (libbpf-tools
//! compatible).
//!
//! BPF side: `bpf/syscount.bpf.c` on `raw_syscalls:sys_exit` (and `sys_enter` for -L), raw
//! tracepoints on x86_64 and arm64, where 32-bit calls are told apart and named from their own
//! table. The kernel counts; every interval the agent drains the map and prints the top rows.

use std::time::Duration;

use agent_core::prelude::*;

use crate::syscalls::{self, errnos};

pub const TOOL: Spec = Spec {
    name: "syscount",
    about: "count syscalls per syscall or per process, with their time (-L)",
    hooks: &[
        Group::all("", &[SYS_EXIT]),
        // -L: when each syscall started; a thread's slot goes when the thread does.
        Group::all(
            "latency",
            &[
                SYS_ENTER,
                tracepoint("sched_exit", "sched", "sched_process_exit"),
            ],
        )
        .off(),
    ],
    dynamic: &[],
    structs: &[Value::LAYOUT, Config::LAYOUT],
    start: tool::start::<Syscount>,
    selftest: SelfTest::new(selftest_workload)
        .args(|_| tool::own_pid_and(&[&"-T", &1000]))
        .storm(storm),
};

/// raw_syscalls as raw tracepoints where bpf/syscalls.h reads the ABI from the registers.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
const SYS_EXIT: Attach = Attach::new("sys_exit", Hook::RawTp("raw_syscalls", "sys_exit"));
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
const SYS_ENTER: Attach = Attach::new("sys_enter", Hook::RawTp("raw_syscalls", "sys_enter"));
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
const SYS_EXIT: Attach = tracepoint("sys_exit", "raw_syscalls", "sys_exit");
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
const SYS_ENTER: Attach = tracepoint("sys_enter", "raw_syscalls", "sys_enter");

/// Mirrors SYSCOUNT_KEY_COMPAT: a key of the 32-bit ABI's syscall numbers.
const KEY_COMPAT: u32 = 0x8000_0000;

/// getppid() as fast as it goes, in this process (the one `-p` traces).
fn storm(_marker: &str, until: std::time::Instant) -> std::io::Result<u64> {
    let mut n = 0u64;
    while std::time::Instant::now() < until {
        for _ in 0..1000 {
            std::hint::black_box(std::os::unix::process::parent_id());
        }
        n += 1000;
    }
    Ok(n)
}

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
        "{{\"syscall\":\"getppid\",\"id\":{id},\"abi\":\"{}\",\"count\":{SELFTEST_CALLS}",
        syscalls::NATIVE.name
    )])
}

/// The name of syscall `id` on the architecture this agent was built for.
#[cfg(test)]
pub fn syscall_name(id: u32) -> Option<&'static str> {
    syscalls::NATIVE.name_of(id)
}

/// The number of syscall `name`.
pub fn syscall_number(name: &str) -> Option<u32> {
    syscalls::NATIVE.number(name)
}

/// A row key by syscall: the ABI it came through and its number there.
fn key_abi(key: u32) -> (&'static syscalls::Abi, u32) {
    (syscalls::abi(key & KEY_COMPAT != 0), key & !KEY_COMPAT)
}

/// How a row names syscall `key`: `openat`, `getpid (i386)` for the 32-bit ABI's, or
/// `[unknown: N]` when the tables lack it.
fn key_name(key: u32, out: &mut String) {
    let (abi, nr) = key_abi(key);
    match abi.name_of(nr) {
        Some(name) => out.push_str(name),
        None => {
            let _ = write!(out, "[unknown: {nr}]");
        }
    }
    if key & KEY_COMPAT != 0 {
        let _ = write!(out, " ({})", abi.name);
    }
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

agent_core::pod! {
    /// `struct syscount_value`.
    pub struct Value = "syscount_value" {
        count: u64, total_ns: u64,
        comm: [u8; 16],
    }

    /// The program's options in .rodata.
    pub struct Config = "syscount_config" {
        target_pid: u32, errno_value: u32,
        filter_pid: u8, failures_only: u8, filter_errno: u8, latency: u8, per_process: u8,
        pad: [u8; 3],
    }
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
    #[argh(option, short = 'p', from_str_fn(parse_pid))]
    pub pid: Option<u32>,
    /// print a summary at this interval (5, 500ms, ...); 0: only at the end (default)
    #[argh(option, short = 'i', from_str_fn(parse_interval))]
    pub interval: Option<Duration>,
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
}

fn list() -> Result<String> {
    let mut out = String::new();
    for (id, name) in syscalls::NATIVE.entries() {
        let _ = writeln!(out, "{id:3}: {name}");
    }
    if syscalls::COMPAT.entries().next().is_some() {
        let _ = writeln!(out, "32-bit ({}):", syscalls::COMPAT.name);
        for (id, name) in syscalls::COMPAT.entries() {
            let _ = writeln!(out, "{id:3}: {name}");
        }
    }
    if out.is_empty() {
        return Err(Error::new(format!(
            "no syscall names for {}: syscalls show by number",
            std::env::consts::ARCH
        )));
    }
    Ok(out)
}

impl Tool for Syscount {
    type Args = Args;
    const DURATION_SHORT: Option<char> = Some('d');
    fn new(args: Args, _: &Common) -> Result<Self> {
        if args.list {
            return Err(Error::done(list()?));
        }
        if args.top == 0 {
            return Err(Error::usage("-T/--top must be at least 1"));
        }
        Ok(Syscount { args })
    }
}

impl Handler for Syscount {
    fn choose(&self, c: &mut Choices) {
        // Without -L nothing needs the syscall's start: the enter program is left out.
        c.set("latency", self.args.latency);
    }

    fn configure(&mut self, obj: &mut Object, _: &Plan) -> Result<()> {
        let a = &self.args;
        let [(target_pid, filter_pid), (errno_value, filter_errno)] = [a.pid, a.errno].map(pid_filter);
        obj.set_config(&Config {
            target_pid,
            errno_value,
            filter_pid,
            failures_only: a.failures as u8,
            filter_errno,
            latency: a.latency as u8,
            per_process: a.process as u8,
            pad: [0; 3],
        })
    }

    fn header(&mut self, out: &mut Out) {
        if !out.json() {
            out.push(&format!(
                "Tracing syscalls, printing top {}... Ctrl+C to quit.\n",
                self.args.top
            ));
        }
    }

    fn schedule(&self) -> Option<IntervalOptions> {
        Some(IntervalOptions::every(self.args.interval.filter(|i| !i.is_zero()), None))
    }

    fn report(&mut self, obj: &Object, tick: &Tick, out: &mut Out) -> Result<()> {
        let rows = maps::drain_hash::<u32, Value>(obj, "counts")?;
        self.interval(tick, rows, out);
        Ok(())
    }
}

/// Sorts, cuts and prints the counters of each interval.
pub struct Syscount {
    args: Args,
}

impl Syscount {
    /// The report of one interval: `rows` as drained from the kernel, in any order.
    pub fn interval(&mut self, tick: &Tick, mut rows: Vec<(u32, Value)>, out: &mut Out) {
        let total_rows = rows.len();
        if self.args.latency {
            agent_core::sort::sort_by(&mut rows, |a, b| {
                b.1.total_ns.cmp(&a.1.total_ns).then(a.0.cmp(&b.0))
            });
        } else {
            agent_core::sort::sort_by(&mut rows, |a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(&b.0)));
        }
        rows.truncate(self.args.top);
        if out.json() {
            self.json(tick, &rows, total_rows, out);
        } else {
            self.text(tick, &rows, out);
        }
    }

    fn time_column(&self) -> (&'static str, i128) {
        if self.args.milliseconds {
            ("TIME (ms)", 1_000_000)
        } else {
            ("TIME (us)", 1_000)
        }
    }

    fn text(&self, tick: &Tick, rows: &[(u32, Value)], out: &mut Out) {
        let mut s = String::from("[");
        out.push_hms(&mut s, tick.end_ns);
        s.push_str("]\n");
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
                let _ = write!(s, "{key:<6} ");
                push_escaped_left(&mut s, cstr(&v.comm), 15);
                let _ = write!(s, " {:>8}", v.count);
            } else {
                let mut name = String::new();
                key_name(*key, &mut name);
                s.push_str(&format!("{name:<22} {:>8}", v.count));
            }
            if self.args.latency {
                let _ = write!(s, " {:>16}", Fixed::ratio(v.total_ns.into(), per_unit, 3));
            }
            s.push('\n');
        }
        s.push('\n');
        out.push(&s);
    }

    fn json(&self, tick: &Tick, rows: &[(u32, Value)], total_rows: usize, out: &mut Out) {
        let (process, latency) = (self.args.process, self.args.latency);
        out.interval(tick)
            .str("by", if process { "process" } else { "syscall" })
            .objects("rows", rows, |r, (key, v)| {
                if process {
                    r.u64("pid", (*key).into()).bytes("comm", cstr(&v.comm));
                } else {
                    let (abi, nr) = key_abi(*key);
                    match abi.name_of(nr) {
                        Some(name) => r.str("syscall", name),
                        None => r.str("syscall", &format!("[unknown: {nr}]")),
                    };
                    r.u64("id", nr.into()).str("abi", abi.name);
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
