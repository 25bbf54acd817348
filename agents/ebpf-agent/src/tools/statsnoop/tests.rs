use super::*;
use crate::tools::testutil::{json_lines, padded, record};
crate::tools::testutil::tool_tests!(Statsnoop, "statsnoop");

#[test]
fn libbpf_tools_flags() {
    let argv = ["-xts", "-p", "1216", "--json", "--duration", "3"];
    let (a, c) = (parse_args(&argv).unwrap(), common(&argv));
    assert!(a.failed && a.timestamp && a.sysname && c.json);
    assert_eq!(a.pid, Some(1216));
    assert_eq!(c.duration, Some(std::time::Duration::from_secs(3)));
    assert_eq!(parse_args(&["-p7"]).unwrap().pid, Some(7));
    let d = parse_args(&[]).unwrap();
    assert!(!d.failed && !d.timestamp && !d.sysname && d.pid.is_none());
}

#[test]
fn bad_flags_are_usage_errors_naming_the_flag() {
    usage_errors(
        &[
            (&["-p", "me"][..], "-p"),
            (&["-p", "0"], "-p"),
            (&["--bogus"], "--bogus"),
            (&["-T"], "-T"),
            (&["--duration", "-3"], "--duration"),
        ],
        "--sysname",
    );
}

fn id(name: &str) -> u32 {
    SYSCALLS.iter().position(|(n, _)| *n == name).unwrap() as u32
}

/// A record as the BPF side sends it: the head, then the path's bytes with their NUL.
fn event(
    syscall: &str,
    ret: i64,
    fd: i32,
    at_flags: u32,
    path: Option<&[u8]>,
    flags: u32,
) -> Vec<u8> {
    let head = EventHead {
        time_ns: 9_000_000_000,
        ret,
        pid: 100,
        tid: 101,
        fd,
        at_flags,
        syscall: id(syscall),
        path_size: path.map_or(0, |p| p.len() as u32 + 1),
        flags,
        compat: 0,
        comm: padded(b"stat"),
    };
    let mut rec = record(&head);
    if let Some(p) = path {
        rec.extend_from_slice(p);
        rec.push(0);
    }
    rec
}

#[test]
fn text_columns_like_libbpf_tools() {
    let recs = [
        event("newfstatat", 0, AT_FDCWD, 0, Some(b"/etc/passwd"), 0),
        event("statx", -2, AT_FDCWD, 0, Some(b"a b\nc"), 0),
        event("newfstat", 0, 3, 0, None, 0),
        event("newfstatat", 0, 4, AT_EMPTY_PATH, Some(b""), 0),
        event("statfs", -14, AT_FDCWD, 0, None, F_READ_ERROR),
        event("newstat", -36, AT_FDCWD, 0, Some(b"/x"), F_TRUNCATED),
        vec![1, 2, 3], // a short record is skipped
    ];
    let out = run_records(&["-s"], &recs);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "PID     COMM                 RET  ERR  SYSCALL    PATH",
            "100     stat                 0    0    newfstatat /etc/passwd",
            "100     stat                 -1   2    statx      a b\\nc",
            "100     stat                 0    0    newfstat   [fd 3]",
            "100     stat                 0    0    newfstatat [fd 4]",
            "100     stat                 -1   14   statfs     [path unreadable]",
            "100     stat                 -1   36   newstat    /x...",
        ]
    );
    let out = run_records(&["-t"], &recs[..1]);
    let mut lines = out.lines();
    assert_eq!(
        lines.next(),
        Some("TIME(s)        PID     COMM                 RET  ERR  PATH")
    );
    let row = lines.next().unwrap();
    assert!(
        row.ends_with(" 100     stat                 0    0    /etc/passwd"),
        "{row}"
    );
    row[..14].trim().parse::<f64>().unwrap();
}

#[test]
fn json_lines_keep_every_byte() {
    let long = vec![b'd'; PATH_MAX - 1];
    let out = run_records(
        &["--json"],
        &[
            event("statx", -2, 5, 0x100, Some(b"rel/\xff\xfe x"), 0),
            event("fstatfs", 0, 7, 0, None, 0),
            event("newlstat", -36, AT_FDCWD, 0, Some(&long), F_TRUNCATED),
            event("newstat", 0, AT_FDCWD, 0, Some(b"/ok"), 0)[..66].to_vec(), // cut short
        ],
    );
    let v = json_lines(&out);
    assert_eq!(v.len(), 4);
    assert_eq!(v[0]["type"], "stat");
    assert_eq!(v[0]["syscall"], "statx");
    assert_eq!(
        (v[0]["pid"].as_u64(), v[0]["tid"].as_u64()),
        (Some(100), Some(101))
    );
    assert_eq!(v[0]["ret"], -2);
    assert_eq!(v[0]["fd"], 5);
    assert_eq!(v[0]["at_flags"], 0x100);
    assert_eq!(v[0]["path"], "rel/\u{fffd}\u{fffd} x");
    assert_eq!(v[0]["path_hex"], "72656c2ffffe2078");
    assert_eq!(v[0]["time_ns"], 9_000_000_000u64);
    assert_eq!(v[1]["path"], "");
    assert_eq!(v[1]["fd"], 7);
    assert_eq!(v[2]["path"].as_str().unwrap().len(), PATH_MAX - 1);
    assert_eq!(v[2]["path_truncated"], true);
    assert_eq!(v[2]["fd"], AT_FDCWD);
    assert_eq!(v[3]["path"], "/o");
}

#[test]
fn unknown_syscall_ids_are_skipped() {
    let mut rec = event("statx", 0, AT_FDCWD, 0, Some(b"/"), 0);
    let at = std::mem::offset_of!(EventHead, syscall);
    rec[at..at + 4].copy_from_slice(&(SYSCALLS.len() as u32).to_ne_bytes());
    assert_eq!(run_records(&["--json"], &[rec]), "");
}

#[test]
fn syscall_table_follows_the_c_enum() {
    // The enum in bpf/statsnoop.h, read from the source: same names, same order.
    let header = include_str!("../../../../../bpf/statsnoop.h");
    let body = header
        .split("enum statsnoop_syscall {")
        .nth(1)
        .and_then(|s| s.split("};").next())
        .unwrap();
    let names: Vec<String> = body
        .split(',')
        .map(|s| s.trim().trim_start_matches("STATSNOOP_").to_lowercase())
        .filter(|s| !s.is_empty() && s != "nr_syscalls")
        .collect();
    let ours: Vec<&str> = SYSCALLS.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, ours);
}
