//! What this kernel offers: BTF, tracefs, tracepoints, kprobes. Probed, never guessed from the
//! version, so a backported or trimmed kernel is judged by what it really has.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The kernel's own BTF, which CO-RE relocations are resolved against.
pub const VMLINUX_BTF: &str = "/sys/kernel/btf/vmlinux";

pub fn btf_present() -> bool {
    Path::new(VMLINUX_BTF).exists()
}

fn has_events(dir: &Path) -> bool {
    dir.join("events").is_dir()
}

/// Where tracefs is mounted; mounts it at /sys/kernel/tracing if it is nowhere (as root).
pub fn tracefs_root() -> Option<&'static Path> {
    static ROOT: OnceLock<Option<PathBuf>> = OnceLock::new();
    ROOT.get_or_init(|| {
        let candidates = [
            Path::new("/sys/kernel/tracing"),
            Path::new("/sys/kernel/debug/tracing"),
        ];
        if let Some(p) = candidates.iter().find(|p| has_events(p)) {
            return Some(p.to_path_buf());
        }
        let target = candidates[0];
        let mounted = nix::mount::mount(
            Some("tracefs"),
            target,
            Some("tracefs"),
            nix::mount::MsFlags::empty(),
            None::<&str>,
        );
        match mounted {
            Ok(()) if has_events(target) => {
                log::debug!("mounted tracefs at {}", target.display());
                Some(target.to_path_buf())
            }
            _ => None,
        }
    })
    .as_deref()
}

/// Does tracepoint `category:name` exist (tracefs `events/<category>/<name>`)?
pub fn tracepoint_exists(category: &str, name: &str) -> bool {
    tracefs_root().is_some_and(|r| r.join("events").join(category).join(name).is_dir())
}

/// Can this kernel attach kprobes at all (CONFIG_KPROBE_EVENTS)?
pub fn kprobes_supported() -> bool {
    tracefs_root().is_some_and(|r| r.join("kprobe_events").exists())
}

/// Can a kprobe attach to `func` (kprobes enabled and the function traceable)?
pub fn kprobe_exists(func: &str) -> bool {
    kprobes_exist(&[func])
}

/// Can kprobes attach to every one of `funcs`? One pass over the kernel's list of traceable
/// functions, which is long to make (megabytes; about a second on an emulated board): a tool
/// that needs several functions asks once.
pub fn kprobes_exist(funcs: &[&str]) -> bool {
    if !kprobes_supported() {
        return false;
    }
    let Some(root) = tracefs_root() else {
        return false;
    };
    let Ok(list) = std::fs::read_to_string(root.join("available_filter_functions")) else {
        // Without the list, kprobe support is the best we know.
        return true;
    };
    let mut missing: Vec<&str> = funcs.to_vec();
    for l in list.lines() {
        if let Some(name) = l.split_whitespace().next() {
            missing.retain(|f| *f != name);
            if missing.is_empty() {
                return true;
            }
        }
    }
    missing.is_empty()
}

const CAP_SYS_ADMIN: u32 = 21;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;

/// The effective capability set of this process (/proc/self/status `CapEff`).
pub fn effective_caps() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapEff:").map(|v| v.trim().to_string()))
        })
        .and_then(|v| u64::from_str_radix(&v, 16).ok())
        .unwrap_or(0)
}

/// Can this process load tracing programs: CAP_BPF with CAP_PERFMON, or CAP_SYS_ADMIN?
pub fn bpf_privileged() -> bool {
    let caps = effective_caps();
    let has = |c: u32| caps & (1u64 << c) != 0;
    has(CAP_SYS_ADMIN) || (has(CAP_BPF) && has(CAP_PERFMON))
}

/// Everything a tool checks before it loads anything: privileges first (they decide what
/// the other probes can see), then each of its needs. The error names the fix.
pub fn preflight(tool: &str, needs: &[Need]) -> crate::Result<()> {
    use crate::error::{Error, EXIT_PERMISSION, EXIT_UNSUPPORTED};
    if !bpf_privileged() {
        return Err(Error::new(format!("{tool} needs privileges to load BPF programs")).code(EXIT_PERMISSION).hint(
            "run as root, or grant CAP_BPF and CAP_PERFMON (kernel >= 5.8; CAP_SYS_ADMIN before), \
             e.g. setcap cap_bpf,cap_perfmon,cap_dac_read_search+ep /usr/sbin/ebpf-agent",
        ));
    }
    for need in needs {
        if let Some(why) = need.missing() {
            return Err(
                Error::new(format!("{tool} cannot run on this kernel: {why}"))
                    .code(EXIT_UNSUPPORTED),
            );
        }
    }
    Ok(())
}

/// A hook or feature a tool needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    Btf,
    Tracepoint(&'static str, &'static str),
    /// A kprobe on this kernel function.
    Kprobe(&'static str),
    /// Any one of these (a tool with fallback paths).
    Any(&'static [Need]),
}

impl Need {
    /// None if this kernel has it, else why not and the fix.
    pub fn missing(&self) -> Option<String> {
        match *self {
            Need::Btf if btf_present() => None,
            Need::Btf => Some(format!(
                "no kernel BTF at {VMLINUX_BTF}: enable CONFIG_DEBUG_INFO_BTF"
            )),
            Need::Tracepoint(c, n) if tracepoint_exists(c, n) => None,
            Need::Tracepoint(c, n) if tracefs_root().is_none() => Some(format!(
                "no tracefs to find tracepoint {c}:{n}: mount tracefs (CONFIG_TRACING)"
            )),
            Need::Tracepoint(c, n) => Some(format!(
                "no tracepoint {c}:{n}: enable {}",
                tracepoint_config(c)
            )),
            Need::Kprobe(f) if kprobe_exists(f) => None,
            Need::Kprobe(f) if !kprobes_supported() => Some(format!(
                "no kprobes for {f}: enable CONFIG_KPROBES and CONFIG_KPROBE_EVENTS"
            )),
            Need::Kprobe(f) => Some(format!(
                "kernel function {f} cannot be probed (inlined, renamed or notrace)"
            )),
            Need::Any(alts) => {
                let why: Vec<String> = alts
                    .iter()
                    .map(|n| n.missing())
                    .collect::<Option<Vec<_>>>()?;
                Some(why.join(", and "))
            }
        }
    }
}

/// The kernel config symbol that provides tracepoints of a category.
pub fn tracepoint_config(category: &str) -> &'static str {
    match category {
        "syscalls" => "CONFIG_FTRACE_SYSCALLS",
        "block" => "CONFIG_BLOCK and CONFIG_TRACEPOINTS",
        "sched" | "sock" | "tcp" => "CONFIG_TRACEPOINTS",
        _ => "CONFIG_TRACEPOINTS",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracepoints_of_this_kernel() {
        if tracefs_root().is_none() {
            eprintln!("skipped: no tracefs here");
            return;
        }
        // Present on every kernel with CONFIG_TRACEPOINTS.
        assert!(tracepoint_exists("sched", "sched_process_exec"));
        assert!(!tracepoint_exists("sched", "no_such_tracepoint_here"));
        assert!(Need::Tracepoint("syscalls", "no_such_syscall")
            .missing()
            .unwrap()
            .contains("CONFIG_FTRACE_SYSCALLS"));
    }
}
