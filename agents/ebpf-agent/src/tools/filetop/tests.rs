use super::*;
use crate::tools::testutil::{assert_summary, padded, tick, written};
crate::tools::testutil::tool_tests!(Filetop, "filetop");
use std::time::Duration;

#[test]
fn libbpf_tools_flags_and_positionals() {
    let argv = [
        "-p",
        "42",
        "-Ca",
        "-s",
        "rbytes",
        "-r",
        "5",
        "--hook",
        "tracepoint",
        "--json",
        "2",
        "3",
    ];
    let (a, c) = (parse_args(&argv).unwrap(), common(&argv));
    assert_eq!(a.pid, Some(42));
    assert!(a.noclear && a.all && c.json);
    assert_eq!(a.sort, Sort::Rbytes);
    assert_eq!(a.rows, 5);
    assert_eq!(a.hook, HookChoice::Tracepoint);
    let ic = |a: &Args| interval_count("filetop", &a.positional).unwrap();
    assert_eq!(ic(&a), (Some(Duration::from_secs(2)), Some(3)));
    let d = parse_args(&[]).unwrap();
    assert_eq!((d.sort, d.rows, d.hook), (Sort::All, 20, HookChoice::Auto));
    assert!(!d.noclear && !d.all);
    assert_eq!(ic(&d), (None, None));
    let a = parse_args(&["-r10", "--sort=wbytes", "500ms"]).unwrap();
    assert_eq!((a.rows, a.sort), (10, Sort::Wbytes));
    assert_eq!(ic(&a), (Some(Duration::from_millis(500)), None));
}

#[test]
fn bad_flags_are_usage_errors_naming_the_flag() {
    usage_errors(
        &[
            (&["-s", "size"][..], "-s"),
            (&["-r", "0"], "--rows"),
            (&["-r", "10241"], "--rows"),
            (&["-p", "0"], "--pid"),
            (&["--hook", "fentry"], "--hook"),
            (&["--bogus"], "--bogus"),
            (&["0"], "interval"),
            (&["1", "0"], "count"),
            (&["1", "2", "3"], "3"),
        ],
        "--hook",
    );
}

fn row(tid: u32, name: &[u8], counts: [u64; 4], kind: u32) -> (Key, Value) {
    let v = Value {
        reads: counts[0],
        writes: counts[1],
        read_bytes: counts[2],
        write_bytes: counts[3],
        ino: 1000 + tid as u64,
        kind,
        comm: padded(b"test"),
        name: padded(name),
        ..Default::default()
    };
    let k = Key {
        inode: 0xffff_0000 + tid as u64,
        pid: 10,
        tid,
    };
    (k, v)
}

fn rows() -> Vec<(Key, Value)> {
    vec![
        row(11, b"small", [1, 0, 10, 0], 0),
        row(12, b"big writes", [0, 3, 0, 300_000], 0),
        row(13, b"new\nline\xff", [50, 0, 4096, 0], 2),
        row(14, b"sock", [2, 2, 2048, 1024], 1),
    ]
}

fn report(flags: &[&str], rows: Vec<(Key, Value)>) -> String {
    let mut t = tool(flags);
    let tick = tick(5_000_000_000, 6_000_000_000);
    written(common(flags).json, |out| {
        t.interval(&tick, rows, "0.50 0.40 0.30 1/100 4242", out)
    })
}

#[test]
fn text_columns_like_libbpf_tools() {
    let out = report(&["-C"], rows());
    let lines: Vec<&str> = out.lines().collect();
    assert_summary(&lines, "0.50 0.40 0.30 1/100 4242");
    assert_eq!(lines[0].len(), 43, "{}", lines[0]);
    assert_eq!(
        lines[2],
        "TID     COMM             READS  WRITES R_Kb    W_Kb    T FILE"
    );
    // Sorted by calls + bytes: 300003, 4146, 3076, 11.
    assert_eq!(
        lines[3],
        "12      test             0      3      0       292     R big writes"
    );
    assert_eq!(
        lines[4],
        "13      test             50     0      4       0       O new\\nline\\xff"
    );
    assert_eq!(
        lines[5],
        "14      test             2      2      2       1       S sock"
    );
    assert_eq!(
        lines[6],
        "11      test             1      0      0       0       R small"
    );
    assert_eq!(lines[7], "");
    assert_eq!(lines.len(), 8);

    let out = report(&["-s", "reads", "-r", "1"], rows());
    assert!(out.starts_with("\x1b[H\x1b[2J"), "clears without -C");
    assert!(out.contains(" O new\\nline\\xff\n\n"), "{out}");
    assert_eq!(out.lines().count(), 5);
}

#[test]
fn json_one_object_per_interval_with_exact_bytes() {
    let out = report(&["--json", "-s", "writes", "-r", "2"], rows());
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1);
    let v: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(v["type"], "interval");
    assert_eq!(v["time_ns"], 6_000_000_000u64);
    assert_eq!(v["interval_ns"], 1_000_000_000u64);
    assert_eq!(v["total_rows"], 4);
    assert_eq!(
        v["rows"][0],
        serde_json::json!({"pid": 10, "tid": 12, "comm": "test", "file": "big writes",
            "ino": 1012, "file_type": "regular", "reads": 0, "writes": 3, "read_bytes": 0,
            "write_bytes": 300_000})
    );
    assert_eq!(v["rows"][1]["file_type"], "socket");

    let out = report(&["--json", "-s", "reads", "-r", "1"], rows());
    let v: serde_json::Value = serde_json::from_str(out.trim_end()).unwrap();
    assert_eq!(v["rows"][0]["file"], "new\nline\u{fffd}");
    assert_eq!(v["rows"][0]["file_hex"], "6e65770a6c696e65ff");
    assert_eq!(v["rows"][0]["file_type"], "other");
}

#[test]
fn selftest_expectation_matches_the_json_rows() {
    let mut r = row(5, b"ebpf-verify-filetop-x", [2, 3, 3000, 3000], 0);
    r.1.ino = 77;
    let out = report(&["--json"], vec![r]);
    assert!(
        out.contains(&selftest_expect("ebpf-verify-filetop-x", 77)),
        "{out}"
    );
}
