//! biosnoop: one line per block I/O request, with the process that made it, disk, direction,
//! sector, size and latency (BCC/libbpf-tools compatible).
//!
//! BPF side: `bpf/biosnoop.bpf.c` on the block request tracepoints of `bpf/block.h` (no
//! kprobes, no trampolines): libbpf-tools' biosnoop needs fentry or kprobes for the process,
//! this one takes it from block_io_start or block_getrq.

use std::time::Duration;

use agent_core::block::{self, Disks, HookChoice, ReqFlags};
use agent_core::prelude::*;

pub const TOOL: Spec = Spec {
    name: "biosnoop",
    about: "trace block I/O: process, disk, direction, sector, size and latency",
    hooks: &[block::REQUESTS, block::ORIGINS],
    dynamic: &[],
    structs: &[Event::LAYOUT, Config::LAYOUT, block::Config::LAYOUT],
    start: tool::start::<Biosnoop>,
    selftest: SelfTest {
        args: |_| match block::selftest::disk() {
            Some(d) => vec!["-d".to_string(), d.name],
            None => Vec::new(),
        },
        workload: |marker| {
            let done = block::selftest::run(marker)?;
            let d = &done.disk;
            let line = |op: &str| {
                format!(
                    "\"pid\":{},\"comm\":\"{}\",\"disk\":\"{}\",\"major\":{},\"minor\":{},\"op\":\"{op}\",",
                    done.pid, done.comm, d.name, d.major, d.minor
                )
            };
            // Reads only: a file system may turn O_DIRECT writes into buffered ones.
            let mut want = vec![line("read")];
            let bytes = block::selftest::BLOCK;
            want.extend(
                done.sectors
                    .iter()
                    .map(|s| format!("\"sector\":{s},\"bytes\":{bytes},")),
            );
            Ok(want)
        },
        storm: Some(block::selftest::storm),
    },
};

agent_core::pod! {
    /// Sent at the completion of each request.
    pub struct Event = "biosnoop_event" {
        time_ns: u64,
        latency_ns: u64,
        queue_ns: u64,
        sector: u64,
        bytes: u32,
        cmd_flags: u32,
        dev: u32,
        pid: u32,
        origin: u32,
        pad: u32,
        comm: [u8; 16],
    }

    /// The program's options in .rodata.
    pub struct Config = "biosnoop_config" {
        min_ns: u64,
        dev: u32,
        filter_dev: u8,
        pad: [u8; 3],
    }
}

/// `-m`: whole milliseconds, 0 or more.
fn parse_min_ms(s: &str) -> std::result::Result<u64, String> {
    match s.trim().parse::<u64>() {
        Ok(ms) if ms <= 1_000_000_000 => Ok(ms),
        _ => Err(format!(
            "bad minimum latency {s:?}: whole milliseconds, 0 or more (at most 1000000000)"
        )),
    }
}

#[derive(FromArgs, Debug)]
/// Trace block I/O: one line per request at its completion, with the process that made it
/// (not whoever ran when it completed), disk, direction and flags, sector, size and latency.
pub struct Args {
    /// include the time each request waited in the OS before issue (QUE column)
    #[argh(switch, short = 'Q')]
    pub queued: bool,
    /// trace this disk only (sda, nvme0n1, mmcblk0: a disk of /proc/partitions)
    #[argh(option, short = 'd')]
    pub disk: Option<String>,
    /// only requests that took at least this many milliseconds
    #[argh(option, short = 'm', from_str_fn(parse_min_ms))]
    pub min: Option<u64>,
    /// wall-clock time (HH:MM:SS.mmm) instead of seconds since the first request
    #[argh(switch, short = 't')]
    pub timestamp: bool,
    /// hooks: auto (BTF-typed tracepoints where the kernel takes them, else raw ones),
    /// tp_btf or raw_tp
    #[argh(option, default = "HookChoice::Auto", from_str_fn(HookChoice::parse))]
    pub hook: HookChoice,
    /// stop after this long (10, 30s, 5m), like --duration
    #[argh(positional, from_str_fn(parse_duration))]
    pub duration: Option<Duration>,
}

pub struct Biosnoop {
    args: Args,
    dev: Option<u32>,
    disks: Disks,
    flags: ReqFlags,
    /// CLOCK_BOOTTIME of the first request printed (the TIME(s) column counts from it).
    first_ns: Option<u64>,
}

impl Tool for Biosnoop {
    type Args = Args;
    fn new(args: Args, common: &Common) -> Result<Self> {
        if args.duration.is_some() && common.duration.is_some() {
            return Err(Error::usage(
                "a duration twice: give it once, as [duration] or as --duration",
            ));
        }
        let disks = Disks::load();
        let dev = match &args.disk {
            Some(name) => Some(disks.disk(name)?.dev()),
            None => None,
        };
        Ok(Biosnoop {
            args,
            dev,
            disks,
            flags: ReqFlags::fallback(),
            first_ns: None,
        })
    }
}

impl Handler for Biosnoop {
    fn hook(&self) -> Option<&dyn ForcedHook> {
        Some(&self.args.hook)
    }

    fn configure(&mut self, obj: &mut Object, plan: &Plan) -> Result<()> {
        self.flags = block::configure(obj, plan)?.flags;
        obj.set_rodata(
            "config",
            &Config {
                min_ns: self.args.min.unwrap_or(0).saturating_mul(1_000_000),
                dev: self.dev.unwrap_or(0),
                filter_dev: self.dev.is_some() as u8,
                pad: [0; 3],
            },
        )
    }

    fn note(&self) -> String {
        match &self.args.disk {
            Some(d) => format!("disk {d}"),
            None => "every disk".to_string(),
        }
    }

    fn duration(&self) -> Option<Duration> {
        self.args.duration
    }

    fn header(&mut self, out: &mut Out) {
        if out.json() {
            return;
        }
        let mut h = if self.args.timestamp {
            format!("{:<12} ", "TIMESTAMP")
        } else {
            format!("{:<11} ", "TIME(s)")
        };
        let _ = write!(
            h,
            "{:<14} {:<7} {:<7} {:<4} {:<10} {:<7} ",
            "COMM", "PID", "DISK", "T", "SECTOR", "BYTES"
        );
        if self.args.queued {
            let _ = write!(h, "{:>7} ", "QUE(ms)");
        }
        h.push_str("LAT(ms)\n");
        out.push(&h);
    }

    fn record(&mut self, _: usize, data: &[u8], out: &mut Out) {
        let Some(e) = pod::read::<Event>(data) else {
            return;
        };
        let (major, minor) = (block::dev_major(e.dev), block::dev_minor(e.dev));
        if out.json() {
            let rwbs = self.flags.rwbs(e.cmd_flags);
            let op = self.flags.op_name(e.cmd_flags);
            let disk = self.disks.name(e.dev);
            let mut o = out.event("io", e.time_ns);
            o.u64("pid", e.pid.into()).bytes("comm", cstr(&e.comm));
            match disk {
                Some(n) => o.str("disk", n),
                None => o.null("disk"),
            };
            o.u64("major", major.into())
                .u64("minor", minor.into())
                .str("op", &op)
                .str("rwbs", &rwbs);
            // A request without data (a flush) has no sector: the kernel's -1.
            if e.sector == u64::MAX {
                o.null("sector");
            } else {
                o.u64("sector", e.sector);
            }
            o.u64("bytes", e.bytes.into())
                .u64("latency_ns", e.latency_ns);
            if self.args.queued {
                if e.origin != 0 {
                    o.u64("queue_ns", e.queue_ns);
                } else {
                    o.null("queue_ns");
                }
            }
            o.end();
            return;
        }
        let mut s = out.take_line();
        if self.args.timestamp {
            out.push_hms(&mut s, e.time_ns);
            let ms = (out.clock().wall_ns(e.time_ns).rem_euclid(1_000_000_000) / 1_000_000) as u32;
            let _ = write!(s, ".{ms:03} ");
        } else {
            let first = *self.first_ns.get_or_insert(e.time_ns);
            let since = e.time_ns.saturating_sub(first);
            let _ = write!(s, "{:<11} ", Fixed::ratio(since.into(), 1_000_000_000, 6));
        }
        let comm = cstr(&e.comm);
        push_escaped_left(&mut s, &comm[..comm.len().min(14)], 14);
        let _ = write!(
            s,
            " {:<7} {:<7} {:<4} {:<10} {:<7} ",
            e.pid,
            self.disks.name(e.dev).unwrap_or("Unknown"),
            self.flags.rwbs(e.cmd_flags),
            e.sector as i64,
            e.bytes
        );
        if self.args.queued {
            if e.origin != 0 {
                let _ = write!(s, "{:>7} ", Fixed::ratio(e.queue_ns.into(), 1_000_000, 3));
            } else {
                let _ = write!(s, "{:>7} ", "-");
            }
        }
        let _ = writeln!(s, "{:>7}", Fixed::ratio(e.latency_ns.into(), 1_000_000, 3));
        out.put_line(s);
    }
}

#[cfg(test)]
mod tests;
