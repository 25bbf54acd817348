use super::*;
use crate::tools::testutil::{assert_summary, padded, tick, written};
crate::tools::testutil::tool_tests!(Biotop, "biotop");

fn row(pid: u32, comm: &[u8], write: bool, io: u64, bytes: u64, ns: u64) -> (Key, Value) {
    let k = Key {
        pid,
        dev: block::kernel_dev(4095, 16),
        write: write as u32,
        comm: padded(comm),
        ..Default::default()
    };
    (k, Value { io, bytes, ns })
}

#[test]
fn flags() {
    let t = tool(&["-C", "-s", "time", "-r", "5", "-p", "7", "2", "3"]);
    assert!(t.args.noclear);
    assert_eq!(
        (t.args.sort, t.args.rows, t.args.pid),
        (Sort::Time, 5, Some(7))
    );
    let s = t.schedule().unwrap();
    assert_eq!(
        (s.interval, s.count),
        (Some(Duration::from_secs(2)), Some(3))
    );
    assert_eq!(
        tool(&[]).schedule().unwrap().interval,
        Some(Duration::from_secs(1))
    );
    usage_errors(
        &[
            (&["-s", "size"][..], "-s"),
            (&["-r", "0"], "--rows"),
            (&["-r", "10241"], "--rows"),
            (&["-p", "0"], "--pid"),
            (&["0"], "interval"),
            (&["1", "0"], "count"),
        ],
        "--noclear",
    );
}

#[test]
fn columns_and_sorting() {
    let rows = vec![
        row(10, b"dd", true, 3, 12288, 3_000_000),
        row(20, b"cat", false, 100, 409600, 1_000_000),
    ];
    let tick = tick(0, 1_000_000_000);
    let mut t = tool(&["-C"]);
    let text = written(false, |out| {
        t.interval(&tick, rows.clone(), "0.10 0.20 0.30 1/99 123", out)
    });
    let lines: Vec<&str> = text.lines().collect();
    assert_summary(&lines, "0.10 0.20 0.30 1/99 123");
    assert_eq!(
        lines[2],
        "PID     COMM             D MAJ MIN DISK       I/O  Kbytes  AVGms"
    );
    assert_eq!(
        lines[3],
        "20      cat              R 4095 16             100     400   0.01"
    );
    assert_eq!(
        lines[4],
        "10      dd               W 4095 16               3      12   1.00"
    );
    // -s time puts dd first; -r 1 keeps one row, JSON says how many there were.
    let mut t = tool(&["-s", "time", "-r", "1"]);
    let out = written(true, |out| t.interval(&tick, rows, "", out));
    let v: serde_json::Value = serde_json::from_str(out.trim_end()).unwrap();
    assert_eq!(v["total_rows"], 2);
    let r = &v["rows"][0];
    assert_eq!(
        (r["pid"].as_u64(), r["comm"].as_str()),
        (Some(10), Some("dd"))
    );
    assert_eq!(
        (r["rw"].as_str(), r["major"].as_u64(), r["minor"].as_u64()),
        (Some("W"), Some(4095), Some(16))
    );
    assert!(r["disk"].is_null());
    assert_eq!(
        (
            r["io"].as_u64(),
            r["bytes"].as_u64(),
            r["total_ns"].as_u64()
        ),
        (Some(3), Some(12288), Some(3_000_000))
    );
}
