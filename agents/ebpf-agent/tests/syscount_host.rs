//! syscount against the host kernel, through the real static binary.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{agent_bin, check_schema, start, Phases, Ty, LOST_REQUIRED};
use serde_json::{json, Value};

/// docs/tools/syscount.md.
const INTERVAL_REQUIRED: &[(&str, Ty)] = event_schema![
    interval_ns: Uint, by: Str, rows: ObjArray, total_rows: Uint
];
const SYSCALL_ROW: &[(&str, Ty)] = schema![syscall: Str, id: Uint, abi: Str, count: Uint];
const PROCESS_ROW: &[(&str, Ty)] = schema![pid: Uint, comm: Str, count: Uint];
const LATENCY: &[(&str, Ty)] = schema![total_ns: Uint];
const PROCESS_OPTIONAL: &[(&str, Ty)] = schema![total_ns: Uint, comm_hex: Str];

#[test]
fn schema_is_the_documented_one() {
    let doc = "tools/syscount.md";
    common::assert_documented(doc, "JSON", INTERVAL_REQUIRED, &[]);
    common::assert_documented(doc, "Rows by syscall", SYSCALL_ROW, LATENCY);
    common::assert_documented(doc, "Rows by process", PROCESS_ROW, PROCESS_OPTIONAL);
    common::assert_documented("json.md", "Lost events", LOST_REQUIRED, &[]);
}

/// Checks every line against the schema; returns the interval objects.
fn intervals(out: &str) -> Vec<Value> {
    common::interval_objects(out, INTERVAL_REQUIRED, |iv, r| {
        if iv["by"] == "process" {
            check_schema(r, PROCESS_ROW, PROCESS_OPTIONAL);
        } else {
            check_schema(r, SYSCALL_ROW, LATENCY);
        }
    })
}

/// Makes 777 getppid() calls and 333 close() calls that fail with EBADF.
const WORKLOAD: &str = "
def phase_calls():
    for _ in range(777):
        os.getppid()
    for _ in range(333):
        try:
            os.close(987654)
        except OSError:
            pass
";

/// Runs syscount with `flags` on a fresh workload process, one phase of calls, then SIGINT.
fn run_on_workload(flags: &[&str]) -> (Vec<Value>, u32) {
    let bin = agent_bin().unwrap();
    let mut w = Phases::spawn(WORKLOAD);
    let pid = w.pid();
    let mut cmd = Command::new(&bin);
    cmd.args(["syscount", "-v", "-p", &pid.to_string()])
        .args(flags);
    let agent = start(cmd);
    w.run("calls");
    std::thread::sleep(Duration::from_millis(200));
    let (out, _) = agent.stop();
    w.finish();
    (intervals(&out), pid)
}

/// The rows of all intervals, by syscall name, counts summed.
fn by_syscall(ivs: &[Value]) -> std::collections::BTreeMap<String, (u64, u64)> {
    let mut m = std::collections::BTreeMap::new();
    for iv in ivs {
        for r in iv["rows"].as_array().unwrap() {
            let e = m
                .entry(r["syscall"].as_str().unwrap().to_string())
                .or_insert((0, 0));
            e.0 += r["count"].as_u64().unwrap();
            e.1 += r["total_ns"].as_u64().unwrap_or(0);
        }
    }
    m
}

#[test]
fn exact_counts_per_syscall_for_one_process() {
    if agent_bin().is_none() {
        return;
    }
    let (ivs, _) = run_on_workload(&["--json", "-T", "500"]);
    assert_eq!(ivs.len(), 1, "one report, at SIGINT: {ivs:?}");
    assert_eq!(ivs[0]["by"], "syscall");
    let m = by_syscall(&ivs);
    assert_eq!(m["getppid"].0, 777, "{m:?}");
    assert_eq!(m["close"].0, 333, "{m:?}");
    let row = ivs[0]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["syscall"] == "getppid")
        .unwrap();
    assert_eq!(row["id"], 110, "x86_64's number");
    assert!(row.get("total_ns").is_none(), "no latency without -L");
    assert_eq!(ivs[0]["total_rows"].as_u64(), Some(m.len() as u64));
}

#[test]
fn errno_filter_and_latency() {
    if agent_bin().is_none() {
        return;
    }
    let (ivs, _) = run_on_workload(&["--json", "-x", "-e", "EBADF", "-L"]);
    let rows = &ivs.last().unwrap()["rows"];
    assert_eq!(
        rows.as_array().unwrap().len(),
        1,
        "only close fails: {rows}"
    );
    assert_eq!(rows[0]["syscall"], "close");
    assert_eq!(rows[0]["count"], 333);
    let ns = rows[0]["total_ns"].as_u64().unwrap();
    // 333 failing closes: more than nothing, less than a second.
    assert!(ns > 0 && ns < 1_000_000_000, "total_ns {ns}");

    // -e by number, and an errno nothing fails with: nothing counted.
    let (ivs, _) = run_on_workload(&["--json", "-e", "2"]);
    assert_eq!(ivs.last().unwrap()["rows"], json!([]));
}

#[test]
fn per_process_counts_only_the_process() {
    if agent_bin().is_none() {
        return;
    }
    let (ivs, pid) = run_on_workload(&["--json", "-P", "-L", "-m"]);
    let rows = ivs.last().unwrap()["rows"].as_array().unwrap().clone();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["pid"], pid);
    assert_eq!(rows[0]["comm"], "python3");
    // The phase's 1,110 calls, plus the reads of its command and the write of its answer.
    let n = rows[0]["count"].as_u64().unwrap();
    assert!((1110..1200).contains(&n), "count {n}");
}

#[test]
fn text_columns_like_libbpf_tools() {
    if agent_bin().is_none() {
        return;
    }
    let bin = agent_bin().unwrap();
    let mut w = Phases::spawn(WORKLOAD);
    let agent = common::start_tool(
        &bin,
        &["syscount", "-v", "-T", "2", "-p", &w.pid().to_string()],
    );
    w.run("calls");
    std::thread::sleep(Duration::from_millis(200));
    let (out, _) = agent.stop();
    w.finish();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "Tracing syscalls, printing top 2... Ctrl+C to quit."
    );
    assert!(
        lines[1].starts_with('[') && lines[1].ends_with(']'),
        "{out}"
    );
    assert_eq!(lines[2], "SYSCALL                   COUNT");
    assert_eq!(lines[3], "getppid                     777");
    assert_eq!(lines[4], "close                       333");
    assert_eq!(lines[5], "");
    assert_eq!(lines.len(), 6, "{out}");
}

#[test]
fn intervals_duration_and_a_pid_that_does_not_exist() {
    let Some(bin) = agent_bin() else { return };
    let t0 = std::time::Instant::now();
    let out = Command::new(&bin)
        .args([
            "syscount",
            "--json",
            "-p",
            &common::gone_pid(),
            "-i",
            "1",
            "-d",
            "2.5",
        ])
        .output()
        .unwrap();
    let took = t0.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ivs = intervals(&String::from_utf8(out.stdout).unwrap());
    assert_eq!(ivs.len(), 3, "reports at 1 s, 2 s and 2.5 s: {ivs:?}");
    for (i, iv) in ivs.iter().enumerate() {
        assert_eq!(iv["rows"], json!([]), "nothing from other processes");
        let len = iv["interval_ns"].as_u64().unwrap();
        let want = if i < 2 { 1_000_000_000 } else { 500_000_000 };
        assert!(len.abs_diff(want) < 150_000_000, "interval {i}: {len} ns");
    }
    assert!(took < Duration::from_secs(6), "took {took:?}");
}

#[test]
fn bad_flags_list_and_errors() {
    let Some(bin) = agent_bin() else { return };
    common::assert_usage_errors(
        &bin,
        "syscount",
        &[
            (&["-e", "ENOSUCHTHING"][..], "ENOSUCHTHING"),
            (&["-T", "0"], "--top"),
            (&["--bogus"], "--bogus"),
            (&["-i", "soon"], "-i"),
        ],
    );
    let out = Command::new(&bin)
        .args(["syscount", "-l"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let list = String::from_utf8(out.stdout).unwrap();
    assert_eq!(list.lines().next(), Some("  0: read"));
    assert!(list.lines().any(|l| l == "257: openat"));

    common::assert_needs_privileges(&bin, "syscount", &["-d", "1"]);
}
