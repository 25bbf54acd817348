use super::*;
use crate::tools::testutil::{json_lines, padded, record, tuple};
crate::tools::testutil::tool_tests!(Tcpconnect, "tcpconnect");

fn event(local: &str, remote: &str, pid: u32, result: u32, error: i32) -> Vec<u8> {
    record(&Event {
        time_ns: 5_000_000_000,
        done_ns: if result == 0 { 0 } else { 5_000_250_000 },
        tuple: tuple(local, remote),
        pid,
        tid: pid + 1,
        uid: 1000,
        error,
        result,
        comm: padded(b"curl"),
        ..Default::default()
    })
}

#[test]
fn bcc_and_libbpf_tools_flags() {
    let (c, a) = parsed(&[
        "-tU", "-u", "0", "-p42", "-P", "80,443", "-4", "-cs", "--json",
    ]);
    assert!(a.timestamp && a.print_uid && a.ipv4 && a.count && a.source_port && c.json);
    assert_eq!((a.uid, a.pid), (Some(0), Some(42)));
    assert_eq!(a.port, Some(PortList(vec![80, 443])));
    let a = parse_args(&["-L6"]).unwrap();
    assert!(a.lport && a.ipv6);
}

#[test]
fn bad_input_is_a_usage_error_naming_the_fix() {
    usage_errors(
        &[
            (&["-P", "80,abc"][..], "\"abc\""),
            (&["-P", "65536"], "1 to 65535"),
            (&["-P", "0"], "1 to 65535"),
            (&["-P", ""], "1 to 65535"),
            (&["-4", "-6"], "exclude each other"),
            (&["-u", "x"], "-u/--uid"),
            (&["-u", "-1"], "-u"),
            (&["-p", "0"], "-p"),
        ],
        "--source-port",
    );
}

#[test]
fn text_columns_like_libbpf_tools() {
    let recs = [
        event("127.0.0.1:40000", "127.0.0.1:80", 7, 1, 0),
        event("[::1]:40001", "[::1]:8080", 8, 2, 111),
    ];
    let out = run_records(&[], &recs);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "PID    COMM             IP SADDR            DADDR            DPORT",
            "7      curl             4  127.0.0.1        127.0.0.1        80   ",
            "8      curl             6  ::1              ::1              8080 ",
        ]
    );
    let out = run_records(&["-U", "-s"], &recs[..1]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "UID   PID    COMM             IP SADDR            DADDR            SPORT DPORT",
            "1000  7      curl             4  127.0.0.1        127.0.0.1        40000 80   ",
        ]
    );
}

#[test]
fn json_carries_the_tuple_and_the_result() {
    let out = run_records(
        &["--json"],
        &[
            event("127.0.0.1:40000", "127.0.0.1:80", 7, 1, 0),
            event("[::1]:40001", "[::1]:8080", 8, 2, 111),
            event("[::1]:40002", "[::1]:8080", 8, 2, 110),
            event("10.0.0.1:40003", "10.0.0.2:22", 9, 0, 0),
            event("10.0.0.1:40004", "10.0.0.2:22", 9, 3, 0),
            event("10.0.0.1:40005", "10.0.0.2:22", 9, 2, 4095),
        ],
    );
    let v = json_lines(&out);
    assert_eq!(v[0]["type"], "connect");
    assert_eq!(
        (
            v[0]["pid"].as_u64(),
            v[0]["tid"].as_u64(),
            v[0]["uid"].as_u64()
        ),
        (Some(7), Some(8), Some(1000))
    );
    assert_eq!(
        (
            &v[0]["family"],
            &v[0]["laddr"],
            &v[0]["lport"],
            &v[0]["raddr"],
            &v[0]["rport"]
        ),
        (
            &serde_json::json!("ipv4"),
            &serde_json::json!("127.0.0.1"),
            &serde_json::json!(40000),
            &serde_json::json!("127.0.0.1"),
            &serde_json::json!(80)
        )
    );
    let results: Vec<&str> = v.iter().map(|e| e["result"].as_str().unwrap()).collect();
    assert_eq!(
        results,
        [
            "established",
            "ECONNREFUSED",
            "ETIMEDOUT",
            "pending",
            "closed",
            "errno 4095"
        ]
    );
    assert_eq!(
        (&v[1]["family"], &v[1]["laddr"]),
        (&serde_json::json!("ipv6"), &serde_json::json!("::1"))
    );
    assert_eq!(v[0]["latency_ns"], 250_000);
    assert!(v[3].get("latency_ns").is_none(), "pending: no latency yet");
}

#[test]
fn the_outcome_of_a_pending_attempt_follows_in_json_only() {
    let mut f = pod::read::<Event>(&event("127.0.0.1:40000", "127.0.0.1:80", 7, 1, 0)).unwrap();
    f.followup = 1;
    f.done_ns = 6_000_000_000;
    let recs = [
        event("127.0.0.1:40000", "127.0.0.1:80", 7, 0, 0),
        record(&f),
    ];
    let out = run_records(&["--json"], &recs);
    let v = json_lines(&out);
    assert_eq!(v.len(), 2);
    assert_eq!(
        (v[0]["type"].as_str(), v[0]["result"].as_str()),
        (Some("connect"), Some("pending"))
    );
    assert_eq!(
        (v[1]["type"].as_str(), v[1]["result"].as_str()),
        (Some("connect_result"), Some("established"))
    );
    assert_eq!(
        (v[1]["time_ns"].as_u64(), v[1]["latency_ns"].as_u64()),
        (Some(6_000_000_000), Some(1_000_000_000))
    );
    assert_eq!(
        (v[1]["lport"].as_u64(), v[1]["pid"].as_u64()),
        (Some(40000), Some(7))
    );
    // Text and -c: the attempt once.
    assert_eq!(run_records(&[], &recs).lines().count(), 2);
    let out = run_records(&["-c", "--json"], &recs);
    let c: serde_json::Value = serde_json::from_str(out.trim_end()).unwrap();
    assert_eq!(c["rows"][0]["count"], 1);
}

/// A line of the -c table: LADDR, RADDR, RPORT and CONNECTS.
fn count_row([laddr, raddr, rport, connects]: [&str; 4]) -> String {
    format!("{laddr:<25} {raddr:<25} {rport:<20} {connects:<10}")
}

#[test]
fn count_mode_prints_a_table_at_the_end() {
    let recs = [
        event("127.0.0.1:40000", "127.0.0.1:80", 7, 1, 0),
        event("127.0.0.1:40001", "127.0.0.1:80", 7, 1, 0),
        event("[::1]:40002", "[::1]:80", 7, 1, 0),
        event("127.0.0.1:40003", "127.0.0.1:22", 7, 1, 0),
    ];
    let out = run_records(&["-c"], &recs);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "");
    assert_eq!(lines[1], count_row(["LADDR", "RADDR", "RPORT", "CONNECTS"]));
    assert_eq!(
        &lines[2..],
        [
            count_row(["127.0.0.1", "127.0.0.1", "80", "2"]),
            count_row(["127.0.0.1", "127.0.0.1", "22", "1"]),
            count_row(["::1", "::1", "80", "1"]),
        ]
    );
    let out = run_records(&["-c", "-s", "--json"], &recs);
    let v: serde_json::Value = serde_json::from_str(out.trim_end()).unwrap();
    assert_eq!(
        (v["type"].as_str(), v["total_rows"].as_u64()),
        (Some("counts"), Some(4))
    );
    assert_eq!(v["rows"][0]["count"], 1);
    assert!(v["rows"][0]["lport"].is_u64());
}
