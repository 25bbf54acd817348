//! `ebpf-agent`: one static binary, many tracing tools (busybox-style).
//!
//! `ebpf-agent <tool> [args]` runs a tool; so does a symlink named after the tool
//! (`/usr/sbin/execsnoop -> ebpf-agent`). `ebpf-agent list` says which tools this kernel can run.

use std::io::Write;
use std::path::Path;

use agent_core::error::Error;
use agent_core::logging;
use agent_core::tool;

mod check;
#[cfg(feature = "collect")]
mod collect;
#[cfg(test)]
mod fuzz;
mod list;
mod overhead;
#[cfg(feature = "run")]
mod run;
mod syscalls;
mod tools;
mod verify;

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The agent's own commands (beside the tools), each with its entry point.
type Main = fn(&[String]) -> Result<(), Error>;
const COMMANDS: &[(&str, Main)] = &[
    ("list", list::main),
    ("check", check::main),
    ("verify", verify::main),
    ("overhead", overhead::main),
    #[cfg(feature = "collect")]
    ("collect", collect::main),
    #[cfg(feature = "run")]
    ("run", run::main),
];

fn usage() -> String {
    let mut s = format!(
        "ebpf-agent {VERSION}: eBPF tracing tools for embedded Linux\n\n\
         Usage: ebpf-agent <tool> [options]    (or run a tool through a symlink named after it)\n\
         \x20      ebpf-agent list [--json]       which tools this kernel can run, and why not\n\
         \x20      ebpf-agent check [--json]      what the kernel offers, and the fix for what it lacks\n\
         \x20      ebpf-agent verify [--json]     run every tool against its own workload: the device test\n\
         \x20      ebpf-agent overhead [TOOL...]  what each tool costs a workload on this device\n"
    );
    #[cfg(feature = "collect")]
    s.push_str(collect::USAGE);
    #[cfg(feature = "run")]
    s.push_str(run::USAGE);
    s.push_str("       ebpf-agent <tool> --help       a tool's options\n\nTools:\n");
    for t in tools::ALL {
        s.push_str(&format!("  {:<12} {}\n", t.name(), t.spec.about));
    }
    s
}

fn run(argv: &[String]) -> Result<(), Error> {
    let argv0 = argv.first().map(String::as_str).unwrap_or("ebpf-agent");
    let invoked = Path::new(argv0)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("ebpf-agent");
    if let Some(entry) = tools::find(invoked) {
        logging::init(entry.name());
        return tool::main(entry, &argv[1..]);
    }
    let Some(cmd) = argv.get(1) else {
        logging::init("ebpf-agent");
        print!("{}", usage());
        return Err(Error::usage("no tool given"));
    };
    let rest = &argv[2..];
    match cmd.as_str() {
        "-h" | "--help" | "help" => {
            print!("{}", usage());
            Ok(())
        }
        "-V" | "--version" => {
            println!("ebpf-agent {VERSION}");
            Ok(())
        }
        name if COMMANDS.iter().any(|(c, _)| *c == name) => {
            let (cmd, main) = COMMANDS.iter().find(|(c, _)| *c == name).unwrap();
            logging::init(cmd);
            // collect writes to its files: a service may run it with stdout closed.
            if *cmd != "collect" {
                agent_core::output::require_stdout()?;
            }
            main(rest)
        }
        name => match tools::find(name) {
            Some(entry) => {
                logging::init(entry.name());
                tool::main(entry, rest)
            }
            None => {
                logging::init("ebpf-agent");
                Err(Error::usage(format!("unknown tool {name:?}"))
                    .hint("`ebpf-agent --help` lists the tools"))
            }
        },
    }
}

fn main() {
    agent_core::probe::raise_open_files_limit();
    let argv: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let code = match run(&argv) {
        Ok(()) => 0,
        Err(e) if e.exit_code == 0 => {
            // --help, a listing: the message is the output.
            print!("{}", e.message());
            let _ = std::io::stdout().flush();
            0
        }
        Err(e) => {
            let _ = std::io::stdout().flush();
            log::error!("{}", e.message());
            if let Some(hint) = e.hint_text() {
                log::error!("fix: {hint}");
            }
            if let Some(detail) = e.detail_text() {
                if log::max_level() >= log::LevelFilter::Debug {
                    eprintln!("{detail}");
                }
            }
            e.exit_code
        }
    };
    // A tracefs mounted to find tracepoints goes again: the system is left as found.
    agent_core::probe::unmount_ours();
    std::process::exit(code);
}
