use super::*;
use crate::tools::testutil::{padded, record, tuple};
crate::tools::testutil::tool_tests!(Tcpaccept, "tcpaccept");

fn event(local: &str, remote: &str, pid: u32, comm: &[u8]) -> Vec<u8> {
    record(&Event {
        time_ns: 5_000_000_000,
        tuple: tuple(local, remote),
        pid,
        tid: pid,
        uid: 33,
        comm: padded(comm),
        ..Default::default()
    })
}

#[test]
fn bcc_flags() {
    let (c, a) = parsed(&[
        "-Tt",
        "-p",
        "42",
        "-P80,8080",
        "-6",
        "--hook",
        "tracepoint",
        "--json",
    ]);
    assert!(a.time && a.timestamp && a.ipv6 && !a.ipv4 && c.json);
    assert_eq!((a.pid, a.port), (Some(42), Some(PortList(vec![80, 8080]))));
    assert_eq!(a.hook, HookChoice::Tracepoint);
    usage_errors(
        &[
            (&["-P", "80,abc"][..], "\"abc\""),
            (&["-P", "100000"], "1 to 65535"),
            (&["-4", "-6"], "exclude each other"),
            (&["--hook", "fentry"], "auto, kprobe or tracepoint"),
        ],
        "--timestamp",
    );
}

#[test]
fn text_columns_like_bcc() {
    let out = run_records(
        &[],
        &[
            event(
                "127.0.0.1:8080",
                "127.0.0.1:51234",
                1000,
                b"a-very-long-name",
            ),
            event("[::1]:22", "[fe80::1]:40000", 12, b"sshd"),
        ],
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "PID     COMM         IP RADDR            RPORT LADDR            LPORT",
            "1000    a-very-long- 4  127.0.0.1        51234 127.0.0.1        8080 ",
            "12      sshd         6  fe80::1          40000 ::1              22   ",
        ]
    );
}

#[test]
fn json_has_the_accepting_process_and_both_ends() {
    let out = run_records(
        &["--json"],
        &[event("[::1]:22", "[::1]:40000", 12, b"sshd")],
    );
    let v: serde_json::Value = serde_json::from_str(out.trim_end()).unwrap();
    assert_eq!(v["type"], "accept");
    assert_eq!((v["pid"].as_u64(), v["uid"].as_u64()), (Some(12), Some(33)));
    assert_eq!(
        (v["laddr"].as_str(), v["lport"].as_u64()),
        (Some("::1"), Some(22))
    );
    assert_eq!(
        (v["raddr"].as_str(), v["rport"].as_u64()),
        (Some("::1"), Some(40000))
    );
    assert_eq!(v["family"], "ipv6");
}
