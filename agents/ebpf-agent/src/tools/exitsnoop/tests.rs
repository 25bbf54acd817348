use super::*;
use crate::tools::testutil::{json_lines, padded, record};
crate::tools::testutil::tool_tests!(Exitsnoop, "exitsnoop");
use std::time::Duration;

#[test]
fn libbpf_tools_flags() {
    let (c, a) = parsed(&["-tx", "-p", "42", "-T", "--json", "--duration=2s"]);
    assert!(a.timestamp && a.failed && a.threads && c.json);
    assert_eq!(a.pid, Some(42));
    assert_eq!(c.duration, Some(Duration::from_secs(2)));
    let a = parse_args(&["-p42"]).unwrap();
    assert_eq!(a.pid, Some(42));
    let d = parse_args(&[]).unwrap();
    assert!(!d.timestamp && !d.failed && !d.threads && d.pid.is_none());
}

#[test]
fn bad_flags_are_usage_errors_naming_the_flag() {
    usage_errors(
        &[
            (&["-p", "x"][..], "-p"),
            (&["-p", "0"], "-p"),
            (&["-p", "-1"], "-p"),
            (&["--bogus"], "--bogus"),
            (&["-q"], "-q"),
            (&["--duration", "soon"], "--duration"),
        ],
        "--threads",
    );
}

fn event(pid: u32, tid: u32, status: i32, comm: &[u8]) -> Vec<u8> {
    record(&Event {
        time_ns: 7_000_000_000,
        age_ns: 1_250_000_000,
        pid,
        tid,
        ppid: 1,
        status,
        comm: padded(comm),
    })
}

#[test]
fn text_columns_like_bcc() {
    let out = run_records(
        &[],
        &[
            event(10, 10, 0, b"true"),
            event(11, 12, 3 << 8, b"false"),
            event(13, 13, 9, b"sleep"),
            event(14, 14, 6 | 0x80, b"new\nline"),
            vec![0; 8], // a short record is skipped
        ],
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "PCOMM            PID     PPID    TID     AGE(s)  EXIT_CODE",
            "true             10      1       10      1.25    0",
            "false            11      1       12      1.25    code 3",
            "sleep            13      1       13      1.25    signal 9 (SIGKILL)",
            "new\\nline        14      1       14      1.25    signal 6 (SIGABRT), core dumped",
        ]
    );
    let out = run_records(&["-t"], &[event(10, 10, 0, b"true")]);
    let mut lines = out.lines();
    assert!(lines.next().unwrap().starts_with("TIME     PCOMM"));
    let row = lines.next().unwrap();
    assert_eq!(row.as_bytes()[2], b':', "{row}");
    assert_eq!(
        &row[8..],
        " true             10      1       10      1.25    0"
    );
}

#[test]
fn json_lines_with_status_taken_apart() {
    let out = run_records(
        &["--json"],
        &[
            event(20, 21, 11 | 0x80, b"a\xff"),
            event(22, 22, 1 << 8, b"b"),
        ],
    );
    let v = json_lines(&out);
    assert_eq!(v.len(), 2);
    assert_eq!(v[0]["type"], "exit");
    assert_eq!(
        (v[0]["pid"].as_u64(), v[0]["tid"].as_u64()),
        (Some(20), Some(21))
    );
    assert_eq!(v[0]["signal"], 11);
    assert_eq!(v[0]["signal_name"], "SIGSEGV");
    assert_eq!(v[0]["core_dumped"], true);
    assert_eq!(v[0]["exit_code"], 0);
    assert_eq!(v[0]["age_ns"], 1_250_000_000u64);
    assert_eq!(v[0]["time_ns"], 7_000_000_000u64);
    assert_eq!(v[0]["comm_hex"], "61ff");
    assert_eq!(v[1]["exit_code"], 1);
    assert_eq!(v[1]["signal"], 0);
    assert!(v[1].get("signal_name").is_none());
}

#[test]
fn selftest_expectation_matches_the_json() {
    let out = run_records(&["--json"], &[event(77, 77, SELFTEST_STATUS << 8, b"sh")]);
    assert!(out.contains(&selftest_expect(77, 1)), "{out}");
}
