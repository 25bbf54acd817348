use super::*;
use crate::tools::testutil::written;
crate::tools::testutil::tool_tests!(Biolatency, "biolatency");

fn tick() -> Tick {
    crate::tools::testutil::tick(1_000_000_000, 3_000_000_000)
}

fn hist(counts: &[(usize, u64)]) -> Hist {
    let mut h = Hist::default();
    for &(i, n) in counts {
        h.slots[i] = n;
    }
    h
}

#[test]
fn libbpf_tools_flags() {
    let (c, a) = parsed(&["-TmQDF", "--json", "2", "5"]);
    assert!(a.timestamp && a.milliseconds && a.queued && a.per_disk && a.per_flags && c.json);
    let t = Biolatency::new(a, &c).unwrap();
    assert_eq!(
        t.schedule().unwrap().interval,
        Some(std::time::Duration::from_secs(2))
    );
    assert_eq!(t.schedule().unwrap().count, Some(5));
    assert_eq!(tool(&[]).schedule().unwrap().interval, None);
}

#[test]
fn bad_input_is_a_usage_error_naming_it() {
    usage_errors(
        &[
            (&["0"][..], "interval"),
            (&["1", "0"], "count"),
            (&["1", "2", "3"], "3"),
            (&["-d", "no-such-disk-here"], "no such disk"),
            (&["--bogus"], "--bogus"),
        ],
        "--per-disk",
    );
}

/// One histogram without -D/-F: drawn after a blank line, as libbpf-tools does.
#[test]
fn text_like_libbpf_tools() {
    let mut t = tool(&[]);
    let rows = vec![(Key::default(), hist(&[(0, 1), (2, 4), (3, 2)]))];
    let text = written(false, |out| t.interval(&tick(), rows, out));
    let want = concat!(
        "\n\n",
        "     usecs               : count    distribution\n",
        "         0 -> 1          : 1        |**********                              |\n",
        "         2 -> 3          : 0        |                                        |\n",
        "         4 -> 7          : 4        |****************************************|\n",
        "         8 -> 15         : 2        |********************                    |\n",
    );
    assert_eq!(text, want);
    // An interval without I/O: only the blank line.
    let text = written(false, |out| t.interval(&tick(), vec![], out));
    assert_eq!(text, "\n");
}

/// -D -F: "disk = <name>\tflags = <flags>" before each histogram; keys whose flags print the
/// same are one histogram; disks unknown to /proc/partitions are "Unknown".
#[test]
fn per_disk_and_flags() {
    let mut t = tool(&["-D", "-F", "-m"]);
    let dev = block::kernel_dev(4095, 1);
    let sync_write = 1 | (1 << 11);
    let rows = vec![
        (
            Key {
                dev,
                flags: sync_write,
            },
            hist(&[(1, 2)]),
        ),
        // The same with a bit no label shows (FAILFAST_DEV).
        (
            Key {
                dev,
                flags: sync_write | (1 << 8),
            },
            hist(&[(1, 1), (3, 1)]),
        ),
        (Key { dev, flags: 0 }, hist(&[(0, 5)])),
    ];
    let text = written(false, |out| t.interval(&tick(), rows.clone(), out));
    let heads: Vec<&str> = text.lines().filter(|l| l.starts_with("disk = ")).collect();
    assert_eq!(
        heads,
        [
            "disk = Unknown\tflags = Read",
            "disk = Unknown\tflags = Sync-Write"
        ]
    );
    assert!(text.contains("     msecs               : count    distribution\n"));
    assert!(text.contains("         2 -> 3          : 3        |"));

    let out = written(true, |out| t.interval(&tick(), rows, out));
    let v: serde_json::Value = serde_json::from_str(out.trim_end()).unwrap();
    assert_eq!(v["type"], "interval");
    assert_eq!(v["total_rows"], 2);
    let r = &v["rows"][1];
    assert_eq!(
        (r["major"].as_u64(), r["minor"].as_u64()),
        (Some(4095), Some(1))
    );
    assert!(r["disk"].is_null());
    assert_eq!(r["op"], "write");
    assert_eq!(r["flags"], serde_json::json!(["sync"]));
    assert_eq!(r["latency"]["unit"], "msecs");
    assert_eq!(r["latency"]["count"], 4);
    assert_eq!(
        r["latency"]["buckets"],
        serde_json::json!([{"low": 0, "high": 1, "count": 0}, {"low": 2, "high": 3, "count": 3},
            {"low": 4, "high": 7, "count": 0}, {"low": 8, "high": 15, "count": 1}])
    );
    assert_eq!(v["rows"][0]["flags"], serde_json::json!([]));
}

/// Without -D/-F the rows carry only the histogram.
#[test]
fn json_rows_without_keys() {
    let mut t = tool(&["--json"]);
    let rows = vec![(Key::default(), hist(&[(4, 7)]))];
    let out = written(true, |out| t.interval(&tick(), rows, out));
    let v: serde_json::Value = serde_json::from_str(out.trim_end()).unwrap();
    let row = v["rows"][0].as_object().unwrap();
    assert_eq!(row.keys().collect::<Vec<_>>(), ["latency"]);
    assert_eq!(v["rows"][0]["latency"]["count"], 7);
    assert_eq!(v["interval_ns"], 2_000_000_000u64);
}
