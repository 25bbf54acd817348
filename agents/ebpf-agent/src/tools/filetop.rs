//! filetop: reads and writes per file and thread, top-style (BCC/libbpf-tools compatible).
//!
//! BPF side: `bpf/filetop.bpf.c`. The read/write family's syscall tracepoints with the fd
//! resolved in the kernel (libbpf-tools' filetop needs kprobes; this one runs without), or, when
//! asked for, kprobes on vfs_read/vfs_write: their kretprobes lose returns silently once the
//! kernel's instances are held by blocked reads (docs/tools/filetop.md). The kernel counts;
//! every interval the agent drains the map and prints the top rows.

use std::time::Duration;

use agent_core::prelude::*;

pub const TOOL: Spec = Spec {
    name: "filetop",
    about: "file reads and writes by file and thread, top-style",
    hooks: &[Group::first_of(
        "",
        &[
            Group::syscalls(
                "tracepoint",
                FD_SYSCALLS,
                Required::All(&["read", "write"]),
                Exit::PerSyscall,
            )
            .text("syscall tracepoints of {}"),
            Group::all(
                "kprobe",
                &[
                    Attach::new("kp_vfs_read", Hook::Kprobe("vfs_read")),
                    Attach::new("krp_vfs_read", Hook::Kretprobe("vfs_read")),
                    Attach::new("kp_vfs_write", Hook::Kprobe("vfs_write")),
                    Attach::new("krp_vfs_write", Hook::Kretprobe("vfs_write")),
                ],
            )
            .text("kprobes on vfs_read and vfs_write (entry and return)"),
        ],
    )],
    dynamic: &[],
    structs: &[Key::LAYOUT, Value::LAYOUT, Config::LAYOUT],
    start: tool::start::<Filetop>,
    selftest: SelfTest::new(selftest_workload)
        .args(|_| tool::own_pid_and(&[&"-r", &ROWS_LIMIT]))
        .storm(storm),
};

/// One-byte reads of a file named after the marker, as fast as they go.
fn storm(marker: &str, until: std::time::Instant) -> std::io::Result<u64> {
    use std::os::unix::fs::FileExt;
    let path = std::env::temp_dir().join(marker);
    std::fs::write(&path, b"x")?;
    let f = std::fs::File::open(&path);
    let _ = std::fs::remove_file(&path);
    let f = f?;
    let mut buf = [0u8; 1];
    let mut n = 0u64;
    while std::time::Instant::now() < until {
        for _ in 0..1000 {
            f.read_at(&mut buf, 0)?;
        }
        n += 1000;
    }
    Ok(n)
}

/// The syscalls of the tracepoint path (each takes the fd first), as in bpf/filetop.bpf.c.
pub const FD_SYSCALLS: &[&str] = &[
    "read", "pread64", "readv", "preadv", "preadv2", "write", "pwrite64", "writev", "pwritev",
    "pwritev2",
];

/// Mirrors FILETOP_MAX_ENTRIES: no more rows than the map holds.
pub const ROWS_LIMIT: usize = 10240;

/// Writes 3 x 1000 bytes to a file named after the marker in the temporary directory, reads
/// them back in one read (and the read that finds the end), removes it. Expects its row.
fn selftest_workload(marker: &str) -> std::io::Result<Vec<String>> {
    use std::io::{Read, Write};
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

agent_core::pod! {
    /// `struct filetop_key`.
    pub struct Key = "filetop_key" {
        inode: u64,
        pid: u32, tid: u32,
    }

    /// `struct filetop_value`.
    pub struct Value = "filetop_value" {
        reads: u64, writes: u64, read_bytes: u64, write_bytes: u64, ino: u64,
        kind: u32, pad: u32,
        comm: [u8; 16],
        name: [u8; 256],
    }

    /// The program's options in .rodata.
    pub struct Config = "filetop_config" {
        target_pid: u32,
        filter_pid: u8, regular_only: u8,
        pad: [u8; 2],
    }
}

/// The `kind` of a row (enum filetop_type): (T column, JSON name).
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

#[derive(FromArgs, Debug)]
/// File reads and writes by file and thread, every interval (default 1 s), largest first.
/// Only regular files unless -a.
pub struct Args {
    /// trace this process only
    #[argh(option, short = 'p', from_str_fn(parse_pid))]
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
    #[argh(option, default = "HookChoice::Auto", from_str_fn(parse_hook_choice))]
    pub hook: HookChoice,
    /// seconds between reports (default 1; 500ms works too), then the number of reports
    /// (default: until stopped)
    #[argh(positional, arg_name = "interval [count]")]
    pub positional: Vec<String>,
}

/// Sorts, cuts and prints the rows of each interval.
pub struct Filetop {
    args: Args,
    interval: Option<Duration>,
    count: Option<u64>,
}

impl Tool for Filetop {
    type Args = Args;
    fn new(args: Args, _: &Common) -> Result<Self> {
        let (interval, count) = interval_count("filetop", &args.positional)?;
        check_range("-r/--rows", args.rows as u64, 1, ROWS_LIMIT as u64)?;
        Ok(Filetop {
            args,
            interval,
            count,
        })
    }
}

impl Handler for Filetop {
    fn hook(&self) -> Option<&dyn ForcedHook> {
        Some(&self.args.hook)
    }

    fn configure(&mut self, obj: &mut Object, _: &Plan) -> Result<()> {
        let (target_pid, filter_pid) = pid_filter(self.args.pid);
        obj.set_config(&Config {
            target_pid,
            filter_pid,
            regular_only: !self.args.all as u8,
            pad: [0; 2],
        })
    }

    fn schedule(&self) -> Option<IntervalOptions> {
        Some(IntervalOptions::every_second_or(self.interval, self.count))
    }

    fn report(&mut self, obj: &Object, tick: &Tick, out: &mut Out) -> Result<()> {
        let rows = maps::drain_hash::<Key, Value>(obj, "entries")?;
        self.interval(tick, rows, &agent_core::interval::loadavg(), out);
        Ok(())
    }
}

impl Filetop {
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
    pub fn interval(&mut self, tick: &Tick, mut rows: Vec<(Key, Value)>, loadavg: &str, out: &mut Out) {
        let total_rows = rows.len();
        agent_core::sort::sort_by(&mut rows, |a, b| {
            self.sort_value(&b.1)
                .cmp(&self.sort_value(&a.1))
                .then(a.0.tid.cmp(&b.0.tid))
                .then(cstr(&a.1.name).cmp(cstr(&b.1.name)))
        });
        rows.truncate(self.args.rows);
        if out.json() {
            json(tick, &rows, total_rows, out);
        } else {
            self.text(tick, &rows, loadavg, out);
        }
    }

    fn text(&self, tick: &Tick, rows: &[(Key, Value)], loadavg: &str, out: &mut Out) {
        let mut s = String::new();
        out.push_top_banner(&mut s, tick.end_ns, self.args.noclear, loadavg);
        s.push_str(&format!(
            "{:<7} {:<16} {:<6} {:<6} {:<7} {:<7} {:1} {}\n",
            "TID", "COMM", "READS", "WRITES", "R_Kb", "W_Kb", "T", "FILE"
        ));
        for (k, v) in rows {
            let _ = write!(s, "{:<7} ", k.tid);
            push_escaped_left(&mut s, cstr(&v.comm), 16);
            let _ = write!(
                s,
                " {:<6} {:<6} {:<7} {:<7} {} ",
                v.reads,
                v.writes,
                v.read_bytes / 1024,
                v.write_bytes / 1024,
                kind(v.kind).0
            );
            push_escaped(&mut s, cstr(&v.name));
            s.push('\n');
        }
        s.push('\n');
        out.push(&s);
    }
}

fn json(tick: &Tick, rows: &[(Key, Value)], total_rows: usize, out: &mut Out) {
        out.interval(tick)
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

#[cfg(test)]
mod tests;
