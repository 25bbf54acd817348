//! funccount against the host kernel, through the real static binary: user functions of our
//! own C workload and syscall tracepoints, counted exactly; kernel functions refused with the
//! reason on this kernel without kprobes.

mod common;

use std::collections::BTreeMap;
use std::process::Command;

use common::cwork::{exe, Variant, Work};
use common::{agent_bin, check_schema, start, Ty};

/// docs/tools/funccount.md.
const REQUIRED: &[(&str, Ty)] = event_schema![
    interval_ns: Uint, rows: ObjArray, total_rows: Uint, probes: Uint
];
const ROW: &[(&str, Ty)] = schema![kind: Str, name: Str, count: Uint];
const ROW_OPTIONAL: &[(&str, Ty)] = schema![module: Str];

#[test]
fn schema_is_the_documented_one() {
    common::assert_documented("tools/funccount.md", "JSON", REQUIRED, &[]);
    common::assert_documented("tools/funccount.md", "Rows", ROW, ROW_OPTIONAL);
}

/// Runs `cwork ARGS` under `funccount --json -v -p PID PATTERNS...`; the counts by name,
/// summed over the reports, and how many reports.
fn count(work: &[&str], flags: &[&str]) -> (BTreeMap<String, u64>, usize) {
    let bin = agent_bin().unwrap();
    let mut w = Work::spawn(Variant::PieFp, work);
    let mut cmd = Command::new(&bin);
    cmd.args(["funccount", "--json", "-v", "-p", &w.pid().to_string()])
        .args(flags);
    let agent = start(cmd);
    w.go();
    w.finish();
    let (out, _) = agent.stop();
    let ivs = common::interval_objects(&out, REQUIRED, |_, r| check_schema(r, ROW, ROW_OPTIONAL));
    let mut m = BTreeMap::new();
    for iv in &ivs {
        for r in iv["rows"].as_array().unwrap() {
            *m.entry(r["name"].as_str().unwrap().to_string())
                .or_default() += r["count"].as_u64().unwrap();
        }
    }
    (m, ivs.len())
}

#[test]
fn user_functions_counted_exactly() {
    if agent_bin().is_none() {
        return;
    }
    let path = exe(Variant::PieFp);
    let p = path.to_str().unwrap();
    let (m, _) = count(&["calls", "1234", "567"], &[&format!("u:{p}:counted_fn")]);
    assert_eq!(m.get("counted_fn"), Some(&1234), "{m:?}");
    // A glob matching both: each told apart (by link cookie on this kernel).
    let (m, _) = count(&["calls", "1234", "567"], &[&format!("{p}:counted_*")]);
    assert_eq!(m.get("counted_fn"), Some(&1234), "{m:?}");
    assert_eq!(m.get("counted_other_fn"), Some(&567), "{m:?}");
}

#[test]
fn tracepoint_patterns_counted_exactly() {
    if agent_bin().is_none() {
        return;
    }
    let (m, _) = count(
        &["syscalls", "777", "333"],
        &["t:syscalls:sys_enter_getp*id"],
    );
    assert_eq!(m.get("syscalls:sys_enter_getppid"), Some(&777), "{m:?}");
    assert_eq!(m.get("syscalls:sys_enter_getpgid"), Some(&333), "{m:?}");
    // A regular expression, with an interval: two reports at least, the same totals.
    let (m, n) = count(
        &["syscalls", "777", "333", "500"],
        &["-r", "-i", "100ms", "t:syscalls:sys_enter_getp(p|g)id$"],
    );
    assert!(n >= 2, "{n} reports");
    assert_eq!(m.get("syscalls:sys_enter_getppid"), Some(&777), "{m:?}");
    assert_eq!(m.get("syscalls:sys_enter_getpgid"), Some(&333), "{m:?}");
    assert!(!m.contains_key("syscalls:sys_enter_getpid"), "{m:?}");
}

/// A storm of calls counted while the counts are drained every 20 ms: the total exact. A
/// program adds through the pointer its lookup returned, so draining the map it writes would
/// lose the additions that land between the read and the delete (a dozen in 2,000,000 here);
/// the map is swapped for its spare first.
#[test]
fn drained_while_counting_a_storm() {
    if agent_bin().is_none() {
        return;
    }
    const N: u64 = 2_000_000;
    let (m, n) = count(
        &["syscalls", &N.to_string(), "1"],
        &["-i", "20ms", "t:syscalls:sys_enter_getppid"],
    );
    assert!(
        n >= 10,
        "{n} reports: the storm was not drained while it ran"
    );
    assert_eq!(m.get("syscalls:sys_enter_getppid"), Some(&N), "{m:?}");
}

/// Tracepoints and user functions in one run, several of each.
#[test]
fn kinds_together() {
    if agent_bin().is_none() {
        return;
    }
    let p = exe(Variant::PieFp).display().to_string();
    let (m, _) = count(
        &["calls", "50", "60"],
        &[
            "t:syscalls:sys_enter_getppid",
            "t:syscalls:sys_enter_getpgid",
            &format!("{p}:counted_fn"),
            &format!("u:{p}:counted_other_fn"),
        ],
    );
    assert_eq!(m.get("syscalls:sys_enter_getppid"), Some(&50), "{m:?}");
    assert_eq!(m.get("syscalls:sys_enter_getpgid"), None, "{m:?}");
    assert_eq!(m.get("counted_fn"), Some(&50), "{m:?}");
    assert_eq!(m.get("counted_other_fn"), Some(&60), "{m:?}");
}

/// This kernel has no kprobes: k: patterns fail with the reason (exit 3), t: and u: run.
#[test]
fn kernel_functions_need_kprobes() {
    let Some(bin) = agent_bin() else { return };
    if common::skipped_for_kprobes() {
        return;
    }
    let (code, err) = common::exit_and_stderr(&bin, &["funccount", "-d", "1", "k:vfs_*"]);
    assert_eq!(code, Some(3), "{err}");
    assert!(
        err.contains("kprobes") && err.contains("CONFIG_KPROBES"),
        "{err}"
    );
    assert!(
        err.contains("t:") && err.contains("u:"),
        "names what works: {err}"
    );
}

#[test]
fn bad_patterns() {
    let Some(bin) = agent_bin() else { return };
    common::assert_usage_errors(
        &bin,
        "funccount",
        &[
            (&[][..], "PATTERN"),
            (&["t:nosuch:event_*"], "no tracepoint"),
            (&["u:c:no_such_function_here"], "no function"),
            (&["-r", "t:sched:(x"], "unclosed"),
        ],
    );
    common::assert_needs_privileges(&bin, "funccount", &["t:sched:sched_switch"]);
}
