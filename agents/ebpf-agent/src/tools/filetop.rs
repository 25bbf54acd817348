//! filetop: reads and writes per file and thread, top-style (BCC/libbpf-tools compatible).
//!
//! BPF side: `bpf/filetop.bpf.c`. Kprobes on vfs_read/vfs_write where the kernel has them, else
//! the read/write family's syscall tracepoints with the fd resolved in the kernel (libbpf-tools'
//! filetop needs kprobes; this one runs without). The kernel counts; every interval the agent
//! drains the map and prints the top rows.

use std::io::Write;
use std::time::Duration;

use argh::FromArgs;

use agent_core::bpf::Object;
use agent_core::cli::{self, parse_duration, Valued};
use agent_core::error::{Error, EXIT_UNSUPPORTED};
use agent_core::interval::{self, IntervalOptions, LostCounter, Tick};
use agent_core::json::Obj;
use agent_core::maps;
use agent_core::output::{cstr, Lines};
use agent_core::probe::{self, Need};
use agent_core::run::{self, Flow};
use agent_core::syscalls;
use agent_core::time::{self, Clock};
use agent_core::Result;

use super::{SelfTest, Tool};
use crate::bpf_objects::FILETOP_BPF_OBJECT;
use crate::{logging, text};

pub const TOOL: Tool = Tool {
    name: "filetop",
    about: "file reads and writes by file and thread, top-style",
    needs: &[
        Need::Btf,
        // The tracepoint first: where it is there, the long list of kprobe-able functions
        // need not be read just to know the tool can run.
        Need::Any(&[
            Need::Tracepoint("syscalls", "sys_enter_read"),
            Need::Kprobe("vfs_read"),
        ]),
    ],
    main,
    selftest: SelfTest {
        args: |_| {
            vec![
                "-p".into(),
                std::process::id().to_string(),
                "-r".into(),
                ROWS_LIMIT.to_string(),
            ]
        },
        workload: selftest_workload,
    },
};

/// The syscalls of the tracepoint path (each takes the fd first), as in bpf/filetop.bpf.c.
pub const FD_SYSCALLS: &[&str] = &[
    "read", "pread64", "readv", "preadv", "preadv2", "write", "pwrite64", "writev", "pwritev",
    "pwritev2",
];
/// The kprobe path's programs: (program, function).
const KPROBES: &[&str] = &[
    "kp_vfs_read",
    "krp_vfs_read",
    "kp_vfs_write",
    "krp_vfs_write",
];

/// Mirrors FILETOP_MAX_ENTRIES: no more rows than the map holds.
pub const ROWS_LIMIT: usize = 10240;

/// Writes 3 x 1000 bytes to a file named after the marker in the temporary directory, reads
/// them back in one read (and the read that finds the end), removes it. Expects its row.
fn selftest_workload(marker: &str) -> std::io::Result<Vec<String>> {
    use std::io::Read;
    use std::os::unix::fs::MetadataExt;
    let path = std::env::temp_dir().join(marker);
    let result = (|| {
        let mut f = std::fs::File::create(&path)?;
        for _ in 0..3 {
            f.write_all(&[b'x'; 1000])?;
        }
        drop(f);
        let mut f = std::fs::File::open(&path)?;
        let mut buf = vec![0u8; 4096];
        let (a, b) = (f.read(&mut buf)?, f.read(&mut buf)?);
        if (a, b) != (3000, 0) {
            return Err(std::io::Error::other(format!("read {a} then {b} bytes")));
        }
        f.metadata().map(|m| m.ino())
    })();
    let _ = std::fs::remove_file(&path);
    Ok(vec![selftest_expect(marker, result?)])
}

/// The part of the JSON row the self-test's file must produce (the fields are in this order).
fn selftest_expect(name: &str, ino: u64) -> String {
    format!(
        "\"file\":\"{name}\",\"ino\":{ino},\"file_type\":\"regular\",\"reads\":2,\"writes\":3,\
         \"read_bytes\":3000,\"write_bytes\":3000}}"
    )
}

/// `struct filetop_key`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Key {
    pub inode: u64,
    pub pid: u32,
    pub tid: u32,
}

/// `struct filetop_value`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Value {
    pub reads: u64,
    pub writes: u64,
    pub read_bytes: u64,
    pub write_bytes: u64,
    pub ino: u64,
    pub kind: u32,
    pub pad: u32,
    pub comm: [u8; 16],
    pub name: [u8; 256],
}

impl Default for Value {
    fn default() -> Self {
        Value {
            reads: 0,
            writes: 0,
            read_bytes: 0,
            write_bytes: 0,
            ino: 0,
            kind: 0,
            pad: 0,
            comm: [0; 16],
            name: [0; 256],
        }
    }
}

/// `struct filetop_config`, the program's options in .rodata.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct Config {
    pub target_pid: u32,
    pub filter_pid: u8,
    pub regular_only: u8,
    pub pad: [u8; 2],
}

/// The `type` of a row (enum filetop_type): (T column, JSON name).
fn kind(k: u32) -> (char, &'static str) {
    match k {
        0 => ('R', "regular"),
        1 => ('S', "socket"),
        _ => ('O', "other"),
    }
}

/// `-s`: what the rows are sorted by, largest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sort {
    All,
    Reads,
    Writes,
    Rbytes,
    Wbytes,
}

fn parse_sort(s: &str) -> std::result::Result<Sort, String> {
    Ok(match s {
        "all" => Sort::All,
        "reads" => Sort::Reads,
        "writes" => Sort::Writes,
        "rbytes" => Sort::Rbytes,
        "wbytes" => Sort::Wbytes,
        _ => {
            return Err(format!(
                "bad sort {s:?}: all, reads, writes, rbytes or wbytes"
            ))
        }
    })
}

/// Which hooks: the best this kernel has, or one forced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hook {
    Auto,
    Kprobe,
    Tracepoint,
}

fn parse_hook(s: &str) -> std::result::Result<Hook, String> {
    Ok(match s {
        "auto" => Hook::Auto,
        "kprobe" => Hook::Kprobe,
        "tracepoint" => Hook::Tracepoint,
        _ => return Err(format!("bad hook {s:?}: auto, kprobe or tracepoint")),
    })
}

/// `[interval]`: seconds like libbpf-tools (`5`), or with a unit (`500ms`).
fn parse_interval(s: &str) -> std::result::Result<Duration, String> {
    parse_duration(s).map_err(|e| format!("interval: {e}"))
}

fn parse_count(s: &str) -> std::result::Result<u64, String> {
    match s.parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("count: must be a positive number, not {s:?}")),
    }
}

#[derive(FromArgs, Debug)]
/// File reads and writes by file and thread, every interval (default 1 s), largest first.
/// Only regular files unless -a.
pub struct Args {
    /// trace this process only
    #[argh(option, short = 'p')]
    pub pid: Option<u32>,
    /// don't clear the screen between intervals
    #[argh(switch, short = 'C')]
    pub noclear: bool,
    /// include every kind of file (sockets, pipes, devices), not just regular files
    #[argh(switch, short = 'a')]
    pub all: bool,
    /// sort by all (the default: calls and bytes summed), reads, writes, rbytes or wbytes
    #[argh(option, short = 's', default = "Sort::All", from_str_fn(parse_sort))]
    pub sort: Sort,
    /// rows to print per interval (default 20)
    #[argh(option, short = 'r', default = "20")]
    pub rows: usize,
    /// hooks: auto (kprobes if the kernel has them), kprobe or tracepoint
    #[argh(option, default = "Hook::Auto", from_str_fn(parse_hook))]
    pub hook: Hook,
    /// print JSON Lines, one object per interval (schema: docs/tools/filetop.md)
    #[argh(switch)]
    pub json: bool,
    /// stop after this long (10, 30s, 5m, ...)
    #[argh(option, from_str_fn(parse_duration))]
    pub duration: Option<Duration>,
    /// verbose diagnostics on stderr (hooks picked, libbpf and verifier logs)
    #[argh(switch, short = 'v')]
    pub verbose: bool,
    /// seconds between reports (default 1; 500ms works too), then the number of reports
    /// (default: until stopped)
    #[argh(positional, arg_name = "interval [count]")]
    pub positional: Vec<String>,
}

impl Args {
    /// The positional `[interval] [count]`, checked.
    pub fn interval_count(&self) -> Result<(Option<Duration>, Option<u64>)> {
        let p = &self.positional;
        if p.len() > 2 {
            return Err(Error::usage(format!(
                "unexpected argument {:?}: filetop takes [interval] [count]",
                p[2]
            )));
        }
        let interval = p
            .first()
            .map(|s| parse_interval(s))
            .transpose()
            .map_err(Error::usage)?;
        let count = p
            .get(1)
            .map(|s| parse_count(s))
            .transpose()
            .map_err(Error::usage)?;
        Ok((interval, count))
    }
}

const VALUED: Valued = Valued {
    short: "psr",
    long: &["pid", "sort", "rows", "hook", "duration"],
};

pub fn parse_args(args: &[String]) -> Result<Args> {
    let a: Args = cli::parse("filetop", args, VALUED)?;
    if a.pid == Some(0) {
        return Err(Error::usage("-p/--pid must be a process id, not 0"));
    }
    a.interval_count()?;
    if a.rows == 0 || a.rows > ROWS_LIMIT {
        return Err(Error::usage(format!(
            "-r/--rows must be 1..={ROWS_LIMIT}, not {}",
            a.rows
        )));
    }
    Ok(a)
}

/// Picks the hooks: kprobes on vfs_read and vfs_write if asked for or available.
fn pick_hook(asked: Hook) -> Result<Hook> {
    let kprobes = probe::kprobes_exist(&["vfs_read", "vfs_write"]);
    match asked {
        Hook::Auto if kprobes => Ok(Hook::Kprobe),
        Hook::Auto => Ok(Hook::Tracepoint),
        Hook::Kprobe if !kprobes => Err(Error::new(format!(
            "filetop --hook kprobe: {}",
            Need::Kprobe("vfs_read")
                .missing()
                .or_else(|| Need::Kprobe("vfs_write").missing())
                .unwrap_or_default()
        ))
        .code(EXIT_UNSUPPORTED)
        .hint(
            "use --hook tracepoint (or auto), or enable CONFIG_KPROBES and CONFIG_KPROBE_EVENTS",
        )),
        h => Ok(h),
    }
}

fn main(args: &[String]) -> Result<()> {
    let args = parse_args(args)?;
    logging::verbose(args.verbose);
    probe::preflight("filetop", TOOL.needs)?;
    let hook = pick_hook(args.hook)?;
    let mut obj = Object::open("filetop", FILETOP_BPF_OBJECT)?;
    let config = Config {
        target_pid: args.pid.unwrap_or(0),
        filter_pid: args.pid.is_some() as u8,
        regular_only: !args.all as u8,
        pad: [0; 2],
    };
    obj.set_rodata("config", &config)?;
    let what = if hook == Hook::Kprobe {
        for name in FD_SYSCALLS {
            obj.set_autoload(&format!("tp_enter_{name}"), false)?;
            obj.set_autoload(&format!("tp_exit_{name}"), false)?;
        }
        obj.load()?;
        for prog in KPROBES {
            obj.attach_auto(prog)?;
        }
        "kprobes on vfs_read and vfs_write (entry and return)".to_string()
    } else {
        for prog in KPROBES {
            obj.set_autoload(prog, false)?;
        }
        let have = syscalls::select(&mut obj, FD_SYSCALLS)?;
        if !have.contains(&"read") || !have.contains(&"write") {
            return Err(Error::new(
                "filetop: no syscalls:sys_{enter,exit}_{read,write} tracepoints on this kernel",
            )
            .code(EXIT_UNSUPPORTED)
            .hint(
                "enable CONFIG_FTRACE_SYSCALLS, or kprobes (CONFIG_KPROBES, CONFIG_KPROBE_EVENTS)",
            ));
        }
        obj.load()?;
        syscalls::attach(&mut obj, &have)?;
        format!("syscall tracepoints of {}", have.join(", "))
    };
    run::install_signal_handlers()?;
    log::debug!("tracing: {what}");
    let (interval, count) = args.interval_count()?;
    let opts = IntervalOptions {
        interval: Some(interval.unwrap_or(Duration::from_secs(1))),
        count,
        duration: args.duration,
    };
    let mut report = Report::new(args, agent_core::output::Stdout);
    let mut lost = LostCounter::default();
    interval::run(&opts, &mut |tick| {
        let rows = maps::drain_hash::<Key, Value>(&obj, "entries")?;
        if let Some((new, total)) = lost.update(obj.lost_events()) {
            report.lost(new, total);
        }
        Ok(report.interval(tick, rows, &loadavg()))
    })
}

/// /proc/loadavg without its newline, for the header line.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.trim_end().to_string())
        .unwrap_or_default()
}

/// Sorts, cuts and prints the rows of each interval.
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

    fn lost(&mut self, new: u64, total: u64) {
        let why = "a full map";
        self.lines
            .lost_because(self.args.json, &self.clock, new, total, why);
    }

    fn sort_value(&self, v: &Value) -> u64 {
        match self.args.sort {
            Sort::All => v.reads + v.writes + v.read_bytes + v.write_bytes,
            Sort::Reads => v.reads,
            Sort::Writes => v.writes,
            Sort::Rbytes => v.read_bytes,
            Sort::Wbytes => v.write_bytes,
        }
    }

    /// The report of one interval: `rows` as drained from the kernel, in any order.
    pub fn interval(&mut self, tick: &Tick, mut rows: Vec<(Key, Value)>, loadavg: &str) -> Flow {
        let total_rows = rows.len();
        rows.sort_by(|a, b| {
            self.sort_value(&b.1)
                .cmp(&self.sort_value(&a.1))
                .then(a.0.tid.cmp(&b.0.tid))
                .then(cstr(&a.1.name).cmp(cstr(&b.1.name)))
        });
        rows.truncate(self.args.rows);
        if self.args.json {
            self.json(tick, &rows, total_rows);
        } else {
            self.text(tick, &rows, loadavg);
        }
        self.lines.flush();
        if self.lines.broken() {
            Flow::Stop
        } else {
            Flow::Continue
        }
    }

    fn text(&mut self, tick: &Tick, rows: &[(Key, Value)], loadavg: &str) {
        let mut s = String::new();
        if !self.args.noclear {
            s.push_str("\x1b[H\x1b[2J");
        }
        let hms = time::hms_local(self.clock.wall_ns(tick.end_ns));
        // libbpf-tools prints /proc/loadavg with its newline, then one more: a blank line.
        s.push_str(&format!("{hms:>8} loadavg: {loadavg}\n\n"));
        s.push_str(&format!(
            "{:<7} {:<16} {:<6} {:<6} {:<7} {:<7} {:1} {}\n",
            "TID", "COMM", "READS", "WRITES", "R_Kb", "W_Kb", "T", "FILE"
        ));
        for (k, v) in rows {
            let mut comm = String::new();
            text::push_escaped(&mut comm, cstr(&v.comm));
            s.push_str(&format!(
                "{:<7} {comm:<16} {:<6} {:<6} {:<7} {:<7} {} ",
                k.tid,
                v.reads,
                v.writes,
                v.read_bytes / 1024,
                v.write_bytes / 1024,
                kind(v.kind).0
            ));
            text::push_escaped(&mut s, cstr(&v.name));
            s.push('\n');
        }
        s.push('\n');
        self.lines.buf().extend_from_slice(s.as_bytes());
    }

    fn json(&mut self, tick: &Tick, rows: &[(Key, Value)], total_rows: usize) {
        let ts = time::rfc3339_utc(self.clock.wall_ns(tick.end_ns));
        let mut o = Obj::new(self.lines.buf());
        o.str("type", "interval")
            .str("ts", &ts)
            .u64("time_ns", tick.end_ns)
            .u64("interval_ns", tick.length_ns())
            .objects("rows", rows, |r, (k, v)| {
                r.u64("pid", k.pid.into())
                    .u64("tid", k.tid.into())
                    .bytes("comm", cstr(&v.comm))
                    .bytes("file", cstr(&v.name))
                    .u64("ino", v.ino)
                    .str("file_type", kind(v.kind).1)
                    .u64("reads", v.reads)
                    .u64("writes", v.writes)
                    .u64("read_bytes", v.read_bytes)
                    .u64("write_bytes", v.write_bytes);
            })
            .u64("total_rows", total_rows as u64)
            .end();
    }
}

#[cfg(test)]
mod tests;
