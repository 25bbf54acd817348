use super::*;
use crate::tools::testutil::{json_lines, padded, record, tuple};
crate::tools::testutil::tool_tests!(Tcplife, "tcplife");

fn event(local: &str, remote: &str, pid: u32, owner: u32, tx: u64, rx: u64) -> Vec<u8> {
    record(&Event {
        time_ns: 9_000_000_000,
        span_ns: 1_234_567_890,
        tx_bytes: tx,
        rx_bytes: rx,
        tuple: tuple(local, remote),
        pid,
        owner,
        comm: padded(b"wget"),
    })
}

#[test]
fn libbpf_tools_flags() {
    let a = parse_args(&["-p", "7", "-4", "-wT", "-L", "80,443", "-D22"]).unwrap();
    assert!(a.ipv4 && a.wide && a.time);
    assert_eq!(a.pid, Some(7));
    assert_eq!(a.localport, Some(PortList(vec![80, 443])));
    assert_eq!(a.remoteport, Some(PortList(vec![22])));
    usage_errors(
        &[
            (&["-L", "80,abc"][..], "\"abc\""),
            (&["-D", "65536"], "1 to 65535"),
            (&["-6", "-4"], "exclude each other"),
        ],
        "--localport",
    );
}

#[test]
fn text_columns_like_libbpf_tools() {
    let out = run_records(
        &[],
        &[
            event(
                "10.0.0.1:40000",
                "93.184.216.34:80",
                500,
                1,
                1024,
                1_048_576,
            ),
            event("127.0.0.1:22", "127.0.0.1:51000", 600, 2, 3000, 0),
        ],
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "PID     COMM             LADDR           LPORT RADDR           RPORT TX_KB  RX_KB  MS",
            "500     wget             10.0.0.1        40000 93.184.216.34   80    1.00   1024.00 1234.57",
            "600     wget             127.0.0.1       22    127.0.0.1       51000 2.93   0.00   1234.57",
        ]
    );
    let out = run_records(
        &["-w"],
        &[event("[2001:db8::1]:1", "[2001:db8::2]:2", 1, 1, 0, 0)],
    );
    let row = out.lines().nth(1).unwrap();
    assert!(
        row.starts_with(&format!(
            "1       wget             {:<39} 1     {:<39} 2 ",
            "2001:db8::1", "2001:db8::2"
        )),
        "{row}"
    );
}

#[test]
fn json_has_exact_bytes_and_the_owner() {
    let out = run_records(
        &["--json"],
        &[
            event("[::1]:40000", "[::1]:80", 500, 1, 1000, 2000),
            event("[::1]:80", "[::1]:40000", 501, 2, 2000, 1000),
            event("[::1]:80", "[::1]:40001", 0, 0, 0, 0),
            event("[::1]:80", "[::1]:40002", 502, 3, 0, 0),
        ],
    );
    let v = json_lines(&out);
    assert_eq!(v[0]["type"], "close");
    assert_eq!(
        (v[0]["tx_bytes"].as_u64(), v[0]["rx_bytes"].as_u64()),
        (Some(1000), Some(2000))
    );
    assert_eq!(v[0]["span_ns"], 1_234_567_890u64);
    let owners: Vec<&str> = v.iter().map(|e| e["owner"].as_str().unwrap()).collect();
    assert_eq!(owners, ["connect", "accept", "unknown", "close"]);
    assert_eq!(
        (v[1]["lport"].as_u64(), v[1]["rport"].as_u64()),
        (Some(80), Some(40000))
    );
}
