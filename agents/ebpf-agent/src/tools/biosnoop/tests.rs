use super::*;
use crate::tools::testutil::{padded, record};
crate::tools::testutil::tool_tests!(Biosnoop, "biosnoop");

fn event(pid: u32, comm: &[u8], origin: bool) -> Vec<u8> {
    record(&Event {
        time_ns: 5_000_000_000,
        latency_ns: 1_234_567,
        queue_ns: 20_000,
        sector: 2048,
        bytes: 4096,
        cmd_flags: 1 | (1 << 11), // a sync write
        dev: block::kernel_dev(4095, 3),
        pid,
        origin: origin as u32,
        comm: padded(comm),
        ..Default::default()
    })
}

#[test]
fn text_like_libbpf_tools() {
    let a = event(42, b"a-rather-long-c", true);
    let mut b = event(0, b"?", false);
    b[..8].copy_from_slice(&5_500_000_000u64.to_ne_bytes());
    let text = run_records(&["-Q"], &[&a, &b]);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "TIME(s)     COMM           PID     DISK    T    SECTOR     BYTES   QUE(ms) LAT(ms)"
    );
    assert_eq!(
        lines[1],
        "0.000000    a-rather-long- 42      Unknown WS   2048       4096      0.020   1.235"
    );
    assert_eq!(
        lines[2],
        "0.500000    ?              0       Unknown WS   2048       4096          -   1.235"
    );
    let text = run_records(&["-t"], &[&a]);
    assert!(text.starts_with("TIMESTAMP    COMM "), "{text}");
    let row = text.lines().nth(1).unwrap();
    assert_eq!(row.as_bytes()[8], b'.', "{row}");
    assert!(row.ends_with(" 4096      1.235"), "{row}");
}

#[test]
fn json_event() {
    let a = event(42, b"dd", true);
    let json = run_records(&["--json", "-Q"], &[&a]);
    let v: serde_json::Value = serde_json::from_str(json.trim_end()).unwrap();
    assert_eq!(v["type"], "io");
    assert_eq!(
        (v["pid"].as_u64(), v["comm"].as_str()),
        (Some(42), Some("dd"))
    );
    assert!(v["disk"].is_null());
    assert_eq!(
        (v["major"].as_u64(), v["minor"].as_u64()),
        (Some(4095), Some(3))
    );
    assert_eq!(
        (v["rwbs"].as_str(), v["op"].as_str()),
        (Some("WS"), Some("write"))
    );
    assert_eq!(
        (v["sector"].as_u64(), v["bytes"].as_u64()),
        (Some(2048), Some(4096))
    );
    assert_eq!(
        (v["latency_ns"].as_u64(), v["queue_ns"].as_u64()),
        (Some(1_234_567), Some(20_000))
    );
    // Without -Q no queue_ns; with -Q and no origin, null.
    let json = run_records(&["--json"], &[&a]);
    assert!(!json.contains("queue_ns"));
    let b = event(0, b"?", false);
    let json = run_records(&["--json", "-Q"], &[&b]);
    assert!(json.contains("\"queue_ns\":null"), "{json}");
}

#[test]
fn duration_and_bad_input() {
    let t = tool(&["-m", "5", "10"]);
    assert_eq!(t.duration(), Some(Duration::from_secs(10)));
    assert_eq!(t.args.min, Some(5));
    usage_errors(
        &[
            (&["-m", "-1"][..], "-m"),
            (&["-m", "x"], "-m"),
            (&["0"], "duration"),
            (&["5", "--duration", "5"], "twice"),
            (&["1", "2"], "2"),
            (&["-d", "no-such-disk-here"], "no such disk"),
        ],
        "--queued",
    );
}
