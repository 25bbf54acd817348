//! The tool registry: every tool build.rs found and the features enabled, with its embedded
//! BPF object. A tool registers by its files (bpf/<tool>.bpf.c, bpf/<tool>.h,
//! src/tools/<tool>.rs) and one line in Cargo.toml's `[features]`; nothing here names it.

use agent_core::tool::Entry;

include!(concat!(env!("OUT_DIR"), "/registry.rs"));

macro_rules! registry {
    ($($tool:ident $object:ident),* $(,)?) => {
        $(pub mod $tool;)*

        /// Every tool built into this binary, in alphabetical order.
        pub static ALL: &[Entry] = &[$(Entry { spec: &$tool::TOOL, object: objects::$object }),*];
    };
}
each_tool!(registry);

/// The trial programs of `ebpf-agent check`.
pub const FEATPROBE: agent_core::bpf::Embedded = objects::FEATPROBE;

pub fn find(name: &str) -> Option<&'static Entry> {
    ALL.iter().find(|t| t.name() == name)
}

/// What every tool's unit tests parse their command lines with, and build and read their
/// records with.
#[cfg(test)]
#[macro_use]
pub mod testutil {
    use agent_core::cli::{self, Common};
    use agent_core::interval::Tick;
    use agent_core::net::Tuple;
    use agent_core::output::Out;
    use agent_core::pod::{self, Pod};
    use agent_core::tool::Tool;

    /// A tool's command line, parsed as the runner parses it.
    pub fn parse<T: Tool>(name: &str, argv: &[&str]) -> agent_core::Result<(Common, T::Args)> {
        let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
        cli::parse_tool::<T::Args>(name, &argv, T::DURATION_SHORT)
    }

    /// The error the runner stops with for this command line (parsing and the tool's own
    /// checks of its arguments), before anything touches the kernel.
    pub fn rejected<T: Tool>(name: &'static str, argv: &[&str]) -> agent_core::Error {
        let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
        match agent_core::tool::start::<T>(name, &argv) {
            Ok(_) => panic!("{name} accepted {argv:?}"),
            Err(e) => e,
        }
    }

    /// Each command line is a usage error (exit code 2) whose message names the flag; and
    /// `--help` exits 0 listing `help_flag`.
    pub fn assert_usage_errors<T: Tool>(
        name: &'static str,
        cases: &[(&[&str], &str)],
        help_flag: &str,
    ) {
        for (bad, flag) in cases {
            let e = rejected::<T>(name, bad);
            assert_eq!(e.exit_code, agent_core::error::EXIT_USAGE, "{bad:?}: {e}");
            assert!(
                e.message().contains(flag),
                "{bad:?} should name {flag}: {e}"
            );
        }
        let Err(help) = parse::<T>(name, &["-h"]) else {
            panic!("{name} -h did not end with its help");
        };
        assert_eq!(help.exit_code, 0);
        assert!(help.message().contains(help_flag), "{}", help.message());
    }

    /// A struct as the BPF side sends it: its bytes.
    pub fn record<T: Pod>(v: &T) -> Vec<u8> {
        pod::bytes_of(v).to_vec()
    }

    /// `s` at the start of a zeroed C array, as a `comm` or a name field holds it.
    pub fn padded<const N: usize>(s: &[u8]) -> [u8; N] {
        let mut a = [0; N];
        a[..s.len()].copy_from_slice(s);
        a
    }

    /// The connection from `local` to `remote`, each written as "10.0.0.1:80" or "[::1]:22".
    pub fn tuple(local: &str, remote: &str) -> Tuple {
        Tuple::of(local.parse().unwrap(), remote.parse().unwrap())
    }

    /// The first report of an interval tool, for the interval from `start_ns` to `end_ns`.
    pub fn tick(start_ns: u64, end_ns: u64) -> Tick {
        Tick {
            index: 1,
            start_ns,
            end_ns,
            last: false,
        }
    }

    /// What `write` puts out, as text or as JSON lines.
    pub fn written(json: bool, write: impl FnOnce(&mut Out)) -> String {
        let mut out = Out::memory(json);
        write(&mut out);
        out.memory_text()
    }

    /// The head of a top tool's screen: the summary line, ending with the load average, then
    /// a blank line.
    pub fn assert_summary(lines: &[&str], loadavg: &str) {
        let end = format!(" loadavg: {loadavg}");
        assert!(lines[0].ends_with(&end), "{}", lines[0]);
        assert_eq!(lines[1], "");
    }

    /// Each line of JSON output, parsed.
    pub fn json_lines(out: &str) -> Vec<serde_json::Value> {
        out.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// The helpers of a tool's unit tests, for tool type `$t` named `$name`:
    /// `parse_args(argv)` (its own flags), `common(argv)` (the runner's), `parsed(argv)` (both),
    /// `tool(argv)` (the tool made from them), `rejected(argv)`,
    /// `usage_errors(cases, help_flag)` and `run_records(flags, records)` (its output).
    macro_rules! tool_tests {
        ($t:ty, $name:literal) => {
            #[allow(dead_code)]
            fn parse_args(
                argv: &[&str],
            ) -> agent_core::Result<<$t as agent_core::tool::Tool>::Args> {
                $crate::tools::testutil::parse::<$t>($name, argv).map(|(_, a)| a)
            }

            #[allow(dead_code)]
            fn parsed(
                argv: &[&str],
            ) -> (
                agent_core::cli::Common,
                <$t as agent_core::tool::Tool>::Args,
            ) {
                $crate::tools::testutil::parse::<$t>($name, argv).unwrap()
            }

            #[allow(dead_code)]
            fn common(argv: &[&str]) -> agent_core::cli::Common {
                $crate::tools::testutil::parse::<$t>($name, argv).unwrap().0
            }

            #[allow(dead_code)]
            fn tool(argv: &[&str]) -> $t {
                let (c, a) = parsed(argv);
                <$t as agent_core::tool::Tool>::new(a, &c).unwrap()
            }

            #[allow(dead_code)]
            fn rejected(argv: &[&str]) -> agent_core::Error {
                $crate::tools::testutil::rejected::<$t>($name, argv)
            }

            #[allow(dead_code)]
            fn usage_errors(cases: &[(&[&str], &str)], help_flag: &str) {
                $crate::tools::testutil::assert_usage_errors::<$t>($name, cases, help_flag)
            }

            #[allow(dead_code)]
            fn run_records<R: AsRef<[u8]>>(flags: &[&str], records: &[R]) -> String {
                let records: Vec<&[u8]> = records.iter().map(AsRef::as_ref).collect();
                agent_core::tool::feed::<$t>($name, flags, &records).unwrap()
            }
        };
    }
    pub(crate) use tool_tests;
}

#[cfg(test)]
mod tests {
    use super::*;
    use agent_core::bpf::Object;

    /// Every struct a tool shares with its BPF program has the same size, field names and
    /// offsets on both sides (the C side read from the compiled object's BTF).
    #[test]
    fn rust_structs_match_the_c_layout() {
        for t in ALL {
            let obj = Object::open_embedded(&t.object).unwrap();
            for s in t.spec.structs {
                let c = obj.struct_layout(s.c_name).unwrap_or_else(|| {
                    panic!(
                        "{}: struct {} is not in the object's BTF: declare it in bpf/{}.h and keep it \
                         with a global in bpf/{}.bpf.c (`struct {} {}_btf __attribute__((unused));`) \
                         unless a map or the .rodata config already uses it",
                        t.name(), s.c_name, t.name(), t.name(), s.c_name, s.c_name
                    )
                });
                if let Err(e) = c.check(s) {
                    panic!("{}: {e}", t.name());
                }
            }
        }
    }

    /// Every program of every object is one the tool's hooks can attach: a program no hook
    /// names would be loaded for nothing (or reveals a hook renamed on one side only).
    #[test]
    fn every_program_is_attached_by_a_hook() {
        for t in ALL {
            let obj = Object::open_embedded(&t.object).unwrap();
            let mut declared = agent_core::hooks::all_programs(t.spec.hooks);
            declared.extend(t.spec.dynamic.iter().map(|p| p.to_string()));
            for (prog, section) in obj.programs() {
                assert!(
                    declared.contains(&prog),
                    "{}: program {prog} (SEC(\"{section}\")) is attached by no hook of its Spec",
                    t.name()
                );
            }
            for p in &declared {
                assert!(
                    obj.programs().iter().any(|(n, _)| n == p),
                    "{}: a hook names program {p}, which bpf/{}.bpf.c does not define",
                    t.name(),
                    t.name()
                );
            }
        }
    }
}
