//! The shared core of the ebpf-rust agents.
//!
//! Everything a second tool would otherwise copy lives here, once: loading an embedded BPF
//! object and its options ([`bpf`]), the event loop over a ring buffer with lost-event
//! accounting and clean shutdown ([`run`]), the report loop of interval tools ([`interval`]) and
//! the draining of their maps ([`maps`]), JSON Lines output ([`json`]), time conversion
//! ([`time`]), probing which hooks this kernel has ([`probe`]), command-line helpers ([`cli`]) and
//! errors that name their fix ([`error`]).

pub mod bpf;
pub mod btf;
pub mod cli;
pub mod error;
pub mod interval;
pub mod json;
pub mod kconfig;
pub mod maps;
pub mod openflags;
pub mod output;
pub mod probe;
pub mod run;
pub mod syscalls;
pub mod time;

pub use error::{Error, Result};
