//! biolatency: block I/O latency as log2 histograms, per disk or request flags
//! (BCC/libbpf-tools compatible).
//!
//! BPF side: `bpf/biolatency.bpf.c` on the block request tracepoints of `bpf/block.h` (no
//! kprobes, no trampolines). The kernel counts; every interval the agent drains the map and
//! draws each histogram as libbpf-tools does.

use std::time::Duration;

use agent_core::block::{self, Disks, HookChoice, ReqFlags};
use agent_core::hist;
use agent_core::prelude::*;

pub const TOOL: Spec = Spec {
    name: "biolatency",
    about: "block I/O latency histograms, per disk (-D) or request flags (-F)",
    hooks: &[block::REQUESTS, block::ORIGINS.off()],
    dynamic: &[],
    structs: &[Key::LAYOUT, Config::LAYOUT, block::Config::LAYOUT],
    start: tool::start::<Biolatency>,
    selftest: SelfTest {
        args: |_| {
            let mut a = vec!["-D".to_string()];
            if let Some(d) = block::selftest::disk() {
                a.extend(["-d".to_string(), d.name]);
            }
            a
        },
        workload: |marker| {
            let d = block::selftest::run(marker)?.disk;
            // Other I/O on the disk may count too: the disk's histogram, whatever its count.
            Ok(vec![format!(
                "\"disk\":\"{}\",\"major\":{},\"minor\":{},\"latency\":{{\"unit\":\"usecs\",\"count\":",
                d.name, d.major, d.minor
            )])
        },
        storm: Some(block::selftest::storm),
    },
};

agent_core::pod! {
    /// `struct biolatency_key`.
    pub struct Key = "biolatency_key" {
        dev: u32,
        flags: u32,
    }

    /// `struct hist` (bpf/hist.h).
    pub struct Hist = "hist" {
        slots: [u64; hist::LOG2_SLOTS],
    }

    /// The program's options in .rodata.
    pub struct Config = "biolatency_config" {
        dev: u32,
        filter_dev: u8,
        per_disk: u8,
        per_flags: u8,
        milliseconds: u8,
    }
}

#[derive(FromArgs, Debug)]
/// Summarize block device I/O latency as a histogram: from issue to completion (-Q: from when
/// the request was made), once at the end or every interval.
pub struct Args {
    /// include a timestamp (HH:MM:SS) on each report
    #[argh(switch, short = 'T')]
    pub timestamp: bool,
    /// millisecond histogram (default: microseconds)
    #[argh(switch, short = 'm')]
    pub milliseconds: bool,
    /// include the time requests waited in the OS (plug, I/O scheduler) before issue
    #[argh(switch, short = 'Q')]
    pub queued: bool,
    /// a histogram per disk
    #[argh(switch, short = 'D')]
    pub per_disk: bool,
    /// a histogram per set of request flags
    #[argh(switch, short = 'F')]
    pub per_flags: bool,
    /// trace this disk only (sda, nvme0n1, mmcblk0: a disk of /proc/partitions)
    #[argh(option, short = 'd')]
    pub disk: Option<String>,
    /// hooks: auto (BTF-typed tracepoints where the kernel takes them, else raw ones),
    /// tp_btf or raw_tp
    #[argh(option, default = "HookChoice::Auto", from_str_fn(HookChoice::parse))]
    pub hook: HookChoice,
    /// seconds between reports (500ms works too; default: one report at the end), then the
    /// number of reports
    #[argh(positional, arg_name = "interval [count]")]
    pub positional: Vec<String>,
}

pub struct Biolatency {
    args: Args,
    interval: Option<Duration>,
    count: Option<u64>,
    dev: Option<u32>,
    disks: Disks,
    flags: ReqFlags,
}

impl Tool for Biolatency {
    type Args = Args;
    fn new(args: Args, _: &Common) -> Result<Self> {
        let (interval, count) = interval_count("biolatency", &args.positional)?;
        let disks = Disks::load();
        let dev = match &args.disk {
            Some(name) => Some(disks.disk(name)?.dev()),
            None => None,
        };
        Ok(Biolatency {
            args,
            interval,
            count,
            dev,
            disks,
            flags: ReqFlags::fallback(),
        })
    }
}

impl Handler for Biolatency {
    fn choose(&self, c: &mut Choices) {
        c.set(block::ORIGINS_LABEL, self.args.queued);
    }

    fn hook(&self) -> Option<&dyn ForcedHook> {
        Some(&self.args.hook)
    }

    fn configure(&mut self, obj: &mut Object, plan: &Plan) -> Result<()> {
        self.flags = block::configure(obj, plan)?.flags;
        let a = &self.args;
        obj.set_rodata(
            "config",
            &Config {
                dev: self.dev.unwrap_or(0),
                filter_dev: self.dev.is_some() as u8,
                per_disk: a.per_disk as u8,
                per_flags: a.per_flags as u8,
                milliseconds: a.milliseconds as u8,
            },
        )
    }

    fn note(&self) -> String {
        match &self.args.disk {
            Some(d) => format!("disk {d}"),
            None => "every disk".to_string(),
        }
    }

    fn header(&mut self, out: &mut Out) {
        if !out.json() {
            out.push("Tracing block device I/O... Hit Ctrl-C to end.\n");
        }
    }

    fn schedule(&self) -> Option<IntervalOptions> {
        Some(IntervalOptions::every(self.interval, self.count))
    }

    fn report(&mut self, obj: &Object, tick: &Tick, out: &mut Out) -> Result<()> {
        let rows = maps::drain_hash::<Key, Hist>(obj, "hists")?;
        self.interval(tick, rows, out);
        Ok(())
    }
}

impl Biolatency {
    fn unit(&self) -> &'static str {
        if self.args.milliseconds {
            "msecs"
        } else {
            "usecs"
        }
    }

    /// The report of one interval: the histograms as drained, in any order. Keys whose flags
    /// print the same are merged; histograms come in order of disk, then flags.
    pub fn interval(&mut self, tick: &Tick, drained: Vec<(Key, Hist)>, out: &mut Out) {
        let mut rows: Vec<(Key, Hist)> = Vec::with_capacity(drained.len());
        for (mut k, h) in drained {
            k.flags = self.flags.shown(k.flags);
            match rows.iter_mut().find(|(r, _)| *r == k) {
                Some((_, sum)) => {
                    for (s, v) in sum.slots.iter_mut().zip(h.slots) {
                        *s += v;
                    }
                }
                None => rows.push((k, h)),
            }
        }
        agent_core::sort::sort_by(&mut rows, |a, b| {
            (a.0.dev, a.0.flags).cmp(&(b.0.dev, b.0.flags))
        });
        if out.json() {
            self.json(tick, &rows, out);
        } else {
            self.text(tick, &rows, out);
        }
    }

    fn text(&mut self, tick: &Tick, rows: &[(Key, Hist)], out: &mut Out) {
        let mut s = String::from("\n");
        if self.args.timestamp {
            out.push_hms(&mut s, tick.end_ns);
            s.push('\n');
        }
        for (k, h) in rows {
            if self.args.per_disk {
                let name = self.disks.name(k.dev).unwrap_or("Unknown");
                let _ = write!(s, "\ndisk = {name}\t");
            }
            if self.args.per_flags {
                let _ = write!(s, "flags = {}", self.flags.label(k.flags));
            }
            s.push('\n');
            hist::print_log2(&mut s, &h.slots, self.unit());
        }
        out.push(&s);
    }

    fn json(&mut self, tick: &Tick, rows: &[(Key, Hist)], out: &mut Out) {
        let (per_disk, per_flags, unit) = (self.args.per_disk, self.args.per_flags, self.unit());
        let names: Vec<Option<String>> = rows
            .iter()
            .map(|(k, _)| {
                per_disk
                    .then(|| self.disks.name(k.dev).map(str::to_string))
                    .flatten()
            })
            .collect();
        let flags = &self.flags;
        out.interval(tick)
            .objects("rows", rows.iter().zip(&names), |r, ((k, h), name)| {
                if per_disk {
                    match name {
                        Some(n) => r.str("disk", n),
                        None => r.null("disk"),
                    };
                    r.u64("major", block::dev_major(k.dev).into())
                        .u64("minor", block::dev_minor(k.dev).into());
                }
                if per_flags {
                    r.str("op", &flags.op_name(k.flags))
                        .str_array("flags", flags.flag_names(k.flags));
                }
                hist::json_log2(r, "latency", &h.slots, unit);
            })
            .u64("total_rows", rows.len() as u64)
            .end();
    }
}

#[cfg(test)]
mod tests;
