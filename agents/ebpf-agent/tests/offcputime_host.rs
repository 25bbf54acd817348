//! offcputime against the host kernel, through the real static binary: our own C workload
//! sleeps and blocks in a read() for known times, in functions of known names.

mod common;

use std::process::Command;

use common::cwork::{Variant, Work};
use common::stacks::{self, kernel_symbols, parse_folded, user_symbols};
use common::{agent_bin, json_lines, start, Ty};
use serde_json::Value;

/// docs/tools/offcputime.md, JSON.
const REQUIRED: &[(&str, Ty)] = event_schema![
    interval_ns: Uint, rows: ObjArray, total_rows: Uint, modules: ObjArray
];
const OPTIONAL: &[(&str, Ty)] = schema![kernel_symbols: Str];

#[test]
fn schema_is_the_documented_one() {
    common::assert_documented("tools/offcputime.md", "JSON", REQUIRED, OPTIONAL);
    stacks::assert_documented();
}

const SLEEP_MS: u64 = 1000;
const READ_MS: u64 = 500;

/// Runs the blocking workload under `offcputime ARGS -p PID`; returns the output and pid.
fn run(args: &[&str]) -> (String, u32, Vec<String>) {
    let bin = agent_bin().unwrap();
    let mut w = Work::spawn(
        Variant::PieFp,
        &["block", &SLEEP_MS.to_string(), &READ_MS.to_string()],
    );
    let pid = w.pid();
    let mut cmd = Command::new(&bin);
    cmd.arg("offcputime")
        .args(args)
        .args(["-v", "-p", &pid.to_string()]);
    let agent = start(cmd);
    w.go();
    w.finish();
    let (out, err) = agent.stop();
    (out, pid, err)
}

/// Within 10 % of `want_ms`.
fn close(ns: u64, want_ms: u64) -> bool {
    let want = want_ms * 1_000_000;
    ns >= want - want / 10 && ns <= want + want / 10
}

/// The nanosleep and the read are each attributed, to their own function and kernel path,
/// within 10 % of the time they took.
#[test]
fn known_blocks_attributed_within_ten_percent() {
    if agent_bin().is_none() {
        return;
    }
    let (out, pid, err) = run(&["--json"]);
    assert!(
        err.iter()
            .any(|l| l.contains("tracing: tp_btf sched_switch")
                || l.contains("tracing: raw_tp sched_switch")),
        "{err:?}"
    );
    let lines = json_lines(&out);
    let r = lines
        .iter()
        .find(|v| v["type"] == "interval")
        .expect("a report");
    common::check_schema(r, REQUIRED, OPTIONAL);
    stacks::check_report(r);
    let rows: Vec<&Value> = r["rows"].as_array().unwrap().iter().collect();
    assert!(rows.iter().all(|x| x["pid"] == pid), "-p: {rows:?}");
    let in_fn = |f: &str| -> (u64, Vec<&Value>) {
        let mine: Vec<&Value> = rows
            .iter()
            .copied()
            .filter(|x| user_symbols(x).iter().any(|s| s == f))
            .collect();
        (
            mine.iter().map(|x| x["total_ns"].as_u64().unwrap()).sum(),
            mine,
        )
    };
    let (slept, rows_s) = in_fn("sleep_marker_fn");
    assert!(close(slept, SLEEP_MS), "nanosleep: {slept} ns: {rows_s:?}");
    assert!(
        rows_s
            .iter()
            .any(|x| kernel_symbols(x).iter().any(|s| s == "do_nanosleep")),
        "{rows_s:?}"
    );
    let (read, rows_r) = in_fn("read_marker_fn");
    assert!(close(read, READ_MS), "read: {read} ns: {rows_r:?}");
    assert!(
        rows_r
            .iter()
            .any(|x| kernel_symbols(x).iter().any(|s| s.contains("pipe_read"))),
        "{rows_r:?}"
    );
    assert!(rows.iter().all(|x| x["tid"] == pid), "one thread");
}

/// Folded output parses; the sleep's line holds its frames root first and its time in us.
#[test]
fn folded_output() {
    if agent_bin().is_none() {
        return;
    }
    let (out, _, _) = run(&["-f", "-d"]);
    let lines: Vec<(Vec<String>, u64)> = out.lines().map(parse_folded).collect();
    let sleep: u64 = lines
        .iter()
        .filter(|l| l.0.iter().any(|f| f == "sleep_marker_fn"))
        .map(|l| l.1)
        .sum();
    assert!(close(sleep * 1000, SLEEP_MS), "{sleep} us:\n{out}");
    let l = lines
        .iter()
        .find(|l| l.0.iter().any(|f| f == "sleep_marker_fn"))
        .unwrap();
    assert_eq!(l.0[0], "cw-pie-fp");
    let main = l.0.iter().position(|f| f == "main").unwrap();
    let mark = l.0.iter().position(|f| f == "sleep_marker_fn").unwrap();
    let delim =
        l.0.iter()
            .position(|f| f == "-")
            .expect("-d: the delimiter");
    let sched = l.0.iter().position(|f| f == "do_nanosleep").unwrap();
    assert!(main < mark && mark < delim && delim < sched, "{l:?}");
}

#[test]
fn bad_flags_and_privileges() {
    let Some(bin) = agent_bin() else { return };
    common::assert_usage_error(&bin, "offcputime", &["-u", "-k"], "-k");
    common::assert_usage_error(&bin, "offcputime", &["-m", "9", "-M", "2"], "-M");
    common::assert_needs_privileges(&bin, "offcputime", &[]);
}
