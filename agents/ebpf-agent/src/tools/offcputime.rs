//! offcputime: where threads block, and for how long, by stack (BCC/libbpf-tools
//! compatible).
//!
//! BPF side: `bpf/offcputime.bpf.c` on `sched_switch`, as a BTF-typed tracepoint where the
//! kernel has them and a raw tracepoint otherwise. The kernel sums the time between a thread's
//! switch-out and its next switch-in per (thread, user stack, kernel stack); at the end the
//! agent reads the sums and names the stacks (agent_core::symbolize).

use std::time::Duration;

use agent_core::prelude::*;
use agent_core::stacks::{self, Row, Style};
use agent_core::symbolize::Symbolizer;

pub const TOOL: Spec = Spec {
    name: "offcputime",
    about: "time threads spend off CPU (blocked), by stack",
    hooks: &[Group::first_of(
        "",
        &[
            Group::all(
                "tp_btf",
                &[Attach::new(
                    "tp_btf_switch",
                    Hook::TpBtf("sched", "sched_switch"),
                )],
            ),
            Group::all(
                "raw_tp",
                &[Attach::new(
                    "raw_tp_switch",
                    Hook::RawTp("sched", "sched_switch"),
                )],
            ),
        ],
    )],
    dynamic: &[],
    structs: &[Key::LAYOUT, Start::LAYOUT, Config::LAYOUT],
    start: tool::start::<Offcputime>,
    selftest: SelfTest {
        args: |_| vec!["-p".into(), std::process::id().to_string()],
        workload: selftest_workload,
        storm: None,
    },
};

/// Sleeps in this process (the one `-p` traces); expects a stack of this pid that went to
/// sleep in do_nanosleep. On 32-bit ARM the programs run in the BPF interpreter, and a kernel
/// stack taken there ends in it (`___bpf_prog_run`): the pid alone is expected.
fn selftest_workload(_marker: &str) -> std::io::Result<Vec<String>> {
    for _ in 0..3 {
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut want = vec![format!("{{\"pid\":{},", std::process::id())];
    if !cfg!(target_arch = "arm") {
        want.push("\"symbol\":\"do_nanosleep\"".to_string());
    }
    Ok(want)
}

agent_core::pod! {
    /// `struct offcputime_key`: the key of map `info` (the value: nanoseconds off CPU).
    pub struct Key = "offcputime_key" {
        pid: u32,
        tgid: u32,
        user_stack_id: i32,
        kernel_stack_id: i32,
        comm: [u8; 16],
    }

    /// `struct offcputime_start`, a thread switched out.
    pub struct Start = "offcputime_start" {
        time_ns: u64,
        key: [u8; 32],
    }

    /// `struct offcputime_config`, the options in .rodata.
    pub struct Config = "offcputime_config" {
        min_ns: u64,
        max_ns: u64,
        tgid: u32,
        tid: u32,
        state: u32,
        filter_tgid: u8,
        filter_tid: u8,
        filter_state: u8,
        user_threads_only: u8,
        kernel_threads_only: u8,
        user: u8,
        kernel: u8,
        pad: [u8; 5],
    }
}

fn parse_us(s: &str) -> std::result::Result<u64, String> {
    s.trim()
        .parse::<u64>()
        .ok()
        .filter(|&v| v <= u64::MAX / 1000)
        .ok_or_else(|| format!("bad time {s:?}: a number of microseconds"))
}

#[derive(FromArgs, Debug)]
/// Summarize off-CPU time (time blocked) by stack trace and thread. Prints the stacks and
/// their total time in microseconds when it ends (Ctrl-C, or after DURATION seconds).
pub struct Args {
    /// trace this process only
    #[argh(option, short = 'p', from_str_fn(parse_pid))]
    pub pid: Option<u32>,
    /// trace this thread only
    #[argh(option, short = 't', from_str_fn(parse_pid))]
    pub tid: Option<u32>,
    /// user threads only (no kernel threads)
    #[argh(switch, short = 'u')]
    pub user_threads_only: bool,
    /// kernel threads only (no user threads)
    #[argh(switch, short = 'k')]
    pub kernel_threads_only: bool,
    /// show user-space stacks only (no kernel)
    #[argh(switch, short = 'U')]
    pub user_stacks_only: bool,
    /// show kernel stacks only (no user)
    #[argh(switch, short = 'K')]
    pub kernel_stacks_only: bool,
    /// the shortest block to count, in microseconds (default 1)
    #[argh(option, short = 'm', from_str_fn(parse_us), default = "1")]
    pub min_block_time: u64,
    /// the longest block to count, in microseconds (default: no limit)
    #[argh(option, short = 'M', from_str_fn(parse_us))]
    pub max_block_time: Option<u64>,
    /// count only blocks that began in this thread state (0 running/preempted,
    /// 1 interruptible sleep, 2 uninterruptible sleep)
    #[argh(option)]
    pub state: Option<u32>,
    /// folded output, one line per stack, for flame graphs
    #[argh(switch, short = 'f')]
    pub folded: bool,
    /// a delimiter between the kernel and the user stack
    #[argh(switch, short = 'd')]
    pub delimited: bool,
    /// the number of unique stack traces kept (default 1024)
    #[argh(option, default = "1024")]
    pub stack_storage_size: u32,
    /// how long to trace (seconds, or with a unit: 500ms, 2m); default: until Ctrl-C
    #[argh(positional, from_str_fn(parse_duration))]
    pub duration: Option<Duration>,
}

pub struct Offcputime {
    args: Args,
    sym: Symbolizer,
}

impl Tool for Offcputime {
    type Args = Args;
    fn new(args: Args, _: &Common) -> Result<Self> {
        if args.user_stacks_only && args.kernel_stacks_only {
            return Err(Error::usage(
                "-U/--user-stacks-only and -K/--kernel-stacks-only exclude each other",
            ));
        }
        if args.user_threads_only && args.kernel_threads_only {
            return Err(Error::usage(
                "-u/--user-threads-only and -k/--kernel-threads-only exclude each other",
            ));
        }
        if args.pid.is_some() && args.tid.is_some() {
            return Err(Error::usage("-p/--pid and -t/--tid exclude each other"));
        }
        if let Some(max) = args.max_block_time {
            if max < args.min_block_time {
                return Err(Error::usage(format!(
                    "-M/--max-block-time {max} is below -m/--min-block-time {}",
                    args.min_block_time
                )));
            }
        }
        stacks::check_storage_size(args.stack_storage_size)?;
        Ok(Offcputime {
            args,
            sym: Symbolizer::new(),
        })
    }
}

impl Offcputime {
    fn style(&self) -> Style {
        Style {
            user: !self.args.kernel_stacks_only,
            kernel: !self.args.user_stacks_only,
            folded: self.args.folded,
            delimited: self.args.delimited,
            annotate: false,
            json_key: "total_ns",
        }
    }
}

impl Handler for Offcputime {
    fn configure(&mut self, obj: &mut Object, _: &Plan) -> Result<()> {
        let a = &self.args;
        let s = self.style();
        obj.set_max_entries("stacks", a.stack_storage_size)?;
        obj.set_rodata(
            "config",
            &Config {
                min_ns: a.min_block_time * 1000,
                max_ns: a.max_block_time.map_or(u64::MAX, |m| m * 1000),
                tgid: a.pid.unwrap_or(0),
                tid: a.tid.unwrap_or(0),
                state: a.state.unwrap_or(0),
                filter_tgid: a.pid.is_some() as u8,
                filter_tid: a.tid.is_some() as u8,
                filter_state: a.state.is_some() as u8,
                user_threads_only: a.user_threads_only as u8,
                kernel_threads_only: a.kernel_threads_only as u8,
                user: s.user as u8,
                kernel: s.kernel as u8,
                pad: [0; 5],
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
            (Some(p), _) => format!("PID {p}"),
            (_, Some(t)) => format!("TID {t}"),
            _ if a.user_threads_only => "user threads".to_string(),
            _ if a.kernel_threads_only => "kernel threads".to_string(),
            _ => "all threads".to_string(),
        };
        let lead = format!("Tracing off-CPU time (us) of {who}");
        out.push(&stacks::header(&lead, &self.style(), a.duration));
    }

    fn record(&mut self, _: usize, data: &[u8], _: &mut Out) {
        stacks::on_pid_event(&mut self.sym, data);
    }

    fn schedule(&self) -> Option<IntervalOptions> {
        Some(IntervalOptions::once(self.args.duration))
    }

    fn report(&mut self, obj: &Object, tick: &Tick, out: &mut Out) -> Result<()> {
        let info = maps::drain_hash::<Key, u64>(obj, "info")?;
        let mut rows: Vec<Row> = info
            .into_iter()
            .map(|(k, ns)| Row {
                pid: k.tgid,
                tid: Some(k.pid),
                comm: k.comm,
                user_id: k.user_stack_id,
                kernel_id: k.kernel_stack_id,
                value: ns / 1000,
                json_value: ns,
            })
            .collect();
        let style = self.style();
        stacks::report(obj, "stacks", &mut rows, &mut self.sym, &style, true, tick, out, |_| {})
    }
}

#[cfg(test)]
mod tests;
