//! Diagnostics on stderr through `log`: warnings and errors by default, `-v` for the details
//! (which hooks were picked, libbpf's log). RUST_LOG overrides both: a level (`debug`), or
//! `target=level` pairs separated by commas (`libbpf=trace,warn`).
//!
//! A few lines of our own rather than env_logger: one line per message, written with one
//! write(2) so lines from several threads never interleave, and no filter engine to carry.

use std::io::Write;
use std::sync::OnceLock;

use log::{Level, LevelFilter, Log, Metadata, Record};

struct Logger {
    tool: &'static str,
    /// From RUST_LOG: (target prefix, level); "" for the default. The longest prefix wins.
    rules: Vec<(String, LevelFilter)>,
}

static LOGGER: OnceLock<Logger> = OnceLock::new();

fn parse_level(s: &str) -> Option<LevelFilter> {
    s.trim().parse().ok()
}

/// RUST_LOG's rules: `warn`, `libbpf=trace`, comma-separated.
fn parse_spec(spec: &str) -> Vec<(String, LevelFilter)> {
    spec.split(',')
        .filter(|p| !p.trim().is_empty())
        .filter_map(|p| match p.split_once('=') {
            Some((t, l)) => parse_level(l).map(|l| (t.trim().to_string(), l)),
            None => parse_level(p)
                .map(|l| (String::new(), l))
                .or_else(|| Some((p.trim().to_string(), LevelFilter::Trace))),
        })
        .collect()
}

impl Logger {
    fn allows(&self, target: &str, level: Level) -> bool {
        let rule = self
            .rules
            .iter()
            .filter(|(t, _)| target.starts_with(t.as_str()))
            .max_by_key(|(t, _)| t.len());
        match rule {
            Some((_, l)) => level <= *l,
            None => true,
        }
    }
}

impl Log for Logger {
    fn enabled(&self, m: &Metadata) -> bool {
        self.allows(m.target(), m.level())
    }

    fn log(&self, rec: &Record) {
        if !self.enabled(rec.metadata()) {
            return;
        }
        let tool = self.tool;
        let line = match rec.level() {
            Level::Error => format!("{tool}: error: {}\n", rec.args()),
            Level::Warn => format!("{tool}: warning: {}\n", rec.args()),
            _ => format!("{tool}: {}\n", rec.args()),
        };
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }

    fn flush(&self) {}
}

/// Starts the logger; lines are prefixed with the tool's name, like BCC's tools do.
pub fn init(tool: &'static str) {
    let spec = std::env::var("RUST_LOG").ok();
    let logger = LOGGER.get_or_init(|| Logger {
        tool,
        rules: spec.as_deref().map(parse_spec).unwrap_or_default(),
    });
    if log::set_logger(logger).is_ok() {
        let max = if spec.is_some() {
            logger
                .rules
                .iter()
                .map(|(_, l)| *l)
                .max()
                .unwrap_or(LevelFilter::Trace)
        } else {
            LevelFilter::Warn
        };
        log::set_max_level(max);
    }
    crate::bpf::init_libbpf_logging();
}

/// `-v`: show the details.
pub fn verbose(on: bool) {
    if on && std::env::var_os("RUST_LOG").is_none() {
        log::set_max_level(LevelFilter::Debug);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_log_rules() {
        let l = Logger {
            tool: "t",
            rules: parse_spec("libbpf=trace, warn"),
        };
        assert!(l.allows("libbpf", Level::Trace));
        assert!(l.allows("agent_core::tool", Level::Warn));
        assert!(!l.allows("agent_core::tool", Level::Info));
        let l = Logger {
            tool: "t",
            rules: parse_spec("debug"),
        };
        assert!(l.allows("x", Level::Debug) && !l.allows("x", Level::Trace));
        let l = Logger {
            tool: "t",
            rules: Vec::new(),
        };
        assert!(l.allows("x", Level::Trace));
    }
}
