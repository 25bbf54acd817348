//! biotop: block I/O by process, top-style: requests, bytes and average latency per process,
//! disk and direction (BCC/libbpf-tools compatible).
//!
//! BPF side: `bpf/biotop.bpf.c` on the block request tracepoints of `bpf/block.h`
//! (libbpf-tools' biotop needs kprobes; this one runs without). The kernel counts; every
//! interval the agent drains the map and prints the top rows.

use std::time::Duration;

use agent_core::block::{self, Disks, HookChoice};
use agent_core::prelude::*;

pub const TOOL: Spec = Spec {
    name: "biotop",
    about: "block I/O by process, disk and direction, top-style",
    hooks: &[block::REQUESTS, block::ORIGINS],
    dynamic: &[],
    structs: &[
        Key::LAYOUT,
        Value::LAYOUT,
        Config::LAYOUT,
        block::Config::LAYOUT,
    ],
    start: tool::start::<Biotop>,
    selftest: SelfTest {
        args: |_| {
            vec![
                "-C".into(),
                "-p".into(),
                std::process::id().to_string(),
                // One report, at the end: the reads are never split between two.
                "3600".into(),
            ]
        },
        workload: |marker| {
            let done = block::selftest::run(marker)?;
            let d = &done.disk;
            let row = |rw: &str, n: u64| {
                format!(
                    "{{\"pid\":{},\"comm\":\"{}\",\"rw\":\"{rw}\",\"major\":{},\"minor\":{},\
                     \"disk\":\"{}\",\"io\":{n},\"bytes\":{},",
                    done.pid,
                    done.comm,
                    d.major,
                    d.minor,
                    d.name,
                    n * block::selftest::BLOCK as u64
                )
            };
            // Reads only: a file system may turn O_DIRECT writes into buffered ones.
            Ok(vec![row("R", done.reads)])
        },
        storm: Some(block::selftest::storm),
    },
};

/// Mirrors BIOTOP_MAX_ROWS: no more rows than the map holds.
pub const ROWS_LIMIT: usize = 10240;

agent_core::pod! {
    /// `struct biotop_key`.
    pub struct Key = "biotop_key" {
        pid: u32,
        dev: u32,
        write: u32,
        pad: u32,
        comm: [u8; 16],
    }

    /// `struct biotop_value`.
    pub struct Value = "biotop_value" {
        io: u64,
        bytes: u64,
        ns: u64,
    }

    /// The program's options in .rodata.
    pub struct Config = "biotop_config" {
        target_pid: u32,
        filter_pid: u8,
        pad: [u8; 3],
    }
}

/// `-s`: what the rows are sorted by, largest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sort {
    All,
    Io,
    Bytes,
    Time,
}

fn parse_sort(s: &str) -> std::result::Result<Sort, String> {
    Ok(match s {
        "all" => Sort::All,
        "io" => Sort::Io,
        "bytes" => Sort::Bytes,
        "time" => Sort::Time,
        _ => return Err(format!("bad sort {s:?}: all, io, bytes or time")),
    })
}

#[derive(FromArgs, Debug)]
/// Block I/O by process, disk and direction, every interval (default 1 s), largest first:
/// requests, Kbytes and average latency (issue to completion), for the process that made them.
pub struct Args {
    /// don't clear the screen between intervals
    #[argh(switch, short = 'C')]
    pub noclear: bool,
    /// sort by all (the default: requests, bytes and microseconds summed), io, bytes or time
    #[argh(option, short = 's', default = "Sort::All", from_str_fn(parse_sort))]
    pub sort: Sort,
    /// rows to print per interval (default 20)
    #[argh(option, short = 'r', default = "20")]
    pub rows: usize,
    /// trace this process only (the one that made the requests)
    #[argh(option, short = 'p', from_str_fn(parse_pid))]
    pub pid: Option<u32>,
    /// hooks: auto (BTF-typed tracepoints where the kernel takes them, else raw ones),
    /// tp_btf or raw_tp
    #[argh(option, default = "HookChoice::Auto", from_str_fn(HookChoice::parse))]
    pub hook: HookChoice,
    /// seconds between reports (default 1; 500ms works too), then the number of reports
    /// (default: until stopped)
    #[argh(positional, arg_name = "interval [count]")]
    pub positional: Vec<String>,
}

pub struct Biotop {
    args: Args,
    interval: Option<Duration>,
    count: Option<u64>,
    disks: Disks,
}

impl Tool for Biotop {
    type Args = Args;
    fn new(args: Args, _: &Common) -> Result<Self> {
        let (interval, count) = interval_count("biotop", &args.positional)?;
        if args.rows == 0 || args.rows > ROWS_LIMIT {
            return Err(Error::usage(format!(
                "-r/--rows must be 1..={ROWS_LIMIT}, not {}",
                args.rows
            )));
        }
        Ok(Biotop {
            args,
            interval,
            count,
            disks: Disks::load(),
        })
    }
}

impl Handler for Biotop {
    fn hook(&self) -> Option<&dyn ForcedHook> {
        Some(&self.args.hook)
    }

    fn configure(&mut self, obj: &mut Object, plan: &Plan) -> Result<()> {
        block::configure(obj, plan)?;
        obj.set_rodata(
            "config",
            &Config {
                target_pid: self.args.pid.unwrap_or(0),
                filter_pid: self.args.pid.is_some() as u8,
                pad: [0; 3],
            },
        )
    }

    fn schedule(&self) -> Option<IntervalOptions> {
        Some(IntervalOptions::every_second_or(self.interval, self.count))
    }

    fn report(&mut self, obj: &Object, tick: &Tick, out: &mut Out) -> Result<()> {
        let rows = maps::drain_hash::<Key, Value>(obj, "counts")?;
        self.interval(tick, rows, &agent_core::interval::loadavg(), out);
        Ok(())
    }
}

impl Biotop {
    fn sort_value(&self, v: &Value) -> u64 {
        match self.args.sort {
            Sort::All => v.io + v.bytes + v.ns / 1000,
            Sort::Io => v.io,
            Sort::Bytes => v.bytes,
            Sort::Time => v.ns,
        }
    }

    /// The report of one interval: `rows` as drained from the kernel, in any order.
    pub fn interval(&mut self, tick: &Tick, mut rows: Vec<(Key, Value)>, loadavg: &str, out: &mut Out) {
        let total_rows = rows.len();
        agent_core::sort::sort_by(&mut rows, |a, b| {
            self.sort_value(&b.1)
                .cmp(&self.sort_value(&a.1))
                .then((a.0.pid, a.0.dev, a.0.write).cmp(&(b.0.pid, b.0.dev, b.0.write)))
                .then(a.0.comm.cmp(&b.0.comm))
        });
        rows.truncate(self.args.rows);
        if out.json() {
            self.json(tick, &rows, total_rows, out);
        } else {
            self.text(tick, &rows, loadavg, out);
        }
    }

    fn text(&mut self, tick: &Tick, rows: &[(Key, Value)], loadavg: &str, out: &mut Out) {
        let mut s = String::new();
        out.push_top_banner(&mut s, tick.end_ns, self.args.noclear, loadavg);
        let _ = writeln!(
            s,
            "{:<7} {:<16} {:1} {:<3} {:<3} {:<8} {:>5} {:>7} {:>6}",
            "PID", "COMM", "D", "MAJ", "MIN", "DISK", "I/O", "Kbytes", "AVGms"
        );
        for (k, v) in rows {
            let _ = write!(s, "{:<7} ", k.pid);
            push_escaped_left(&mut s, cstr(&k.comm), 16);
            let _ = writeln!(
                s,
                " {:1} {:<3} {:<3} {:<8} {:>5} {:>7} {:>6}",
                if k.write != 0 { "W" } else { "R" },
                block::dev_major(k.dev),
                block::dev_minor(k.dev),
                self.disks.name(k.dev).unwrap_or(""),
                v.io,
                v.bytes / 1024,
                Fixed::ratio(v.ns.into(), i128::from(v.io.max(1)) * 1_000_000, 2)
            );
        }
        s.push('\n');
        out.push(&s);
    }

    fn json(&mut self, tick: &Tick, rows: &[(Key, Value)], total_rows: usize, out: &mut Out) {
        let names: Vec<Option<String>> = rows
            .iter()
            .map(|(k, _)| self.disks.name(k.dev).map(str::to_string))
            .collect();
        out.interval(tick)
            .objects("rows", rows.iter().zip(&names), |r, ((k, v), name)| {
                r.u64("pid", k.pid.into())
                    .bytes("comm", cstr(&k.comm))
                    .str("rw", if k.write != 0 { "W" } else { "R" })
                    .u64("major", block::dev_major(k.dev).into())
                    .u64("minor", block::dev_minor(k.dev).into());
                match name {
                    Some(n) => r.str("disk", n),
                    None => r.null("disk"),
                };
                r.u64("io", v.io)
                    .u64("bytes", v.bytes)
                    .u64("total_ns", v.ns);
            })
            .u64("total_rows", total_rows as u64)
            .end();
    }
}

#[cfg(test)]
mod tests;
