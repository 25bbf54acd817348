use super::*;
use crate::tools::testutil::{json_lines, padded, record, tuple};
crate::tools::testutil::tool_tests!(Tcpsend, "tcpsend");

fn event(local: &str, remote: &str, pid: u32, bytes: u32) -> Vec<u8> {
    record(&Event {
        time_ns: 3_000_000_000,
        tuple: tuple(local, remote),
        pid,
        tid: pid,
        bytes,
        comm: padded(b"curl"),
        ..Default::default()
    })
}

#[test]
fn flags_and_bad_input() {
    let a = parse_args(&["-T", "-p1", "-4", "-L", "80", "-D", "1,2", "--hook=kprobe"]).unwrap();
    assert!(a.time && a.ipv4);
    assert_eq!(
        (a.pid, a.localport, a.remoteport),
        (
            Some(1),
            Some(PortList(vec![80])),
            Some(PortList(vec![1, 2]))
        )
    );
    assert_eq!(a.hook, HookChoice::Kprobe);
    usage_errors(
        &[
            (&["-D", "80,abc"][..], "\"abc\""),
            (&["-L", "70000"], "1 to 65535"),
            (&["-4", "-6"], "exclude each other"),
        ],
        "--remoteport",
    );
}

#[test]
fn text_and_json() {
    let recs = [
        event("192.168.0.100:54321", "93.184.216.34:80", 567, 512),
        event("[::1]:40000", "[::1]:8080", 568, 65536),
    ];
    let out = run_records(&[], &recs);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "PID     COMM             LADDR:LPORT              RADDR:RPORT           BYTES",
            "567     curl             192.168.0.100:54321   -> 93.184.216.34:80      512",
            "568     curl             ::1:40000             -> ::1:8080              65536",
        ]
    );
    let out = run_records(&["--json"], &recs);
    let v = json_lines(&out);
    assert_eq!(
        (v[0]["type"].as_str(), v[0]["bytes"].as_u64()),
        (Some("send"), Some(512))
    );
    assert_eq!(
        (v[0]["laddr"].as_str(), v[0]["lport"].as_u64()),
        (Some("192.168.0.100"), Some(54321))
    );
    assert_eq!(
        (
            v[1]["family"].as_str(),
            v[1]["raddr"].as_str(),
            v[1]["rport"].as_u64()
        ),
        (Some("ipv6"), Some("::1"), Some(8080))
    );
}
