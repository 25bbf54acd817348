//! The tool registry: one entry per tool, each behind its cargo feature.

use agent_core::probe::Need;
use agent_core::Result;

#[cfg(feature = "execsnoop")]
pub mod execsnoop;

/// A tool of the multi-call binary.
pub struct Tool {
    pub name: &'static str,
    /// One line for `--help` and `list`.
    pub about: &'static str,
    /// What the kernel must have for the tool to run (checked by `list`).
    pub needs: &'static [Need],
    pub main: fn(&[String]) -> Result<()>,
}

/// Every tool built into this binary.
pub const ALL: &[Tool] = &[
    #[cfg(feature = "execsnoop")]
    execsnoop::TOOL,
];

pub fn find(name: &str) -> Option<&'static Tool> {
    ALL.iter().find(|t| t.name == name)
}
