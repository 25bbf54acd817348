//! `ebpf-agent overhead [TOOL...] [--seconds N] [--json]`: what each tool costs on this device,
//! measured before leaving it on for weeks.
//!
//! For each tool: a storm of its own events (its self-test's workload, as fast as it goes) runs
//! in this process for N seconds untraced, then with the tool attached (as a child process,
//! output discarded), then untraced again. Reported: the storm's rate each way, the slowdown
//! (untraced rate, the mean of both runs, over the traced one), and the BPF programs' run time
//! per run and per operation from the kernel's BPF statistics, switched on for the measurement
//! (`kernel.bpf_stats_enabled`) and back off after.

use std::collections::HashSet;
use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

use argh::FromArgs;

use agent_core::cli;
use agent_core::error::{Error, EXIT_USAGE};
use agent_core::hooks::Running;
use agent_core::json::Obj;
use agent_core::text::Fixed;
use agent_core::tool::Entry;
use agent_core::Result;
use libbpf_sys as sys;

use crate::tools;
use crate::verify::{marker, Attached};

#[derive(FromArgs)]
/// Measure what each tool costs a workload of its own events on this device.
struct Args {
    /// seconds each run of the workload takes (default 2; at most 600)
    #[argh(option, default = "2")]
    seconds: u64,
    /// print JSON Lines, one object per tool (schema: docs/overhead.md)
    #[argh(switch)]
    json: bool,
    /// verbose diagnostics on stderr
    #[argh(switch, short = 'v')]
    verbose: bool,
    /// the tools to measure (default: every tool this kernel can run)
    #[argh(positional)]
    tools: Vec<String>,
}

/// One tool's numbers.
struct Row {
    tool: &'static str,
    ops_untraced: u64,
    ops_traced: u64,
    secs: u64,
    bpf_runs: u64,
    bpf_ns: u64,
}

impl Row {
    /// Operations a second, untraced (the mean of the runs before and after).
    fn rate_untraced(&self) -> Fixed {
        Fixed::ratio(self.ops_untraced.into(), (2 * self.secs).into(), 1)
    }
    fn rate_traced(&self) -> Fixed {
        Fixed::ratio(self.ops_traced.into(), self.secs.into(), 1)
    }
    /// How many times slower the storm ran traced.
    fn slowdown(&self) -> Fixed {
        Fixed::ratio(
            self.ops_untraced.into(),
            (2 * u128::from(self.ops_traced)).max(1) as i128,
            2,
        )
    }
    fn ns_per_run(&self) -> u64 {
        self.bpf_ns.checked_div(self.bpf_runs).unwrap_or(0)
    }
    fn ns_per_op(&self) -> u64 {
        self.bpf_ns.checked_div(self.ops_traced).unwrap_or(0)
    }
}

/// Ids of every BPF program loaded in the kernel.
fn prog_ids() -> HashSet<u32> {
    let mut ids = HashSet::new();
    let mut id = 0u32;
    loop {
        let mut next = 0u32;
        // SAFETY: plain integers in and out.
        if unsafe { sys::bpf_prog_get_next_id(id, &mut next) } != 0 {
            break;
        }
        ids.insert(next);
        id = next;
    }
    ids
}

/// Summed (run time, run count) of programs `ids`.
fn prog_stats(ids: &HashSet<u32>) -> (u64, u64) {
    let (mut ns, mut cnt) = (0, 0);
    for &id in ids {
        // SAFETY: a plain id; the kernel returns a new descriptor or -1.
        let fd = unsafe { sys::bpf_prog_get_fd_by_id(id) };
        if fd < 0 {
            continue;
        }
        if let Some(info) = agent_core::bpf::prog_info(fd) {
            ns += info.run_time_ns;
            cnt += info.run_cnt;
        }
        // SAFETY: closing the descriptor we just got.
        unsafe { libc::close(fd) };
    }
    (ns, cnt)
}

/// Keeps the kernel's BPF run-time statistics on while alive, and restores them after.
struct Stats {
    fd: Option<std::os::fd::OwnedFd>,
    restore: Option<String>,
}

const STATS_SYSCTL: &str = "/proc/sys/kernel/bpf_stats_enabled";

impl Stats {
    fn on() -> Stats {
        use std::os::fd::FromRawFd;
        // SAFETY: no pointers; the kernel returns a descriptor that keeps stats on until closed.
        let fd = unsafe { sys::bpf_enable_stats(sys::BPF_STATS_RUN_TIME) };
        if fd >= 0 {
            // SAFETY: a descriptor we own.
            return Stats {
                fd: Some(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) }),
                restore: None,
            };
        }
        let old = std::fs::read_to_string(STATS_SYSCTL).ok();
        let _ = std::fs::write(STATS_SYSCTL, "1");
        Stats {
            fd: None,
            restore: old,
        }
    }
}

impl Drop for Stats {
    fn drop(&mut self) {
        self.fd.take();
        if let Some(old) = &self.restore {
            let _ = std::fs::write(STATS_SYSCTL, old.trim());
        }
    }
}

fn storm(entry: &Entry, marker: &str, secs: u64) -> std::result::Result<u64, String> {
    let until = Instant::now() + Duration::from_secs(secs);
    let st = &entry.spec.selftest;
    match st.storm {
        Some(f) => f(marker, until).map_err(|e| format!("workload failed: {e}")),
        None => {
            let mut n = 0;
            while Instant::now() < until {
                (st.workload)(marker).map_err(|e| format!("workload failed: {e}"))?;
                n += 1;
            }
            Ok(n)
        }
    }
}

fn measure(entry: &'static Entry, secs: u64) -> std::result::Result<Row, String> {
    let m = marker(entry.name());
    let before = storm(entry, &m, secs)?;
    let loaded = prog_ids();
    let mut args = vec!["--json".to_string()];
    args.extend((entry.spec.selftest.args)(&m));
    let mut run = Attached::start(entry.name(), &args, Stdio::null())?;
    let ours: HashSet<u32> = prog_ids().difference(&loaded).copied().collect();
    let stats = Stats::on();
    let (ns0, cnt0) = prog_stats(&ours);
    let traced = storm(entry, &m, secs);
    let (ns1, cnt1) = prog_stats(&ours);
    drop(stats);
    let status = run.stop();
    let traced = traced?;
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => return Err(format!("exited with {s}: {}", run.tail())),
        Err(e) => return Err(e),
    }
    let after = storm(entry, &m, secs)?;
    Ok(Row {
        tool: entry.name(),
        ops_untraced: before + after,
        ops_traced: traced,
        secs,
        bpf_runs: cnt1.saturating_sub(cnt0),
        bpf_ns: ns1.saturating_sub(ns0),
    })
}

pub fn main(argv: &[String]) -> Result<()> {
    let args: Args = cli::parse_command("overhead", argv, &["seconds"])?;
    agent_core::logging::verbose(args.verbose);
    cli::check_range("--seconds", args.seconds, 1, 600)?;
    agent_core::probe::check_privileges("overhead")?;
    let kernel = Running::default();
    let chosen: Vec<&'static Entry> = if args.tools.is_empty() {
        tools::ALL
            .iter()
            .filter(|t| t.missing(&kernel).is_empty())
            .collect()
    } else {
        let mut v = Vec::new();
        for name in &args.tools {
            let t = tools::find(name).ok_or_else(|| {
                Error::usage(format!("no tool named {name:?}"))
                    .code(EXIT_USAGE)
                    .hint("`ebpf-agent list` names the tools")
            })?;
            v.push(t);
        }
        v
    };
    let secs = args.seconds;
    let mut stdout = std::io::stdout().lock();
    if !args.json {
        writeln!(
            stdout,
            "{:<12} {:>12} {:>12} {:>9} {:>11} {:>10}",
            "TOOL", "UNTRACED/s", "TRACED/s", "SLOWDOWN", "BPF ns/run", "BPF ns/op"
        )?;
    }
    let mut failed = Vec::new();
    for t in chosen {
        let why = t.missing(&kernel);
        let row = if why.is_empty() {
            measure(t, secs)
        } else {
            Err(format!("cannot run here: {}", why.join("; ")))
        };
        let mut buf = Vec::new();
        match &row {
            Ok(r) if args.json => {
                Obj::new(&mut buf)
                    .str("type", "overhead")
                    .str("tool", r.tool)
                    .u64("seconds", args.seconds)
                    .u64("ops_untraced", r.ops_untraced)
                    .u64("ops_traced", r.ops_traced)
                    .raw_fixed("rate_untraced", r.rate_untraced())
                    .raw_fixed("rate_traced", r.rate_traced())
                    .raw_fixed("slowdown", r.slowdown())
                    .u64("bpf_runs", r.bpf_runs)
                    .u64("bpf_ns_per_run", r.ns_per_run())
                    .u64("bpf_ns_per_op", r.ns_per_op())
                    .end();
            }
            Ok(r) => {
                let _ = writeln!(
                    buf,
                    "{:<12} {:>12} {:>12} {:>8}x {:>11} {:>10}",
                    r.tool,
                    r.rate_untraced(),
                    r.rate_traced(),
                    r.slowdown(),
                    r.ns_per_run(),
                    r.ns_per_op()
                );
            }
            Err(e) if args.json => {
                Obj::new(&mut buf)
                    .str("type", "overhead")
                    .str("tool", t.name())
                    .str("error", e)
                    .end();
            }
            Err(e) => {
                let _ = writeln!(buf, "{:<12} error: {e}", t.name());
            }
        }
        if row.is_err() {
            failed.push(t.name());
        }
        stdout.write_all(&buf)?;
        stdout.flush()?;
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Error::new(format!(
            "could not measure: {}",
            failed.join(", ")
        )))
    }
}
