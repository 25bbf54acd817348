//! profile: where the CPUs spend their time, by stack (BCC/libbpf-tools compatible).
//!
//! BPF side: `bpf/profile.bpf.c`, a program on a software cpu-clock perf event opened on every
//! online CPU. The kernel counts samples per (process, user stack, kernel stack); at the end
//! the agent reads the counts and the stacks and names them (agent_core::symbolize): BCC's
//! multi-line stacks, folded stacks for flame graphs (-f), or JSON.

use std::time::Duration;

use agent_core::prelude::*;
use agent_core::stacks::{self, Row, Style};
use agent_core::symbolize::Symbolizer;

pub const TOOL: Spec = Spec {
    name: "profile",
    about: "sample stacks on every CPU at a fixed rate: where the CPU time goes",
    hooks: &[Group::all(
        "",
        &[Attach::new(
            "do_sample",
            Hook::CpuClock {
                freq: DEFAULT_FREQ,
                pid: None,
            },
        )],
    )],
    dynamic: &[],
    structs: &[Key::LAYOUT, Config::LAYOUT],
    start: tool::start::<Profile>,
    selftest: SelfTest {
        args: |_| {
            vec![
                "-p".into(),
                std::process::id().to_string(),
                "-F".into(),
                "199".into(),
            ]
        },
        workload: selftest_workload,
        storm: None,
    },
};

/// BCC's default frequency: not a multiple of common timer rates, so samples do not fall in
/// step with periodic work.
const DEFAULT_FREQ: u64 = 49;
/// Stacks kept by default (libbpf-tools' default; each takes 1 KB of kernel memory).
const DEFAULT_STACKS: u32 = 1024;

/// Spins in this process (the one `-p` samples) for a second; expects a stack of this pid
/// whose user frames are in the agent's own executable.
fn selftest_workload(_marker: &str) -> std::io::Result<Vec<String>> {
    let t = std::time::Instant::now();
    let mut x = 0u64;
    while t.elapsed() < Duration::from_secs(1) {
        for i in 0..10_000u64 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
    }
    let exe = std::fs::read_link("/proc/self/exe")?;
    Ok(vec![
        format!("{{\"pid\":{},", std::process::id()),
        format!("\"module\":\"{}\"", exe.display()),
    ])
}

agent_core::pod! {
    /// `struct profile_key`: the key of map `counts` (the value: samples).
    pub struct Key = "profile_key" {
        pid: u32,
        user_stack_id: i32,
        kernel_stack_id: i32,
        comm: [u8; 16],
    }

    /// `struct profile_config`, the options in .rodata.
    pub struct Config = "profile_config" {
        pid: u32,
        tid: u32,
        cpu: u32,
        filter_pid: u8,
        filter_tid: u8,
        filter_cpu: u8,
        user: u8,
        kernel: u8,
        include_idle: u8,
        pad: [u8; 2],
    }
}

/// The positional duration: whole seconds, as BCC takes it (or with a unit).
fn parse_secs(s: &str) -> std::result::Result<Duration, String> {
    parse_duration(s)
}

#[derive(FromArgs, Debug)]
/// Profile CPU usage by sampling stack traces at a timed interval, on every CPU. Prints the
/// stacks and their sample counts when it ends (Ctrl-C, or after DURATION seconds).
pub struct Args {
    /// profile this process only
    #[argh(option, short = 'p', from_str_fn(parse_pid))]
    pub pid: Option<u32>,
    /// profile this thread only
    #[argh(option, short = 'L', from_str_fn(parse_pid))]
    pub tid: Option<u32>,
    /// show user-space stacks only (no kernel)
    #[argh(switch, short = 'U')]
    pub user_stacks_only: bool,
    /// show kernel stacks only (no user)
    #[argh(switch, short = 'K')]
    pub kernel_stacks_only: bool,
    /// include the idle task (CPU time spent idle)
    #[argh(switch, short = 'I')]
    pub include_idle: bool,
    /// folded output, one line per stack, for flame graphs
    #[argh(switch, short = 'f')]
    pub folded: bool,
    /// a delimiter between the kernel and the user stack
    #[argh(switch, short = 'd')]
    pub delimited: bool,
    /// annotate kernel frames with _[k] (folded output)
    #[argh(switch, short = 'a')]
    pub annotate: bool,
    /// sample frequency in Hertz (default 49)
    #[argh(option, short = 'F', default = "DEFAULT_FREQ")]
    pub frequency: u64,
    /// sample this CPU only
    #[argh(option, short = 'C')]
    pub cpu: Option<u32>,
    /// the number of unique stack traces kept (default 1024)
    #[argh(option, default = "DEFAULT_STACKS")]
    pub stack_storage_size: u32,
    /// how long to profile (seconds, or with a unit: 500ms, 2m); default: until Ctrl-C
    #[argh(positional, from_str_fn(parse_secs))]
    pub duration: Option<Duration>,
}

pub struct Profile {
    args: Args,
    sym: Symbolizer,
}

/// The sampling frequencies the kernel allows (kernel.perf_event_max_sample_rate).
fn max_sample_rate() -> u64 {
    std::fs::read_to_string("/proc/sys/kernel/perf_event_max_sample_rate")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100_000)
}

impl Tool for Profile {
    type Args = Args;
    fn new(args: Args, _: &Common) -> Result<Self> {
        if args.user_stacks_only && args.kernel_stacks_only {
            return Err(Error::usage(
                "-U/--user-stacks-only and -K/--kernel-stacks-only exclude each other",
            ));
        }
        let max = max_sample_rate();
        if args.frequency == 0 || args.frequency > max {
            return Err(Error::usage(format!(
                "-F/--frequency must be 1..{max} Hz (kernel.perf_event_max_sample_rate)"
            )));
        }
        stacks::check_storage_size(args.stack_storage_size)?;
        if let Some(c) = args.cpu {
            let cpus = agent_core::probe::online_cpus().unwrap_or_default();
            if !cpus.contains(&c) {
                return Err(Error::usage(format!(
                    "-C/--cpu {c}: no such online CPU (online: {cpus:?})"
                )));
            }
        }
        Ok(Profile {
            args,
            sym: Symbolizer::new(),
        })
    }
}

impl Profile {
    fn style(&self) -> Style {
        Style {
            user: !self.args.kernel_stacks_only,
            kernel: !self.args.user_stacks_only,
            folded: self.args.folded,
            delimited: self.args.delimited,
            annotate: self.args.annotate,
            json_key: "count",
        }
    }
}

impl Handler for Profile {
    fn plan(&mut self, plan: &mut Plan, _: &dyn agent_core::hooks::Kernel) -> Result<()> {
        for a in &mut plan.attach {
            if let Hook::CpuClock { freq, .. } = &mut a.hook {
                *freq = self.args.frequency;
            }
        }
        plan.texts = vec![format!(
            "perf_event software cpu-clock at {} Hz on every online CPU",
            self.args.frequency
        )];
        Ok(())
    }

    fn configure(&mut self, obj: &mut Object, _: &Plan) -> Result<()> {
        let a = &self.args;
        let s = self.style();
        obj.set_max_entries("stacks", a.stack_storage_size)?;
        obj.set_rodata(
            "config",
            &Config {
                pid: a.pid.unwrap_or(0),
                tid: a.tid.unwrap_or(0),
                cpu: a.cpu.unwrap_or(0),
                filter_pid: a.pid.is_some() as u8,
                filter_tid: a.tid.is_some() as u8,
                filter_cpu: a.cpu.is_some() as u8,
                user: s.user as u8,
                kernel: s.kernel as u8,
                include_idle: a.include_idle as u8,
                pad: [0; 2],
            },
        )
    }

    fn note(&self) -> String {
        stacks::note(&self.style())
    }

    fn header(&mut self, out: &mut Out) {
        if out.json() || self.args.folded {
            return;
        }
        let a = &self.args;
        let who = match (a.pid, a.tid) {
            (_, Some(t)) => format!("TID {t}"),
            (Some(p), None) => format!("PID {p}"),
            (None, None) => "all threads".to_string(),
        };
        let lead = format!("Sampling at {} Hertz of {who}", a.frequency);
        out.push(&stacks::header(&lead, &self.style(), a.duration));
    }

    fn record(&mut self, _: usize, data: &[u8], _: &mut Out) {
        stacks::on_pid_event(&mut self.sym, data);
    }

    fn schedule(&self) -> Option<IntervalOptions> {
        Some(IntervalOptions::once(self.args.duration))
    }

    fn report(&mut self, obj: &Object, tick: &Tick, out: &mut Out) -> Result<()> {
        // Sampling stops first (a sample under way on another CPU ends within microseconds),
        // so that the counts add up to the samples taken.
        obj.map_update("stopped", &0u32, &1u32)?;
        std::thread::sleep(std::time::Duration::from_millis(5));
        let counts = maps::drain_hash::<Key, u64>(obj, "counts")?;
        let samples = obj.percpu_u64_sum("samples", 0)?;
        let lost = obj.lost_events();
        let mut rows: Vec<Row> = counts
            .into_iter()
            .map(|(k, n)| Row {
                pid: k.pid,
                tid: None,
                comm: k.comm,
                user_id: k.user_stack_id,
                kernel_id: k.kernel_stack_id,
                value: n,
                json_value: n,
            })
            .collect();
        log::debug!(
            "{samples} samples, {} stacks, {lost} samples not counted (a full map)",
            rows.len()
        );
        let (style, hz) = (self.style(), self.args.frequency);
        stacks::report(obj, "stacks", &mut rows, &mut self.sym, &style, false, tick, out, |o| {
            o.u64("frequency_hz", hz).u64("samples", samples);
        })
    }
}

#[cfg(test)]
mod tests;
