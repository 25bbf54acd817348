//! Diagnostics on stderr through `log`: warnings and errors by default, `-v` for the details
//! (which hooks were picked, libbpf's log). RUST_LOG overrides both.

use std::io::Write;

use log::LevelFilter;

/// Starts the logger; lines are prefixed with the tool's name, like BCC's tools do.
pub fn init(tool: &'static str) {
    let mut builder = env_logger::Builder::new();
    builder
        .format(move |buf, rec| match rec.level() {
            log::Level::Error => writeln!(buf, "{tool}: error: {}", rec.args()),
            log::Level::Warn => writeln!(buf, "{tool}: warning: {}", rec.args()),
            _ => writeln!(buf, "{tool}: {}", rec.args()),
        })
        .filter_level(LevelFilter::Trace);
    let from_env = std::env::var("RUST_LOG").ok();
    if let Some(spec) = &from_env {
        builder.parse_filters(spec);
    }
    let _ = builder.try_init();
    if from_env.is_none() {
        log::set_max_level(LevelFilter::Warn);
    }
    crate::bpf::init_libbpf_logging();
}

/// `-v`: show the details.
pub fn verbose(on: bool) {
    if on && std::env::var_os("RUST_LOG").is_none() {
        log::set_max_level(LevelFilter::Debug);
    }
}
