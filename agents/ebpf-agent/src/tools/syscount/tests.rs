use super::*;
use crate::tools::testutil::{padded, tick, written};
crate::tools::testutil::tool_tests!(Syscount, "syscount");
use std::time::Duration;

#[test]
fn libbpf_tools_flags() {
    let argv = [
        "-p", "42", "-i", "5", "-d", "30", "-T", "3", "-xLmP", "-e", "enoent", "--json",
    ];
    let (a, c) = (parse_args(&argv).unwrap(), common(&argv));
    assert_eq!(a.pid, Some(42));
    assert_eq!(a.interval, Some(Duration::from_secs(5)));
    assert_eq!(c.duration, Some(Duration::from_secs(30)));
    assert_eq!(a.top, 3);
    assert_eq!(a.errno, Some(2));
    assert!(a.failures && a.latency && a.milliseconds && a.process && c.json && !a.list);
    let argv = ["--duration=2", "--errno", "EWOULDBLOCK", "-i0"];
    let (a, c) = (parse_args(&argv).unwrap(), common(&argv));
    assert_eq!(c.duration, Some(Duration::from_secs(2)));
    assert_eq!(a.errno, Some(11), "an alias of EAGAIN");
    assert_eq!(a.interval, Some(Duration::ZERO));
    let d = parse_args(&[]).unwrap();
    assert_eq!((d.top, d.pid, d.errno, d.interval), (10, None, None, None));
    assert_eq!(parse_args(&["-e", "13"]).unwrap().errno, Some(13));
}

#[test]
fn bad_flags_are_usage_errors_naming_the_flag() {
    usage_errors(
        &[
            (&["-e", "ENOTHING"][..], "ENOTHING"),
            (&["-e", "0"], "errno"),
            (&["-T", "0"], "--top"),
            (&["-p", "0"], "--pid"),
            (&["-p", "me"], "-p"),
            (&["--bogus"], "--bogus"),
            (&["-i", "soon"], "-i"),
            (&["-d", "-1"], "-d"),
        ],
        "--latency",
    );
}

#[test]
fn tables_come_from_the_headers() {
    // Numbers that differ between the two architectures, from the kernel's own tables.
    #[cfg(target_arch = "x86_64")]
    let expect = [
        (0, "read"),
        (2, "open"),
        (59, "execve"),
        (257, "openat"),
        (435, "clone3"),
    ];
    #[cfg(target_arch = "aarch64")]
    let expect = [
        (63, "read"),
        (56, "openat"),
        (221, "execve"),
        (79, "newfstatat"),
        (435, "clone3"),
    ];
    // arm's EABI numbers.
    #[cfg(target_arch = "arm")]
    let expect = [
        (3, "read"),
        (5, "open"),
        (11, "execve"),
        (327, "fstatat64"),
        (435, "clone3"),
    ];
    for (id, name) in expect {
        assert_eq!(syscall_name(id), Some(name));
        assert_eq!(syscall_number(name), Some(id));
    }
    assert_eq!(syscall_name(100_000), None);
    assert_eq!(parse_errno("ENOENT"), Ok(2));
    assert_eq!(parse_errno("EDEADLOCK"), parse_errno("EDEADLK"));
    assert_eq!(parse_errno("EHWPOISON"), Ok(133));
    assert!(errnos::ERRNOS.windows(2).all(|w| w[0].0 < w[1].0));
}

fn value(count: u64, total_ns: u64, comm: &[u8]) -> Value {
    Value {
        count,
        total_ns,
        comm: padded(comm),
    }
}

/// The one report of a run: its header, then its only interval.
fn report(flags: &[&str], rows: Vec<(u32, Value)>) -> String {
    let mut t = tool(flags);
    let tick = Tick {
        last: true,
        ..tick(1_000_000_000, 3_000_000_000)
    };
    written(common(flags).json, |out| {
        t.header(out);
        t.interval(&tick, rows, out);
    })
}

fn rows() -> Vec<(u32, Value)> {
    let read = syscall_number("read").unwrap();
    let write = syscall_number("write").unwrap();
    vec![
        (write, value(5, 9_000_000, b"")),
        (read, value(7, 1_500, b"")),
        (99_999, value(5, 0, b"")),
    ]
}

#[test]
fn text_like_libbpf_tools() {
    let out = report(&["-T", "2"], rows());
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "Tracing syscalls, printing top 2... Ctrl+C to quit."
    );
    assert!(
        lines[1].starts_with('[') && lines[1].ends_with(']') && lines[1].len() == 10,
        "{}",
        lines[1]
    );
    assert_eq!(lines[2], "SYSCALL                   COUNT");
    assert_eq!(lines[3], "read                          7");
    // A tie on count is broken by number: write (1 or 64) before the unknown one.
    assert_eq!(lines[4], "write                         5");
    assert_eq!(lines[5], "");
    assert_eq!(lines.len(), 6);

    let out = report(&["-L"], rows());
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[2], "SYSCALL                   COUNT        TIME (us)");
    assert_eq!(lines[3], "write                         5         9000.000");
    assert_eq!(lines[4], "read                          7            1.500");
    assert_eq!(lines[5], "[unknown: 99999]              5            0.000");

    let out = report(&["-Lm", "-T", "1"], rows());
    assert_eq!(
        out.lines().nth(3),
        Some("write                         5            9.000")
    );
}

#[test]
fn per_process_text_escapes_comm() {
    let out = report(
        &["-P"],
        vec![(4242, value(3, 0, b"a\nb\xff")), (7, value(9, 0, b"init"))],
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[2], "PID    COMM               COUNT");
    assert_eq!(lines[3], "7      init                   9");
    assert_eq!(lines[4], "4242   a\\nb\\xff               3");
}

#[test]
fn json_one_object_per_interval() {
    let out = report(&["--json", "-L", "-T", "2"], rows());
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1, "no banner in JSON: {out}");
    let v: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(v["type"], "interval");
    assert_eq!(v["by"], "syscall");
    assert_eq!(v["time_ns"], 3_000_000_000u64);
    assert_eq!(v["interval_ns"], 2_000_000_000u64);
    assert_eq!(v["total_rows"], 3);
    assert_eq!(
        v["rows"],
        serde_json::json!([
            {"syscall": "write", "id": syscall_number("write").unwrap(), "abi": std::env::consts::ARCH, "count": 5, "total_ns": 9_000_000},
            {"syscall": "read", "id": syscall_number("read").unwrap(), "abi": std::env::consts::ARCH, "count": 7, "total_ns": 1_500},
        ])
    );

    let out = report(&["--json", "-P"], vec![(10, value(1, 0, b"x\xffy"))]);
    let v: serde_json::Value = serde_json::from_str(out.trim_end()).unwrap();
    assert_eq!(v["by"], "process");
    assert_eq!(
        v["rows"],
        serde_json::json!([{"pid": 10, "comm": "x\u{fffd}y", "comm_hex": "78ff79", "count": 1}])
    );

    let out = report(&["--json"], vec![]);
    let v: serde_json::Value = serde_json::from_str(out.trim_end()).unwrap();
    assert_eq!(v["rows"], serde_json::json!([]));
}

#[test]
fn selftest_expectation_matches_the_json_rows() {
    let id = syscall_number("getppid").unwrap();
    let out = report(
        &["--json", "-T", "1000"],
        vec![(id, value(SELFTEST_CALLS.into(), 0, b""))],
    );
    let expect = selftest_workload("m").unwrap();
    assert!(out.contains(&expect[0]), "{out}\n{expect:?}");
}

/// 32-bit calls are keyed apart and named from their own ABI's table, never taken for the
/// 64-bit syscall of the same number (i386's getpid is 20, x86_64's 20 is writev).
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
#[test]
fn compat_rows_are_named_from_their_own_table() {
    let compat = &crate::syscalls::COMPAT;
    let getpid = compat.number("getpid").unwrap();
    let rows = vec![
        (getpid | KEY_COMPAT, value(777, 0, b"")),
        (getpid, value(3, 0, b"")),
        (999 | KEY_COMPAT, value(1, 0, b"")),
    ];
    let out = report(&[], rows.clone());
    let lines: Vec<&str> = out.lines().collect();
    let native = syscall_name(getpid).unwrap();
    assert_eq!(
        lines[3],
        format!("{:<22} {:>8}", format!("getpid ({})", compat.name), 777)
    );
    assert_eq!(lines[4], format!("{native:<22} {:>8}", 3));
    assert_eq!(
        lines[5],
        format!(
            "{:<22} {:>8}",
            format!("[unknown: 999] ({})", compat.name),
            1
        )
    );
    let out = report(&["--json"], rows);
    let v: serde_json::Value = serde_json::from_str(out.trim_end()).unwrap();
    assert_eq!(
        v["rows"][0],
        serde_json::json!({"syscall": "getpid", "id": getpid, "abi": compat.name, "count": 777})
    );
    assert_eq!(v["rows"][1]["abi"], std::env::consts::ARCH);
}
