//! The shared core of the ebpf-rust agents.
//!
//! Everything a second tool would otherwise copy lives here, once: the tool runner ([`tool`]:
//! parse, check, open, load, attach, loop, exit codes) over declared hooks ([`hooks`]) and one
//! event loop for any number of tools ([`evloop`]); loading BPF objects ([`bpf`]) and reading
//! their maps ([`maps`]) as plain old data ([`pod`]); output in text and JSON Lines
//! ([`output`], [`json`], [`text`]) with histograms ([`hist`]) and time ([`time`]); what the
//! kernel offers ([`probe`], [`kconfig`], [`btf`]); stacks and symbols ([`stacks`],
//! [`symbolize`] over [`ksyms`] and [`elf`]) and name patterns ([`pattern`]); command lines
//! ([`cli`]); diagnostics ([`logging`]) and errors that name their fix ([`error`]); libbpf's
//! option structs laid out for every target ([`opts`]); what block I/O tools share
//! ([`block`]); what the TCP tools decode alike ([`net`]).

pub mod block;
pub mod bpf;
pub mod btf;
pub mod cli;
pub mod elf;
pub mod error;
pub mod evloop;
pub mod hist;
pub mod hooks;
pub mod input;
pub mod interval;
pub mod json;
pub mod kconfig;
pub mod ksyms;
pub mod logging;
pub mod maps;
pub mod names;
pub mod net;
pub mod openflags;
pub mod opts;
pub mod output;
pub mod pattern;
pub mod pod;
pub mod prelude;
pub mod probe;
pub mod sort;
pub mod stacks;
pub mod symbolize;
pub mod text;
pub mod time;
pub mod tool;

pub use error::{Error, Result};
