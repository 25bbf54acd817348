//! `ebpf-agent overhead` against the host kernel: real storms, real BPF statistics.

mod common;

use common::{agent_bin, json_lines, Ty};

/// docs/overhead.md, JSON.
const OVERHEAD: &[(&str, Ty)] = typed_schema![
    tool: Str, seconds: Uint, ops_untraced: Uint, ops_traced: Uint,
    rate_untraced: Num, rate_traced: Num, slowdown: Num, bpf_runs: Uint, bpf_ns_per_run: Uint,
    bpf_ns_per_op: Uint
];
const OVERHEAD_OPTIONAL: &[(&str, Ty)] = schema![error: Str];

#[test]
fn schema_is_the_documented_one() {
    common::assert_documented("overhead.md", "JSON", OVERHEAD, OVERHEAD_OPTIONAL);
}

#[test]
fn storms_run_and_the_kernel_counts_the_programs() {
    let Some(bin) = agent_bin() else { return };
    let out = common::run_to_end(
        &bin,
        &[
            "overhead",
            "--seconds",
            "1",
            "--json",
            "syscount",
            "opensnoop",
        ],
    );
    let rows = json_lines(&out);
    assert_eq!(rows.len(), 2, "{out}");
    for (r, tool, progs_per_op) in [(&rows[0], "syscount", 1), (&rows[1], "opensnoop", 1)] {
        common::check_schema(r, OVERHEAD, &[]);
        assert_eq!(r["tool"], tool);
        let traced = r["ops_traced"].as_u64().unwrap();
        assert!(traced > 0 && r["ops_untraced"].as_u64().unwrap() > 0, "{r}");
        // Every traced operation ran the tool's programs: syscount's sys_exit once, and
        // opensnoop's one raw tracepoint on every syscall's exit once (other processes' calls
        // run them too).
        assert!(
            r["bpf_runs"].as_u64().unwrap() >= progs_per_op * traced,
            "{r}"
        );
        assert!(r["bpf_ns_per_run"].as_u64().unwrap() > 0, "{r}");
    }
    let (code, err) = common::exit_and_stderr(&bin, &["overhead", "nosuchtool"]);
    assert_eq!(code, Some(2), "{err}");
    let (code, err) = common::exit_and_stderr(&bin, &["overhead", "--seconds", "0"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--seconds"), "{err}");
}
