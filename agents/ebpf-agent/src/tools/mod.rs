//! The tool registry: one entry per tool, each behind its cargo feature.

use agent_core::probe::Need;
use agent_core::Result;

#[cfg(feature = "execsnoop")]
pub mod execsnoop;
#[cfg(feature = "exitsnoop")]
pub mod exitsnoop;
#[cfg(feature = "filetop")]
pub mod filetop;
#[cfg(feature = "filewatch")]
pub mod filewatch;
#[cfg(feature = "opensnoop")]
pub mod opensnoop;
#[cfg(feature = "statsnoop")]
pub mod statsnoop;
#[cfg(feature = "syscount")]
pub mod syscount;

/// A tool of the multi-call binary.
pub struct Tool {
    pub name: &'static str,
    /// One line for `--help` and `list`.
    pub about: &'static str,
    /// What the kernel must have for the tool to run (checked by `list` and at start).
    pub needs: &'static [Need],
    pub main: fn(&[String]) -> Result<()>,
    /// How `ebpf-agent verify` proves the tool works on this kernel.
    pub selftest: SelfTest,
}

/// A short run of a tool against a workload that proves it sees events.
pub struct SelfTest {
    /// Arguments added to `<tool> --json -v` for the run.
    pub args: fn(marker: &str) -> Vec<String>,
    /// Makes events the tool must see, tagged with `marker` (a unique ASCII string). Returns the
    /// strings that must each appear in the tool's JSON output (most often the marker itself).
    pub workload: fn(marker: &str) -> std::io::Result<Vec<String>>,
}

/// Every tool built into this binary, in alphabetical order.
pub const ALL: &[Tool] = &[
    #[cfg(feature = "execsnoop")]
    execsnoop::TOOL,
    #[cfg(feature = "exitsnoop")]
    exitsnoop::TOOL,
    #[cfg(feature = "filetop")]
    filetop::TOOL,
    #[cfg(feature = "filewatch")]
    filewatch::TOOL,
    #[cfg(feature = "opensnoop")]
    opensnoop::TOOL,
    #[cfg(feature = "statsnoop")]
    statsnoop::TOOL,
    #[cfg(feature = "syscount")]
    syscount::TOOL,
];

pub fn find(name: &str) -> Option<&'static Tool> {
    ALL.iter().find(|t| t.name == name)
}

/// What every tool's unit tests build their inputs with.
#[cfg(test)]
pub mod testutil {
    /// Command-line arguments as the tools receive them.
    pub fn args(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    /// The bytes of a `#[repr(C)]` record, as the BPF side would send it.
    pub fn as_bytes<T>(v: &T) -> &[u8] {
        unsafe { std::slice::from_raw_parts(v as *const T as *const u8, std::mem::size_of::<T>()) }
    }
}
