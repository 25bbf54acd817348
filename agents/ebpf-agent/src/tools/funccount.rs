//! funccount: count calls of kernel functions, tracepoint hits and calls of user functions
//! matching patterns (BCC compatible).
//!
//! BPF side: `bpf/funccount.bpf.c`: one kprobe program, one tracepoint program and one uprobe
//! program, each attached to everything its patterns matched (worked out here at run time).
//! Kernel functions need kprobes; tracepoints and user functions work without them.

use std::time::Duration;

use agent_core::elf::{self, Elf};
use agent_core::hooks::{HookBuf, Kernel};
use agent_core::pattern::{parse_target, Pattern, Target};
use agent_core::prelude::*;
use agent_core::probe;

pub const TOOL: Spec = Spec {
    name: "funccount",
    about: "count calls of kernel or user functions, or tracepoint hits, matching patterns",
    hooks: &[],
    dynamic: &PROGRAMS,
    structs: &[Key::LAYOUT, Config::LAYOUT],
    start: tool::start::<Funccount>,
    selftest: SelfTest {
        args: |_| {
            vec![
                "-p".into(),
                std::process::id().to_string(),
                "t:syscalls:sys_enter_getppid".into(),
            ]
        },
        workload: selftest_workload,
        storm: None,
    },
};

/// Calls getppid() a known number of times in this process (the one `-p` traces).
fn selftest_workload(_marker: &str) -> std::io::Result<Vec<String>> {
    for _ in 0..SELFTEST_CALLS {
        std::hint::black_box(std::os::unix::process::parent_id());
    }
    Ok(vec![format!(
        "{{\"kind\":\"tracepoint\",\"name\":\"syscalls:sys_enter_getppid\",\"count\":{SELFTEST_CALLS}}}"
    )])
}

const SELFTEST_CALLS: u64 = 321;

/// FUNCCOUNT_SLOTS in bpf/funccount.h: tracepoints (and user functions) a kernel without
/// link cookies can count, one program each.
const SLOTS: usize = 16;

/// Every program of bpf/funccount.bpf.c.
const PROGRAMS: [&str; 3 + 2 * SLOTS] = [
    "kp_count",
    "tp_count_cookie",
    "up_count_cookie",
    "tp_count_0", "up_count_0", "tp_count_1", "up_count_1", "tp_count_2", "up_count_2", "tp_count_3", "up_count_3", "tp_count_4", "up_count_4", "tp_count_5", "up_count_5", "tp_count_6", "up_count_6", "tp_count_7", "up_count_7", "tp_count_8", "up_count_8", "tp_count_9", "up_count_9", "tp_count_10", "up_count_10", "tp_count_11", "up_count_11", "tp_count_12", "up_count_12", "tp_count_13", "up_count_13", "tp_count_14", "up_count_14", "tp_count_15", "up_count_15",
];

/// FUNCCOUNT_MAX_PROBES in bpf/funccount.h.
const MAX_PROBES: usize = 1000;

const KERNEL: u32 = 0;
const TRACEPOINT: u32 = 1;
const USER: u32 = 2;

agent_core::pod! {
    /// `struct funccount_key`: the key of map `counts` (the value: calls).
    pub struct Key = "funccount_key" {
        kind: u32,
        pad: u32,
        id: u64,
    }

    /// `struct funccount_config`, the options in .rodata.
    pub struct Config = "funccount_config" {
        tgid: u32,
        filter_tgid: u8,
        pad: [u8; 3],
    }
}

/// `-i 0` is refused; a duration otherwise.
fn parse_interval(s: &str) -> std::result::Result<Duration, String> {
    parse_duration(s)
}

#[derive(FromArgs, Debug)]
/// Count calls of functions and hits of tracepoints matching PATTERNs: FUNC or k:FUNC
/// (kernel functions, by kprobes), t:CATEGORY:EVENT (tracepoints), u:LIB:FUNC or LIB:FUNC
/// (user functions of a library or program, by uprobes). `*` and `?` are wildcards, or
/// regular expressions with -r. Prints the counts when it ends and, with -i, every interval.
pub struct Args {
    /// count in this process only
    #[argh(option, short = 'p', from_str_fn(parse_pid))]
    pub pid: Option<u32>,
    /// print the counts at this interval (5, 500ms, ...)
    #[argh(option, short = 'i', from_str_fn(parse_interval))]
    pub interval: Option<Duration>,
    /// print a timestamp before each report
    #[argh(switch, short = 'T')]
    pub timestamp: bool,
    /// the patterns are regular expressions (matched at the start of names)
    #[argh(switch, short = 'r')]
    pub regexp: bool,
    /// what to count
    #[argh(positional, greedy)]
    pub patterns: Vec<String>,
}

/// A counted function or tracepoint.
#[derive(Debug, Clone)]
struct Probe {
    kind: u32,
    name: String,
    /// User functions: the file.
    module: Option<String>,
}

pub struct Funccount {
    args: Args,
    targets: Vec<Target>,
    /// Everything attached, in order; user functions by cookie (their index here).
    probes: Vec<Probe>,
    /// Kernel function addresses (sorted) and their probe index.
    kaddrs: Vec<(u64, usize)>,
    /// The tracepoints' probe indexes, by id - 1 (their cookie or slot).
    tps: Vec<usize>,
    /// The user functions' probe indexes, likewise.
    users: Vec<usize>,
    described: String,
}

impl Tool for Funccount {
    type Args = Args;
    const DURATION_SHORT: Option<char> = Some('d');
    fn new(args: Args, _: &Common) -> Result<Self> {
        if args.patterns.is_empty() {
            return Err(Error::usage(
                "give at least one PATTERN: FUNC, k:FUNC, t:CATEGORY:EVENT or u:LIB:FUNC",
            ));
        }
        let mut targets = Vec::new();
        for p in &args.patterns {
            let t = parse_target(p).map_err(Error::usage)?;
            // Compile now: a bad pattern is a usage error before anything loads.
            for part in names_of(&t) {
                compile(part, args.regexp).map_err(|e| Error::usage(format!("{p:?}: {e}")))?;
            }
            targets.push(t);
        }
        Ok(Funccount {
            args,
            targets,
            probes: Vec::new(),
            kaddrs: Vec::new(),
            tps: Vec::new(),
            users: Vec::new(),
            described: String::new(),
        })
    }
}

fn names_of(t: &Target) -> Vec<&str> {
    match t {
        Target::Kernel(f) | Target::User(_, f) => vec![f.as_str()],
        Target::Tracepoint(c, e) => vec![c.as_str(), e.as_str()],
    }
}

fn compile(p: &str, regexp: bool) -> std::result::Result<Pattern, String> {
    if regexp {
        Pattern::regex(p)
    } else {
        Pattern::glob(p)
    }
}

fn not_found(what: String) -> Error {
    Error::usage(what)
}

impl Funccount {
    fn pattern(&self, p: &str) -> Pattern {
        compile(p, self.args.regexp).unwrap_or_else(|_| Pattern::glob("").unwrap())
    }

    fn add(&mut self, kind: u32, name: String, module: Option<String>) -> Result<usize> {
        if self.probes.len() >= MAX_PROBES {
            return Err(Error::usage(format!(
                "the patterns match more than {MAX_PROBES} functions and tracepoints: narrow them"
            )));
        }
        self.probes.push(Probe { kind, name, module });
        Ok(self.probes.len() - 1)
    }

    fn plan_kernel(&mut self, f: &str, plan: &mut Plan) -> Result<()> {
        if !probe::kprobes_supported() {
            return Err(Error::new(format!(
                "k:{f}: kernel functions are counted with kprobes, which this kernel lacks"
            ))
            .code(EXIT_UNSUPPORTED)
            .hint("enable CONFIG_KPROBES and CONFIG_KPROBE_EVENTS; t: (tracepoints) and u: (user functions) patterns work without them"));
        }
        let pat = self.pattern(f);
        let funcs = probe::kprobe_functions(|n| pat.matches(n)).unwrap_or_else(|| {
            // No list of traceable functions: a plain name is tried as it is.
            Pattern::literal(f)
                .map(|n| vec![n.to_string()])
                .unwrap_or_default()
        });
        if funcs.is_empty() {
            return Err(not_found(format!(
                "k:{f}: no traceable kernel function matches (tracefs available_filter_functions)"
            )));
        }
        let addrs = agent_core::ksyms::addresses_of(&funcs).map_err(|s| {
            Error::new(format!(
                "k:{f}: {}",
                s.problem().unwrap_or_else(|| "no kernel symbols".into())
            ))
            .code(EXIT_UNSUPPORTED)
        })?;
        for (addr, name) in addrs {
            let i = self.add(KERNEL, name.clone(), None)?;
            self.kaddrs.push((addr, i));
            plan.push("kp_count", Hook::Kprobe(name));
        }
        Ok(())
    }

    fn plan_tracepoints(&mut self, c: &str, e: &str, plan: &mut Plan) -> Result<()> {
        let root = probe::tracefs_root().ok_or_else(|| {
            Error::new(format!("t:{c}:{e}: no tracefs"))
                .code(EXIT_UNSUPPORTED)
                .hint("mount -t tracefs tracefs /sys/kernel/tracing (CONFIG_TRACING)")
        })?;
        let (cp, ep) = (self.pattern(c), self.pattern(e));
        let mut found = Vec::new();
        for cat in list_dirs(&root.join("events"))
            .into_iter()
            .filter(|d| cp.matches(d))
        {
            for ev in list_dirs(&root.join("events").join(&cat))
                .into_iter()
                .filter(|d| ep.matches(d))
            {
                found.push((cat.clone(), ev));
            }
        }
        if found.is_empty() {
            return Err(not_found(format!("t:{c}:{e}: no tracepoint matches")));
        }
        for (cat, ev) in found {
            let i = self.add(TRACEPOINT, format!("{cat}:{ev}"), None)?;
            self.tps.push(i);
            plan.push_cookie("tp", Hook::Tracepoint(cat, ev), self.tps.len() as u64);
        }
        Ok(())
    }

    fn plan_user(&mut self, lib: &str, f: &str, plan: &mut Plan, kernel: &dyn Kernel) -> Result<()> {
        let path = elf::find_library(lib, self.args.pid).ok_or_else(|| {
            not_found(format!(
                "u:{lib}:{f}: no library or program {lib} found (give its path)"
            ))
        })?;
        let elf = Elf::open(std::path::Path::new(&path))
            .map_err(|e| Error::usage(format!("u:{lib}:{f}: {path}: {e}")))?;
        let pat = self.pattern(f);
        let funcs = elf.functions_matching(|n| pat.matches(n));
        if funcs.is_empty() {
            return Err(not_found(format!(
                "u:{lib}:{f}: no function of {path} matches (indirect functions are left out)"
            )));
        }
        for (name, _) in funcs {
            let hook: HookBuf = Hook::Uprobe {
                path: path.clone(),
                func: name.clone(),
                ret: false,
                pid: self.args.pid,
            };
            if let Some(why) = kernel.missing(&hook) {
                return Err(Error::new(format!("u:{lib}:{f}: {why}")).code(EXIT_UNSUPPORTED));
            }
            let i = self.add(USER, name, Some(path.clone()))?;
            self.users.push(i);
            plan.push_cookie("up", hook, self.users.len() as u64);
        }
        Ok(())
    }
}

fn list_dirs(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| {
                let e = e.ok()?;
                e.file_type().ok()?.is_dir().then(|| e.file_name().into_string().ok())?
            })
            .collect()
        })
        .unwrap_or_default();
    agent_core::sort::sort_by(&mut v, |a, b| a.cmp(b));
    v
}

impl Handler for Funccount {
    fn plan(&mut self, plan: &mut Plan, kernel: &dyn Kernel) -> Result<()> {
        for t in self.targets.clone() {
            match &t {
                Target::Kernel(f) => self.plan_kernel(f, plan)?,
                Target::Tracepoint(c, e) => self.plan_tracepoints(c, e, plan)?,
                Target::User(l, f) => self.plan_user(l, f, plan, kernel)?,
            }
        }
        // Tracepoints and user functions: one program told apart by cookie, or one program
        // each where the kernel has no cookies.
        let cookies = probe::attach_cookies_supported();
        let most = self.tps.len().max(self.users.len());
        if !cookies && most > SLOTS {
            return Err(Error::new(format!(
                "the patterns match {most} tracepoints or user functions: more than {SLOTS} need \
                 BPF link cookies (Linux 5.15)"
            ))
            .code(EXIT_UNSUPPORTED)
            .hint(format!("narrow the patterns to {SLOTS} of each on this kernel")));
        }
        for a in plan.attach.iter_mut() {
            let kind = match a.prog.as_str() {
                "tp" => "tp",
                "up" => "up",
                _ => continue,
            };
            a.prog = if cookies {
                format!("{kind}_count_cookie")
            } else {
                let slot = a.cookie - 1;
                a.cookie = 0;
                format!("{kind}_count_{slot}")
            };
        }
        let users = self.users.len();
        agent_core::sort::sort_by(&mut self.kaddrs, |a, b| a.0.cmp(&b.0));
        let (k, t, u) = (
            self.probes.iter().filter(|p| p.kind == KERNEL).count(),
            self.probes.iter().filter(|p| p.kind == TRACEPOINT).count(),
            users,
        );
        let mut parts = Vec::new();
        if k > 0 {
            parts.push(format!("{k} kprobes"));
        }
        if t > 0 {
            parts.push(format!("{t} tracepoints"));
        }
        if u > 0 {
            parts.push(format!("{u} uprobes"));
        }
        self.described = parts.join(", ");
        plan.say(format!("{} for {}", self.described, self.args.patterns.join(" ")));
        Ok(())
    }

    fn configure(&mut self, obj: &mut Object, _: &Plan) -> Result<()> {
        let pid = self.args.pid;
        obj.set_rodata(
            "config",
            &Config {
                tgid: pid.unwrap_or(0),
                filter_tgid: pid.is_some() as u8,
                pad: [0; 3],
            },
        )
    }

    fn header(&mut self, out: &mut Out) {
        if !out.json() {
            out.push(&format!(
                "Tracing {} functions for \"{}\"... Hit Ctrl-C to end.\n",
                self.probes.len(),
                self.args.patterns.join(" ")
            ));
        }
    }

    fn schedule(&self) -> Option<IntervalOptions> {
        Some(IntervalOptions::every(self.args.interval, None))
    }

    fn report(&mut self, obj: &Object, tick: &Tick, out: &mut Out) -> Result<()> {
        let drained = maps::drain_hash::<Key, u64>(obj, "counts")?;
        let mut rows: Vec<(usize, u64)> = Vec::new();
        for (k, n) in drained {
            let probe = match k.kind {
                KERNEL => {
                    let i = self.kaddrs.partition_point(|a| a.0 <= k.id);
                    i.checked_sub(1).map(|i| self.kaddrs[i].1)
                }
                TRACEPOINT => k.id.checked_sub(1).and_then(|i| self.tps.get(i as usize).copied()),
                _ => k.id.checked_sub(1).and_then(|i| self.users.get(i as usize).copied()),
            };
            if let Some(p) = probe.filter(|&p| self.probes.get(p).is_some_and(|q| q.kind == k.kind)) {
                match rows.iter_mut().find(|r| r.0 == p) {
                    Some(r) => r.1 += n,
                    None => rows.push((p, n)),
                }
            }
        }
        agent_core::sort::sort_by(&mut rows, |a, b| {
            a.1.cmp(&b.1).then(self.probes[a.0].name.cmp(&self.probes[b.0].name))
        });
        if out.json() {
            out.interval(tick)
                .objects("rows", rows.iter().rev(), |o, &(p, n)| {
                    let p = &self.probes[p];
                    o.str(
                        "kind",
                        match p.kind {
                            KERNEL => "kernel",
                            TRACEPOINT => "tracepoint",
                            _ => "user",
                        },
                    )
                    .str("name", &p.name);
                    if let Some(m) = &p.module {
                        o.str("module", m);
                    }
                    o.u64("count", n);
                })
                .u64("total_rows", rows.len() as u64)
                .u64("probes", self.probes.len() as u64)
                .end();
            return Ok(());
        }
        let mut s = String::from("\n");
        if self.args.timestamp {
            out.push_hms(&mut s, tick.end_ns);
            s.push('\n');
        }
        let _ = writeln!(s, "{:<36} {:>8}", "FUNC", "COUNT");
        for &(p, n) in &rows {
            push_left(&mut s, &self.probes[p].name, 36);
            let _ = writeln!(s, " {n:>8}");
        }
        if tick.last {
            s.push_str("Detaching...\n");
        }
        out.push(&s);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
