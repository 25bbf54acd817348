//! funclatency: how long one kernel or user function takes, as a log2 histogram
//! (BCC/libbpf-tools compatible).
//!
//! BPF side: `bpf/funclatency.bpf.c`. Kernel functions: fentry/fexit where the kernel has BPF
//! trampolines, kprobe/kretprobe otherwise; user functions (`LIB:FUNC`): uprobe/uretprobe. The
//! kernel keeps a cumulative histogram; every interval the agent prints what it gained.

use std::time::Duration;

use agent_core::elf::{self, Elf};
use agent_core::hist::{self, LOG2_SLOTS};
use agent_core::hooks::{HookBuf, Kernel};
use agent_core::pattern::{parse_target, Target};
use agent_core::prelude::*;

pub const TOOL: Spec = Spec {
    name: "funclatency",
    about: "time one kernel or user function, as a histogram",
    hooks: &[],
    dynamic: &[
        "fentry_entry",
        "fexit_return",
        "kp_entry",
        "kp_return",
        "up_entry",
        "up_return",
    ],
    structs: &[Value::LAYOUT, Config::LAYOUT],
    start: tool::start::<Funclatency>,
    selftest: SelfTest {
        args: selftest_args,
        workload: selftest_workload,
        storm: None,
    },
};

/// The self-test times a function of the agent itself, named by its file offset (the
/// binary is stripped): nothing on the board needs a compiler or a C library for it.
fn selftest_args(_marker: &str) -> Vec<String> {
    let target = selftest_target as fn(u64) -> u64 as usize as u64;
    let exe = std::fs::read_link("/proc/self/exe").unwrap_or_default();
    let offset = std::fs::read_to_string("/proc/self/maps")
        .ok()
        .and_then(|maps| {
            maps.lines().find_map(|l| {
                let mut it = l.split_ascii_whitespace();
                let (range, _, off) = (it.next()?, it.next()?, it.next()?);
                let (a, b) = range.split_once('-')?;
                let (a, b) = (u64::from_str_radix(a, 16).ok()?, u64::from_str_radix(b, 16).ok()?);
                (target >= a && target < b)
                    .then(|| target - a + u64::from_str_radix(off, 16).unwrap_or(0))
            })
        })
        .unwrap_or(0);
    vec![
        "-u".into(),
        "-p".into(),
        std::process::id().to_string(),
        format!("{}:0x{offset:x}", exe.display()),
    ]
}

/// What the self-test times: a 2 ms sleep.
#[inline(never)]
fn selftest_target(x: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(2));
    std::hint::black_box(x + 1)
}

/// Calls the timed function 5 times; expects 5 calls of 2 ms or more (2048..4095 us at most
/// on a loaded board, but at least 1024).
fn selftest_workload(_marker: &str) -> std::io::Result<Vec<String>> {
    let mut x = 0;
    for _ in 0..SELFTEST_CALLS {
        x = selftest_target(x);
    }
    Ok(vec![format!(
        "\"latency\":{{\"unit\":\"usecs\",\"count\":{SELFTEST_CALLS},"
    )])
}

const SELFTEST_CALLS: u64 = 5;

agent_core::pod! {
    /// `struct funclatency_value`, cumulative.
    pub struct Value = "funclatency_value" {
        hist: [u64; LOG2_SLOTS],
        total: u64,
        count: u64,
        untimed: u64,
    }

    /// `struct funclatency_config`, the options in .rodata.
    pub struct Config = "funclatency_config" {
        unit_ns: u64,
        tgid: u32,
        filter_tgid: u8,
        pad: [u8; 3],
    }
}

#[derive(FromArgs, Debug)]
/// Time a function: FUNCTION is a kernel function (vfs_read), or LIB:FUNCTION for a function
/// of a library or program (c:nanosleep, /usr/bin/app:work, or /usr/bin/app:0x1234 by file
/// offset). Prints a histogram of its latency when it ends and, with -i, every interval.
pub struct Args {
    /// show the times in milliseconds
    #[argh(switch, short = 'm')]
    pub milliseconds: bool,
    /// show the times in microseconds
    #[argh(switch, short = 'u')]
    pub microseconds: bool,
    /// trace this process only
    #[argh(option, short = 'p', from_str_fn(parse_pid))]
    pub pid: Option<u32>,
    /// print a histogram at this interval (5, 500ms, ...)
    #[argh(option, short = 'i', from_str_fn(parse_duration))]
    pub interval: Option<Duration>,
    /// print a timestamp before each histogram
    #[argh(switch, short = 'T')]
    pub timestamp: bool,
    /// the function to time
    #[argh(positional)]
    pub function: String,
}

/// The probes picked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Via {
    Fentry,
    Kprobe,
    Uprobe,
}

pub struct Funclatency {
    args: Args,
    target: Target,
    via: Option<Via>,
    /// The file of a user function.
    module: Option<String>,
    last: Value,
}

impl Tool for Funclatency {
    type Args = Args;
    const DURATION_SHORT: Option<char> = Some('d');
    fn new(args: Args, _: &Common) -> Result<Self> {
        if args.milliseconds && args.microseconds {
            return Err(Error::usage(
                "-m/--milliseconds and -u/--microseconds exclude each other",
            ));
        }
        let target = parse_target(&args.function).map_err(Error::usage)?;
        let name = match &target {
            Target::Kernel(f) | Target::User(_, f) => f,
            Target::Tracepoint(..) => {
                return Err(Error::usage(
                    "funclatency times functions, not tracepoints: FUNCTION or LIB:FUNCTION",
                ))
            }
        };
        if name.contains(['*', '?', '[']) {
            return Err(Error::usage(format!(
                "{:?}: funclatency times one function, no wildcards",
                args.function
            )));
        }
        Ok(Funclatency {
            args,
            target,
            via: None,
            module: None,
            last: pod::zeroed(),
        })
    }
}

impl Funclatency {
    fn unit(&self) -> (&'static str, u64) {
        if self.args.milliseconds {
            ("msecs", 1_000_000)
        } else if self.args.microseconds {
            ("usecs", 1000)
        } else {
            ("nsecs", 1)
        }
    }

    /// Why calls go untimed with the pair attached: recursion always; on kretprobes also
    /// returns the kernel drops when every instance is held by a call in progress.
    fn untimed_why(&self) -> &'static str {
        match self.via {
            Some(Via::Kprobe) => {
                "recursive calls, or kretprobe returns the kernel dropped with all its \
                 instances held by calls in progress"
            }
            _ => "recursive calls",
        }
    }

    fn name(&self) -> &str {
        match &self.target {
            Target::Kernel(f) | Target::User(_, f) => f,
            Target::Tracepoint(_, e) => e,
        }
    }
}

impl Handler for Funclatency {
    fn plan(&mut self, plan: &mut Plan, kernel: &dyn Kernel) -> Result<()> {
        match self.target.clone() {
            Target::Kernel(f) => {
                let fentry = kernel.missing(&Hook::Fentry(f.clone()));
                let kprobe = kernel
                    .missing(&Hook::Kprobe(f.clone()))
                    .or_else(|| kernel.missing(&Hook::Kretprobe(f.clone())));
                // The return first: no entry is seen without its return being traced.
                match (&fentry, &kprobe) {
                    (None, _) => {
                        plan.push("fexit_return", Hook::Fexit(f.clone()));
                        plan.push("fentry_entry", Hook::Fentry(f.clone()));
                        plan.say(format!("fentry/fexit on {f}"));
                        self.via = Some(Via::Fentry);
                    }
                    (Some(_), None) => {
                        plan.push("kp_return", Hook::Kretprobe(f.clone()));
                        plan.push("kp_entry", Hook::Kprobe(f.clone()));
                        plan.say(format!("kprobe/kretprobe on {f}"));
                        self.via = Some(Via::Kprobe);
                    }
                    (Some(a), Some(b)) => {
                        return Err(Error::new(format!(
                            "funclatency cannot time kernel function {f} here: {a}; and {b}"
                        ))
                        .code(EXIT_UNSUPPORTED)
                        .hint("user functions (LIB:FUNCTION) need only uprobes"))
                    }
                }
            }
            Target::User(lib, f) => {
                let path = elf::find_library(&lib, self.args.pid).ok_or_else(|| {
                    Error::usage(format!("{lib}: no such library or program (give its path)"))
                })?;
                let has = agent_core::bpf::uprobe_offset(&f).is_some()
                    || Elf::open(std::path::Path::new(&path))
                        .map(|e| !e.functions_matching(|n| n == f).is_empty())
                        .map_err(|e| Error::usage(format!("{path}: {e}")))?;
                if !has {
                    return Err(Error::usage(format!(
                        "{path} has no function {f} in its symbol tables"
                    )));
                }
                let hook = |ret| -> HookBuf {
                    Hook::Uprobe {
                        path: path.clone(),
                        func: f.clone(),
                        ret,
                        pid: self.args.pid,
                    }
                };
                if let Some(why) = kernel.missing(&hook(true)) {
                    return Err(Error::new(format!("funclatency {lib}:{f}: {why}"))
                        .code(EXIT_UNSUPPORTED));
                }
                plan.push("up_return", hook(true));
                plan.push("up_entry", hook(false));
                plan.say(format!("uprobe/uretprobe on {path}:{f}"));
                self.via = Some(Via::Uprobe);
                self.module = Some(path);
            }
            Target::Tracepoint(..) => unreachable!("refused in new()"),
        }
        Ok(())
    }

    fn configure(&mut self, obj: &mut Object, _: &Plan) -> Result<()> {
        if self.via == Some(Via::Fentry) {
            let f = self.name().to_string();
            obj.set_attach_target("fentry_entry", &f)?;
            obj.set_attach_target("fexit_return", &f)?;
        }
        let pid = self.args.pid;
        obj.set_rodata(
            "config",
            &Config {
                unit_ns: self.unit().1,
                tgid: pid.unwrap_or(0),
                filter_tgid: pid.is_some() as u8,
                pad: [0; 3],
            },
        )
    }

    fn header(&mut self, out: &mut Out) {
        if !out.json() {
            out.push(&format!(
                "Tracing {}.  Hit Ctrl-C to exit\n",
                self.args.function
            ));
        }
    }

    fn schedule(&self) -> Option<IntervalOptions> {
        Some(IntervalOptions::every(self.args.interval, None))
    }

    fn report(&mut self, obj: &Object, tick: &Tick, out: &mut Out) -> Result<()> {
        let now: Value = obj.map_lookup("latency", &0u32)?.unwrap_or_else(pod::zeroed);
        let mut slots = [0u64; LOG2_SLOTS];
        for (i, s) in slots.iter_mut().enumerate() {
            *s = now.hist[i].saturating_sub(self.last.hist[i]);
        }
        let total = now.total.saturating_sub(self.last.total);
        let count = now.count.saturating_sub(self.last.count);
        let untimed = now.untimed.saturating_sub(self.last.untimed);
        self.last = now;
        let (unit, _) = self.unit();
        if out.json() {
            let mut o = out.interval(tick);
            o.str("function", self.name());
            if let Some(m) = &self.module {
                o.str("module", m);
            }
            o.str(
                "hook",
                match self.via {
                    Some(Via::Fentry) => "fentry",
                    Some(Via::Kprobe) => "kprobe",
                    _ => "uprobe",
                },
            );
            hist::json_log2(&mut o, "latency", &slots, unit);
            o.u64("total", total).u64("untimed", untimed).end();
            return Ok(());
        }
        let mut s = String::new();
        if self.args.timestamp {
            out.push_hms(&mut s, tick.end_ns);
            s.push('\n');
        }
        hist::print_log2(&mut s, &slots, unit);
        if let Some(avg) = total.checked_div(count) {
            let _ = writeln!(
                s,
                "\navg = {avg} {unit}, total: {total} {unit}, count: {count}"
            );
        }
        if untimed > 0 {
            let _ = writeln!(
                s,
                "untimed: {untimed} (calls whose return was not seen: {})",
                self.untimed_why()
            );
        }
        s.push('\n');
        if tick.last {
            let _ = writeln!(s, "Exiting trace of {}", self.args.function);
        }
        out.push(&s);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
