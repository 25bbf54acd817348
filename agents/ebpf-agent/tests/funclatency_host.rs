//! funclatency against the host kernel, through the real static binary: a function of our
//! own C workload that sleeps a known time lands in its bucket; kernel functions are refused
//! with the reason on this kernel without kprobes or trampolines.

mod common;

use std::process::Command;

use common::cwork::{exe, Variant, Work};
use common::{agent_bin, start, Ty};
use serde_json::Value;

/// docs/tools/funclatency.md.
const REQUIRED: &[(&str, Ty)] = event_schema![
    interval_ns: Uint, function: Str, hook: Str, latency: Obj, total: Uint, untimed: Uint
];
const OPTIONAL: &[(&str, Ty)] = schema![module: Str];
/// docs/json.md, Histograms.
const HIST: &[(&str, Ty)] = schema![unit: Str, count: Uint, buckets: ObjArray];

#[test]
fn schema_is_the_documented_one() {
    common::assert_documented("tools/funclatency.md", "JSON", REQUIRED, OPTIONAL);
    common::assert_documented("json.md", "Histograms", HIST, &[]);
}

/// `funclatency FLAGS -p PID cw:sleepy_fn` over `cwork sleepfn MS N`: the reports.
fn run(flags: &[&str], ms: u64, n: u64) -> Vec<Value> {
    run_on(
        "sleepy_fn",
        &["sleepfn", &ms.to_string(), &n.to_string()],
        flags,
    )
}

/// `funclatency FLAGS -p PID cw:FUNC` over `cwork WORK...`: the reports.
fn run_on(func: &str, work: &[&str], flags: &[&str]) -> Vec<Value> {
    let bin = agent_bin().unwrap();
    let v = Variant::NoPieNoFp;
    let mut w = Work::spawn(v, work);
    let mut cmd = Command::new(&bin);
    cmd.args(["funclatency", "--json", "-v", "-p", &w.pid().to_string()])
        .args(flags)
        .arg(format!("{}:{func}", exe(v).display()));
    let agent = start(cmd);
    w.go();
    w.finish();
    let (out, _) = agent.stop();
    let mut reports = Vec::new();
    for l in common::json_lines(&out) {
        match l["type"].as_str() {
            Some("interval") => {
                common::check_schema(&l, REQUIRED, OPTIONAL);
                common::check_schema(&l["latency"], HIST, &[]);
                reports.push(l);
            }
            Some("lost") => common::check_schema(&l, common::LOST_REQUIRED, &[]),
            _ => panic!("unknown line {l}"),
        }
    }
    reports
}

/// The counts of each (low, high) bucket, over all reports.
fn buckets(reports: &[Value]) -> Vec<(u64, u64, u64)> {
    let mut out: Vec<(u64, u64, u64)> = Vec::new();
    for r in reports {
        for b in r["latency"]["buckets"].as_array().unwrap() {
            let (lo, hi, n) = (
                b["low"].as_u64().unwrap(),
                b["high"].as_u64().unwrap(),
                b["count"].as_u64().unwrap(),
            );
            match out.iter_mut().find(|x| x.0 == lo) {
                Some(x) => x.2 += n,
                None => out.push((lo, hi, n)),
            }
        }
    }
    out.retain(|b| b.2 > 0);
    out
}

#[test]
fn a_known_sleep_lands_in_its_bucket() {
    if agent_bin().is_none() {
        return;
    }
    // A sleep of N ms takes N ms and some: a loaded machine wakes it late, never early. Every
    // call must land in the bucket of N or above, none below, and N's own must be reached (on
    // a machine loaded by other builds and emulated boards, wake-ups came 30-40 ms late). 100
    // ms sits 30 ms below the end of its bucket in every unit.
    let check = |r: &[Value], n: u64, bucket: (u64, u64)| {
        let b = buckets(r);
        let total: u64 = b.iter().map(|x| x.2).sum();
        assert_eq!(total, n, "every call counted: {b:?}");
        assert!(
            b.iter().all(|x| x.0 >= bucket.0),
            "none below {bucket:?}: {b:?}"
        );
        let own = b.iter().find(|x| (x.0, x.1) == bucket).map_or(0, |x| x.2);
        assert!(own >= 1, "some in {bucket:?}: {b:?}");
    };
    let r = run(&["-u"], 100, 3);
    assert_eq!(r.len(), 1, "one report at the end");
    assert_eq!(
        (r[0]["hook"].as_str(), r[0]["function"].as_str()),
        (Some("uprobe"), Some("sleepy_fn"))
    );
    assert_eq!(r[0]["latency"]["unit"], "usecs");
    check(&r, 3, (65536, 131071));
    let total = r[0]["total"].as_u64().unwrap();
    assert!(total >= 300_000, "3 x 100 ms: {total} us");
    let r = run(&["-m", "-i", "150ms"], 100, 4);
    assert!(r.len() >= 2, "a report per interval: {}", r.len());
    check(&r, 4, (64, 127));
    // Nanoseconds by default.
    let r = run(&[], 100, 3);
    assert_eq!(r[0]["latency"]["unit"], "nsecs");
    check(&r, 3, (67_108_864, 134_217_727));
}

/// Calls whose return is never seen are counted, not silently dropped: in a recursion only
/// the innermost call of each thread is timed, and every outer one is counted as untimed.
#[test]
fn recursive_calls_are_counted_as_untimed() {
    if agent_bin().is_none() {
        return;
    }
    let (depth, n) = (4u64, 500u64);
    let r = run_on(
        "recurse_fn",
        &["recurse", &depth.to_string(), &n.to_string()],
        &[],
    );
    let timed: u64 = r
        .iter()
        .map(|x| x["latency"]["count"].as_u64().unwrap())
        .sum();
    let untimed: u64 = r.iter().map(|x| x["untimed"].as_u64().unwrap()).sum();
    assert_eq!((timed, untimed), (n, n * (depth - 1)), "{r:?}");
    // Not recursive: nothing untimed.
    let r = run(&["-m"], 20, 3);
    let untimed: u64 = r.iter().map(|x| x["untimed"].as_u64().unwrap()).sum();
    assert_eq!(untimed, 0, "{r:?}");
    // The text report says so, after the average.
    let bin = agent_bin().unwrap();
    let v = Variant::NoPieNoFp;
    let mut w = Work::spawn(v, &["recurse", "3", "10"]);
    let mut cmd = Command::new(&bin);
    cmd.args(["funclatency", "-v", "-p", &w.pid().to_string()])
        .arg(format!("{}:recurse_fn", exe(v).display()));
    let agent = start(cmd);
    w.go();
    w.finish();
    let (out, _) = agent.stop();
    assert!(
        out.contains(
            ", count: 10\nuntimed: 20 (calls whose return was not seen: recursive calls)\n"
        ),
        "{out}"
    );
}

/// Text: libbpf-tools' histogram and the average line.
#[test]
fn text_report() {
    let Some(bin) = agent_bin() else { return };
    let v = Variant::PieFp;
    let mut w = Work::spawn(v, &["sleepfn", "3", "4"]);
    let mut cmd = Command::new(&bin);
    cmd.args(["funclatency", "-v", "-u", "-p", &w.pid().to_string()])
        .arg(format!("{}:sleepy_fn", exe(v).display()));
    let agent = start(cmd);
    w.go();
    w.finish();
    let (out, _) = agent.stop();
    assert!(
        out.starts_with(&format!(
            "Tracing {}:sleepy_fn.  Hit Ctrl-C to exit\n",
            exe(v).display()
        )),
        "{out}"
    );
    assert!(
        out.contains("     usecs               : count    distribution\n"),
        "{out}"
    );
    // 3 ms sleeps: the 2048..4095 row is drawn (and more if the machine woke them late).
    assert!(out.contains("      2048 -> 4095       : "), "{out}");
    assert!(
        out.contains("count: 4\n") && out.contains("Exiting trace of"),
        "{out}"
    );
}

/// This kernel has neither kprobes nor trampolines: a kernel function is refused with both
/// reasons (exit 3).
#[test]
fn kernel_functions_need_kprobes_or_trampolines() {
    let Some(bin) = agent_bin() else { return };
    if common::skipped_for_kprobes() {
        return;
    }
    let (code, err) = common::exit_and_stderr(&bin, &["funclatency", "-d", "1", "vfs_read"]);
    assert_eq!(code, Some(3), "{err}");
    assert!(
        err.contains("fentry") && err.contains("CONFIG_KPROBES"),
        "{err}"
    );
}

#[test]
fn bad_input() {
    let Some(bin) = agent_bin() else { return };
    common::assert_usage_errors(
        &bin,
        "funclatency",
        &[
            (&["-m", "-u", "vfs_read"][..], "-u"),
            (&["c:no_such_function_here"], "no function"),
            (&["vfs_*"], "wildcards"),
        ],
    );
    common::assert_needs_privileges(&bin, "funclatency", &["c:malloc"]);
}
