//! `ebpf-agent check [--json] [--config FILE]`: what this kernel and this process offer the
//! tools, probed for real (trial loads and attaches, not version guesses), and for everything
//! missing, which tools it disables and the kernel config symbol or command that fixes it.

use std::io::Write;
use std::path::PathBuf;

use argh::FromArgs;

use agent_core::bpf::Object;
use agent_core::cli;
use agent_core::error::{Error, EXIT_UNSUPPORTED};
use agent_core::hooks::Kind;
use agent_core::json::Obj;
use agent_core::kconfig::KernelConfig;
use agent_core::probe;
use agent_core::Result;

use crate::tools;

#[derive(FromArgs)]
/// Check what this kernel offers the tools, and how to fix what is missing.
struct Args {
    /// print one JSON object
    #[argh(switch)]
    json: bool,
    /// judge this kernel config file (plain or .gz) instead of the running kernel's
    #[argh(option)]
    config: Option<PathBuf>,
    /// verbose diagnostics on stderr
    #[argh(switch, short = 'v')]
    verbose: bool,
}

/// One thing checked.
pub struct Feature {
    pub name: String,
    pub ok: bool,
    /// Without it, tools cannot work at all (as opposed to losing a faster or optional path).
    pub required: bool,
    pub detail: String,
    pub fix: Option<String>,
    /// Tools it disables when missing.
    pub disables: Vec<&'static str>,
}

/// Which tools a missing feature disables.
#[derive(Clone, Copy)]
enum Affects {
    All,
    None,
    /// Tools that have no way to run without hooks of this kind (from their declared hooks).
    Lacking(Kind),
    /// Tools that have no way to run without hooks of one of these kinds.
    LackingAny(&'static [Kind]),
}

fn affected(a: Affects) -> Vec<&'static str> {
    tools::ALL
        .iter()
        .filter(|t| match a {
            Affects::All => true,
            Affects::None => false,
            Affects::Lacking(kind) => t.requires(kind),
            Affects::LackingAny(kinds) => kinds.iter().any(|&k| t.requires(k)),
        })
        .map(|t| t.name())
        .collect()
}

/// Kernel config symbols that matter at run time: (symbol, required, affects, why).
const SYMBOLS: &[(&str, bool, Affects, &str)] = &[
    (
        "CONFIG_BPF_SYSCALL",
        true,
        Affects::All,
        "the bpf() syscall",
    ),
    (
        "CONFIG_BPF_EVENTS",
        true,
        Affects::All,
        "BPF programs on tracepoints and kprobes",
    ),
    (
        "CONFIG_PERF_EVENTS",
        true,
        Affects::All,
        "perf events, through which tracepoints attach",
    ),
    (
        "CONFIG_TRACEPOINTS",
        true,
        Affects::All,
        "static tracepoints",
    ),
    (
        "CONFIG_FTRACE_SYSCALLS",
        false,
        Affects::Lacking(Kind::SyscallTracepoint),
        "syscalls:sys_enter_*/sys_exit_* tracepoints",
    ),
    (
        "CONFIG_DEBUG_INFO_BTF",
        true,
        Affects::All,
        "kernel BTF for CO-RE (needs pahole when building the kernel)",
    ),
    (
        "CONFIG_BPF_JIT",
        false,
        Affects::None,
        "native code for BPF programs (several times faster per event)",
    ),
    (
        "CONFIG_KPROBES",
        false,
        Affects::Lacking(Kind::Kprobe),
        "kprobes (faster or deeper paths of some tools)",
    ),
    (
        "CONFIG_KPROBE_EVENTS",
        false,
        Affects::Lacking(Kind::Kprobe),
        "kprobes usable by BPF",
    ),
    ("CONFIG_UPROBES", false, Affects::None, "user-space probes"),
    (
        "CONFIG_IKCONFIG_PROC",
        false,
        Affects::None,
        "/proc/config.gz, so missing symbols can be named on the device",
    ),
];

fn feature(
    name: &str,
    ok: bool,
    required: bool,
    detail: impl Into<String>,
    fix: Option<String>,
    affects: Affects,
) -> Feature {
    Feature {
        name: name.to_string(),
        ok,
        required,
        detail: detail.into(),
        disables: if ok { Vec::new() } else { affected(affects) },
        fix: if ok { None } else { fix },
    }
}

fn read_trim(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
}

fn mounted(fstype: &str) -> Option<String> {
    let mounts = std::fs::read_to_string("/proc/mounts").ok()?;
    mounts.lines().find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.get(2) == Some(&fstype)).then(|| f[1].to_string())
    })
}

/// Loads one program of the trial object and attaches it: Ok, or why not.
fn trial(
    prog: &str,
    attach: impl FnOnce(&mut Object) -> Result<()>,
) -> std::result::Result<(), String> {
    let mut obj = Object::open_embedded(&tools::FEATPROBE).map_err(|e| e.to_string())?;
    for p in ["probe_tracepoint", "probe_kprobe", "probe_fentry"] {
        obj.set_autoload(p, p == prog).map_err(|e| e.to_string())?;
    }
    obj.load().map_err(|e| e.message().to_string())?;
    attach(&mut obj).map_err(|e| e.message().to_string())
}

/// Every check, in report order.
pub fn run_checks(config_file: Option<&PathBuf>) -> Result<Vec<Feature>> {
    let mut out = Vec::new();
    let privileged = probe::bpf_privileged();
    let euid = nix::unistd::geteuid();
    out.push(feature(
        "privileges",
        privileged,
        true,
        if euid.is_root() {
            "root".to_string()
        } else {
            format!("uid {euid}, CapEff {:#x}", probe::effective_caps())
        },
        Some(format!(
            "{}: run as root, or grant them (CAP_SYS_ADMIN before 5.8)",
            probe::NEEDS_PRIVILEGES
        )),
        Affects::All,
    ));

    let config = match config_file {
        Some(p) => Some(KernelConfig::read(p)?),
        None => KernelConfig::running(),
    };
    match &config {
        Some(c) => {
            out.push(feature(
                "kernel_config",
                true,
                false,
                c.source.clone(),
                None,
                Affects::None,
            ));
            // A kernel without BTF of its own runs the tools with BTF shipped for it.
            let shipped = config_file.is_none() && probe::custom_btf().is_some();
            for &(sym, required, affects, why) in SYMBOLS {
                let ok = c.enabled(sym);
                let fix = Some(format!(
                    "rebuild the kernel with {sym}=y ({why}); see kernel-config/"
                ));
                let instead = shipped && sym == "CONFIG_DEBUG_INFO_BTF";
                out.push(feature(
                    sym,
                    ok,
                    required && !instead,
                    match (ok, instead) {
                        (true, _) => "set",
                        (false, true) => "not set (BTF shipped for this kernel is used)",
                        (false, false) => "not set",
                    },
                    fix,
                    if instead { Affects::None } else { affects },
                ));
            }
        }
        None => out.push(feature(
            "kernel_config",
            false,
            false,
            "cannot tell: no /proc/config.gz nor /boot/config-$(uname -r)",
            Some(
                "enable CONFIG_IKCONFIG=y and CONFIG_IKCONFIG_PROC=y, or pass --config FILE".into(),
            ),
            Affects::None,
        )),
    }
    if config_file.is_some() {
        // Judging a config file, not this machine: runtime probes would describe another kernel.
        return Ok(out);
    }

    let btf = probe::btf_present();
    out.push(feature(
        "btf",
        btf,
        true,
        probe::btf_summary(),
        Some(probe::no_btf_fix()),
        Affects::All,
    ));
    if btf && !probe::kernel_btf_present() {
        // Shipped BTF relocates CO-RE programs, but BTF-typed hooks need the kernel's own.
        let mut f = feature(
            "kernel_btf",
            false,
            false,
            probe::NO_KERNEL_BTF_RULES_OUT,
            Some("build the kernel with CONFIG_DEBUG_INFO_BTF=y (pahole on the build host)".into()),
            Affects::Lacking(Kind::TpBtf),
        );
        for t in affected(Affects::Lacking(Kind::Fentry)) {
            if !f.disables.contains(&t) {
                f.disables.push(t);
            }
        }
        out.push(f);
    }
    let jit = read_trim("/proc/sys/net/core/bpf_jit_enable");
    let (jit_ok, jit_detail, jit_fix) = match jit.as_deref() {
        Some("0") => (
            false,
            "net.core.bpf_jit_enable = 0 (interpreter)".to_string(),
            "sysctl -w net.core.bpf_jit_enable=1",
        ),
        Some(v) => (true, format!("net.core.bpf_jit_enable = {v}"), ""),
        None => (
            false,
            "no net.core.bpf_jit_enable (no JIT)".to_string(),
            "enable CONFIG_BPF_JIT",
        ),
    };
    out.push(feature(
        "jit",
        jit_ok,
        false,
        jit_detail,
        Some(jit_fix.into()),
        Affects::None,
    ));
    let (tracefs_ok, tracefs_detail, tracefs_fix) = match probe::tracefs() {
        probe::Tracefs::At(p) => (true, p.display().to_string(), String::new()),
        probe::Tracefs::Denied(p) => (
            false,
            format!("mounted at {}, not readable by this process", p.display()),
            probe::TRACEFS_DENIED_FIX.to_string(),
        ),
        probe::Tracefs::Absent => (
            false,
            "not mounted, and mounting failed".to_string(),
            "mount -t tracefs tracefs /sys/kernel/tracing (CONFIG_TRACING)".to_string(),
        ),
    };
    // Raw tracepoints attach without tracefs: only tracepoint programs need it.
    out.push(feature(
        "tracefs",
        tracefs_ok,
        false,
        tracefs_detail,
        Some(tracefs_fix),
        Affects::LackingAny(&[Kind::Tracepoint, Kind::SyscallTracepoint]),
    ));
    let debugfs = mounted("debugfs");
    out.push(feature(
        "debugfs",
        debugfs.is_some(),
        false,
        debugfs.unwrap_or_else(|| "not mounted".into()),
        Some("mount -t debugfs debugfs /sys/kernel/debug (CONFIG_DEBUG_FS)".into()),
        Affects::None,
    ));
    let unpriv =
        read_trim("/proc/sys/kernel/unprivileged_bpf_disabled").unwrap_or_else(|| "unknown".into());
    out.push(feature(
        "unprivileged_bpf_disabled",
        true,
        false,
        format!("kernel.unprivileged_bpf_disabled = {unpriv}"),
        None,
        Affects::None,
    ));

    if privileged && btf {
        // (feature, required, program, attach, what success means, the fix, what lacking it disables)
        type Attach = fn(&mut Object) -> Result<()>;
        let trials: [(&str, bool, &str, Attach, &str, &str, Affects); 3] = [
            (
                "ringbuf_tracepoint",
                true,
                "probe_tracepoint",
                |o| o.attach_tracepoint("probe_tracepoint", "syscalls", "sys_enter_getppid"),
                "ring buffer map and tracepoint program loaded and attached",
                "kernel >= 5.8 with CONFIG_BPF_SYSCALL, CONFIG_BPF_EVENTS and CONFIG_FTRACE_SYSCALLS",
                Affects::All,
            ),
            (
                "kprobes",
                false,
                "probe_kprobe",
                |o| o.attach_kprobe("probe_kprobe", "vfs_read", false),
                "kprobe on vfs_read attached",
                "enable CONFIG_KPROBES and CONFIG_KPROBE_EVENTS (tools fall back to tracepoints where they can)",
                Affects::Lacking(Kind::Kprobe),
            ),
            (
                "fentry",
                false,
                "probe_fentry",
                |o| o.attach_trace("probe_fentry", "fentry vfs_read"),
                "fentry on vfs_read attached (BPF trampolines)",
                "x86_64, or arm64 from 6.0, with CONFIG_FUNCTION_TRACER, CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS",
                Affects::None,
            ),
        ];
        for (name, required, prog, attach, works, fix, affects) in trials {
            let r = if name == "fentry" && !probe::kernel_btf_present() {
                Err("fentry needs the kernel's own BTF, which this kernel lacks".to_string())
            } else {
                trial(prog, attach)
            };
            let ok = r.is_ok();
            let detail = r.err().unwrap_or_else(|| works.into());
            out.push(feature(
                name,
                ok,
                required,
                detail,
                Some(fix.into()),
                affects,
            ));
        }
    }
    Ok(out)
}

/// Writes the features as a JSON array field.
pub fn features_json(o: &mut Obj, features: &[Feature]) {
    o.objects("features", features, |f, x| {
        f.str("name", &x.name)
            .bool("ok", x.ok)
            .bool("required", x.required)
            .str("detail", &x.detail);
        match &x.fix {
            Some(fix) => f.str("fix", fix),
            None => f.null("fix"),
        };
        f.bytes_array("disables", x.disables.iter().map(|t| t.as_bytes()));
    });
}

/// Prints the features as a table, with the fixes of what is missing below it.
pub fn features_text(out: &mut String, features: &[Feature]) {
    out.push_str(&format!("{:<26} {:<8} DETAIL\n", "FEATURE", "STATUS"));
    for f in features {
        let status = if f.ok {
            "ok"
        } else if f.required {
            "MISSING"
        } else {
            "missing"
        };
        out.push_str(&format!("{:<26} {:<8} {}\n", f.name, status, f.detail));
    }
    for f in features.iter().filter(|f| !f.ok) {
        if let Some(fix) = &f.fix {
            out.push_str(&format!("\n{}: {fix}", f.name));
            if !f.disables.is_empty() {
                out.push_str(&format!("\n  disables: {}", f.disables.join(", ")));
            }
        }
    }
    if features.iter().any(|f| !f.ok) {
        out.push('\n');
    }
}

pub fn kernel_release() -> String {
    probe::kernel_release()
}

pub fn main(args: &[String]) -> Result<()> {
    let args: Args = cli::parse_command("check", args, &["config"])?;
    agent_core::logging::verbose(args.verbose);
    let features = run_checks(args.config.as_ref())?;
    let ok = features.iter().all(|f| f.ok || !f.required);
    let mut stdout = std::io::stdout().lock();
    if args.json {
        let mut buf = Vec::new();
        let mut o = Obj::new(&mut buf);
        o.str("kernel", &kernel_release())
            .str("arch", std::env::consts::ARCH)
            .bool("ok", ok);
        features_json(&mut o, &features);
        o.end();
        stdout.write_all(&buf)?;
    } else {
        let mut s = String::new();
        features_text(&mut s, &features);
        stdout.write_all(s.as_bytes())?;
    }
    stdout.flush()?;
    if ok {
        Ok(())
    } else {
        let missing: Vec<&str> = features
            .iter()
            .filter(|f| !f.ok && f.required)
            .map(|f| f.name.as_str())
            .collect();
        Err(
            Error::new(format!("required features missing: {}", missing.join(", ")))
                .code(EXIT_UNSUPPORTED),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every symbol `check` judges is one our kernel fragments ask for.
    #[test]
    fn symbols_come_from_our_fragments() {
        let fragments = concat!(
            include_str!("../../../kernel-config/ebpf-core.cfg"),
            include_str!("../../../kernel-config/ebpf-probes.cfg")
        );
        for (sym, ..) in SYMBOLS {
            assert!(
                fragments
                    .lines()
                    .any(|l| l.starts_with(&format!("{sym}=y"))),
                "{sym} is not in kernel-config/*.cfg"
            );
        }
    }
}
