//! Where each program of a user's object attaches, read from its section name as libbpf
//! understands it, and which programs this kernel can run.
//!
//! A program whose section starts with `?` is optional (libbpf does not load it by default):
//! attached where the kernel has its hook, left out elsewhere. Programs named `BASE__ALT`
//! (two underscores) that share a BASE are alternatives for the same thing: the first one in
//! the object that this kernel has is attached, the others are left out.

use std::path::Path;

use agent_core::error::{Error, EXIT_UNSUPPORTED, EXIT_USAGE};
use agent_core::hooks::{Hook, HookBuf, Kernel, Plan};
use agent_core::probe;

/// One program and where it attaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prog {
    pub name: String,
    pub section: String,
    pub hook: HookBuf,
    /// `SEC("?...")`.
    pub optional: bool,
}

/// The sections `run` attaches, for messages.
pub const KNOWN: &str = "tracepoint/CAT/NAME, tp/CAT/NAME, raw_tp/NAME, raw_tracepoint/NAME, \
    tp_btf/NAME, kprobe/FUNC, kretprobe/FUNC, ksyscall/NAME, kretsyscall/NAME, uprobe/PATH:FUNC, \
    uretprobe/PATH:FUNC, fentry/FUNC, fexit/FUNC, perf_event";

/// The kernel's wrapper symbol of syscall `name` (what libbpf's ksyscall sections probe).
fn syscall_symbol(name: &str) -> String {
    match std::env::consts::ARCH {
        "x86_64" => format!("__x64_sys_{name}"),
        "aarch64" => format!("__arm64_sys_{name}"),
        "riscv64" => format!("__riscv_sys_{name}"),
        "s390x" => format!("__s390x_sys_{name}"),
        _ => format!("sys_{name}"),
    }
}

/// A library named without a directory (`libc.so.6`), looked up where the dynamic linker
/// looks, as libbpf does; other paths as given.
pub fn resolve_path(path: &str) -> String {
    if path.contains('/') {
        return path.to_string();
    }
    let multiarch = match std::env::consts::ARCH {
        "x86_64" => "x86_64-linux-gnu",
        "aarch64" => "aarch64-linux-gnu",
        "arm" => "arm-linux-gnueabihf",
        _ => "",
    };
    let dirs = ["/lib", "/usr/lib", "/lib64", "/usr/lib64"];
    dirs.iter()
        .flat_map(|d| [format!("{d}/{path}"), format!("{d}/{multiarch}/{path}")])
        .find(|p| Path::new(p).exists())
        .unwrap_or_else(|| path.to_string())
}

/// The hook of program `prog` in section `section` (its leading `?` already taken off).
/// `perf_hz`: the sampling frequency for `perf_event` programs.
pub fn hook_of(prog: &str, section: &str, perf_hz: u64) -> Result<HookBuf, Error> {
    let unsupported = |why: &str| {
        Error::usage(format!("program {prog}: section {section:?} {why}"))
            .hint(format!("run attaches these sections: {KNOWN}"))
    };
    let (kind, rest) = section.split_once('/').unwrap_or((section, ""));
    let no_offset = |f: &str| {
        if f.is_empty() {
            return Err(unsupported("names no function"));
        }
        if f.contains('+') {
            return Err(unsupported(
                "has an offset: run attaches at function entry only",
            ));
        }
        Ok(f.to_string())
    };
    let tracepoint = |rest: &str| match rest.split_once('/') {
        Some((c, n)) if !c.is_empty() && !n.is_empty() && !n.contains('/') => {
            Ok((c.to_string(), n.to_string()))
        }
        _ => Err(unsupported(
            "needs CATEGORY/NAME (tracefs events/CATEGORY/NAME)",
        )),
    };
    let category = |n: &str| probe::tracepoint_category(n).unwrap_or_default();
    Ok(match kind {
        "tracepoint" | "tp" => {
            let (c, n) = tracepoint(rest)?;
            Hook::Tracepoint(c, n)
        }
        "raw_tracepoint" | "raw_tp" | "raw_tracepoint.w" | "raw_tp.w" if !rest.is_empty() => {
            Hook::RawTp(category(rest), rest.to_string())
        }
        "tp_btf" if !rest.is_empty() => Hook::TpBtf(category(rest), rest.to_string()),
        "kprobe" => Hook::Kprobe(no_offset(rest)?),
        "kretprobe" => Hook::Kretprobe(no_offset(rest)?),
        "ksyscall" => Hook::Kprobe(syscall_symbol(&no_offset(rest)?)),
        "kretsyscall" => Hook::Kretprobe(syscall_symbol(&no_offset(rest)?)),
        "fentry" | "fentry.s" => Hook::Fentry(no_offset(rest)?),
        "fexit" | "fexit.s" => Hook::Fexit(no_offset(rest)?),
        "uprobe" | "uretprobe" | "uprobe.s" | "uretprobe.s" => {
            let Some((path, func)) = rest.rsplit_once(':') else {
                return Err(unsupported(
                    "needs PATH:FUNC (uprobe/usr/bin/bash:readline)",
                ));
            };
            // uprobe//usr/bin/x:f and uprobe/usr/bin/x:f both name /usr/bin/x.
            let path = if path.starts_with('/') || path.contains('/') && !path.starts_with('.') {
                format!("/{}", path.trim_start_matches('/'))
            } else {
                resolve_path(path)
            };
            Hook::Uprobe {
                path,
                func: no_offset(func)?,
                ret: kind.starts_with("uret"),
                pid: None,
            }
        }
        "perf_event" if rest.is_empty() => Hook::CpuClock {
            freq: perf_hz,
            pid: None,
        },
        "raw_tracepoint" | "raw_tp" | "raw_tracepoint.w" | "raw_tp.w" | "tp_btf" => {
            return Err(unsupported("names no tracepoint"));
        }
        _ => return Err(unsupported("is not a tracing program run can attach")),
    })
}

/// Parses every program's section: Err for a section run cannot attach.
pub fn programs(list: &[(String, String)], perf_hz: u64) -> Result<Vec<Prog>, Error> {
    if list.is_empty() {
        return Err(Error::usage("the object has no programs (no SEC(\"...\") functions)")
            .hint("a program is a function in a section: SEC(\"tracepoint/syscalls/sys_enter_execve\") int f(void *ctx)"));
    }
    list.iter()
        .map(|(name, sec)| {
            let (optional, s) = match sec.strip_prefix('?') {
                Some(s) => (true, s),
                None => (false, sec.as_str()),
            };
            Ok(Prog {
                name: name.clone(),
                section: s.to_string(),
                hook: hook_of(name, s, perf_hz)?,
                optional,
            })
        })
        .collect()
}

/// The BASE of alternatives `BASE__ALT`.
fn base(name: &str) -> Option<&str> {
    name.split_once("__")
        .map(|(b, _)| b)
        .filter(|b| !b.is_empty())
}

/// What is attached and what is left out, with why.
#[derive(Debug, Default)]
pub struct Chosen {
    pub plan: Vec<(String, HookBuf)>,
    /// Programs left out: (name, why).
    pub left_out: Vec<(String, String)>,
}

/// Picks the programs this kernel can attach: every required one, the optional ones it has,
/// the first alternative of each group it has. Err (exit 3) if a required program or every
/// alternative of a required group cannot attach, naming the reason and the fix.
pub fn choose(progs: &[Prog], kernel: &dyn Kernel) -> Result<Chosen, Error> {
    let mut c = Chosen::default();
    let mut done: Vec<&str> = Vec::new();
    for p in progs {
        if done.contains(&p.name.as_str()) {
            continue;
        }
        let group: Vec<&Prog> = match base(&p.name) {
            Some(b) if progs.iter().filter(|q| base(&q.name) == Some(b)).count() > 1 => {
                progs.iter().filter(|q| base(&q.name) == Some(b)).collect()
            }
            _ => vec![p],
        };
        done.extend(group.iter().map(|q| q.name.as_str()));
        let mut whys = Vec::new();
        let mut picked = false;
        for q in &group {
            if picked {
                c.left_out.push((
                    q.name.clone(),
                    format!(
                        "an alternative to {}",
                        c.plan.last().map_or("", |x| x.0.as_str())
                    ),
                ));
                continue;
            }
            match missing(q, kernel) {
                None => {
                    c.plan.push((q.name.clone(), q.hook.clone()));
                    picked = true;
                }
                Some(why) => whys.push((q, why)),
            }
        }
        if picked {
            c.left_out
                .extend(whys.into_iter().map(|(q, w)| (q.name.clone(), w)));
            continue;
        }
        if group.iter().all(|q| q.optional) {
            c.left_out
                .extend(whys.into_iter().map(|(q, w)| (q.name.clone(), w)));
            continue;
        }
        let list: Vec<String> = whys
            .iter()
            .map(|(q, w)| format!("program {} ({}): {w}", q.name, q.section))
            .collect();
        let fix = if group.len() > 1 {
            "add an alternative this kernel has (programs named BASE__ALT are tried in order), or mark them optional with SEC(\"?...\")"
        } else {
            "attach it to a hook this kernel has, or mark it optional with SEC(\"?...\") to run without it"
        };
        return Err(
            Error::new(format!("cannot attach on this kernel: {}", list.join("; ")))
                .code(EXIT_UNSUPPORTED)
                .hint(fix),
        );
    }
    if c.plan.is_empty() {
        let why: Vec<String> = c
            .left_out
            .iter()
            .map(|(n, w)| format!("{n}: {w}"))
            .collect();
        return Err(Error::new(format!(
            "no program of the object can attach on this kernel ({})",
            why.join("; ")
        ))
        .code(EXIT_UNSUPPORTED));
    }
    Ok(c)
}

fn missing(p: &Prog, kernel: &dyn Kernel) -> Option<String> {
    match &p.hook {
        Hook::RawTp(c, n) | Hook::TpBtf(c, n) if c.is_empty() => Some(format!(
            "the kernel has no tracepoint {n} (no tracefs events/*/{n}): check its name, or enable the subsystem that defines it"
        )),
        h => kernel.missing(h),
    }
}

impl Chosen {
    /// Into the runner's plan, with the `-v` words.
    pub fn into_plan(self, plan: &mut Plan) {
        for (prog, hook) in &self.plan {
            plan.say(format!("{prog} on {}", hook.describe()));
        }
        if !self.left_out.is_empty() {
            let l: Vec<String> = self
                .left_out
                .iter()
                .map(|(n, w)| format!("{n} ({w})"))
                .collect();
            plan.say(format!("left out: {}", l.join(", ")));
        }
        for (prog, hook) in self.plan {
            plan.push(prog, hook);
        }
    }
}

/// Parses `--perf EVENT:HZ` (cpu-clock only): the frequency.
pub fn parse_perf(s: &str) -> Result<u64, Error> {
    let bad = || {
        Error::usage(format!(
            "--perf {s:?}: use cpu-clock:HZ, HZ from 1 to 100000"
        ))
        .code(EXIT_USAGE)
        .hint("--perf cpu-clock:99 samples every CPU 99 times a second")
    };
    let (ev, hz) = s.split_once(':').ok_or_else(bad)?;
    if ev != "cpu-clock" {
        return Err(bad());
    }
    match hz.parse::<u64>() {
        Ok(n @ 1..=100_000) => Ok(n),
        _ => Err(bad()),
    }
}
