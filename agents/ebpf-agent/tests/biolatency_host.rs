//! biolatency against the host kernel, through the real static binary (no kprobes, no
//! trampolines here: BTF-typed tracepoints, raw ones with `--hook raw_tp`), checked against
//! biosnoop on the same requests.

mod common;

use std::process::Command;
use std::time::Duration;

use common::blk::{self, Loop};
use common::{agent_bin, check_schema, start, Ty, LOST_REQUIRED};
use serde_json::Value;

/// docs/tools/biolatency.md.
const INTERVAL_REQUIRED: &[(&str, Ty)] = event_schema![
    interval_ns: Uint, rows: ObjArray, total_rows: Uint
];
const ROW_OPTIONAL: &[(&str, Ty)] = schema![
    disk: StrOrNull, major: Uint, minor: Uint, op: Str, flags: StrArray
];
const ROW_REQUIRED: &[(&str, Ty)] = schema![latency: Obj];
/// docs/json.md, Histograms.
const HIST: &[(&str, Ty)] = schema![unit: Str, count: Uint, buckets: ObjArray];
const BUCKET: &[(&str, Ty)] = schema![low: Uint, high: Uint, count: Uint];

#[test]
fn schema_is_the_documented_one() {
    common::assert_documented("tools/biolatency.md", "JSON", INTERVAL_REQUIRED, &[]);
    common::assert_documented("tools/biolatency.md", "Rows", ROW_REQUIRED, ROW_OPTIONAL);
    common::assert_documented("json.md", "Histograms", HIST, &[]);
    common::assert_documented("json.md", "Lost events", LOST_REQUIRED, &[]);
}

/// The interval objects, every row and histogram checked against the schema.
fn intervals(out: &str) -> Vec<Value> {
    common::interval_objects(out, INTERVAL_REQUIRED, |_, r| {
        check_schema(r, ROW_REQUIRED, ROW_OPTIONAL);
        let h = &r["latency"];
        check_schema(h, HIST, &[]);
        let buckets = h["buckets"].as_array().unwrap();
        for (i, b) in buckets.iter().enumerate() {
            check_schema(b, BUCKET, &[]);
            let low = if i == 0 { 0 } else { 1u64 << i };
            assert_eq!(
                (b["low"].as_u64(), b["high"].as_u64()),
                (Some(low), Some((2u64 << i) - 1)),
                "{h}"
            );
        }
        let sum: u64 = buckets.iter().map(|b| b["count"].as_u64().unwrap()).sum();
        assert_eq!(h["count"], sum, "count is the sum of the buckets: {h}");
    })
}

/// Bucket counts (by log2 slot) summed over every row of every interval.
fn slots(ivs: &[Value], row: impl Fn(&Value) -> bool) -> Vec<u64> {
    let mut s = vec![0u64; 64];
    for iv in ivs {
        for r in iv["rows"].as_array().unwrap().iter().filter(|r| row(r)) {
            for (i, b) in r["latency"]["buckets"]
                .as_array()
                .unwrap()
                .iter()
                .enumerate()
            {
                s[i] += b["count"].as_u64().unwrap();
            }
        }
    }
    s
}

fn slot(us: u64) -> usize {
    if us == 0 {
        0
    } else {
        63 - us.leading_zeros() as usize
    }
}

/// Can every latency biosnoop measured (ns) be put in a bucket of biolatency's (µs) near its
/// own, each bucket taking exactly its count? The two programs read the clock a little apart:
/// a latency may move by 25 % or 20 µs, no more.
fn consistent(latencies_ns: &[u64], buckets: &[u64]) -> bool {
    let mut ranges: Vec<(usize, usize)> = latencies_ns
        .iter()
        .map(|&ns| {
            let lo = (ns * 4 / 5).saturating_sub(20_000) / 1000;
            let hi = (ns * 5 / 4 + 20_000) / 1000;
            (slot(lo), slot(hi))
        })
        .collect();
    ranges.sort_by_key(|&(lo, hi)| (hi, lo));
    let mut left = buckets.to_vec();
    for (lo, hi) in ranges {
        match (lo..=hi).find(|&i| left[i] > 0) {
            Some(i) => left[i] -= 1,
            None => return false,
        }
    }
    left.iter().all(|&n| n == 0)
}

/// biolatency and biosnoop on the same loop device, around the same known workload: as many
/// requests in the histogram as biosnoop lines, in buckets that agree with biosnoop's
/// latencies; per disk (-D) and per flags (-F) the writes and reads each counted once.
#[test]
fn histogram_counts_every_request_and_agrees_with_biosnoop() {
    let Some(bin) = agent_bin() else { return };
    const N: u64 = 16;
    let dev = Loop::new("biolatency");
    let comm = blk::comm("blt");
    let mut w = blk::workload(&comm, &[(&dev.path, 0)], N);
    let tool = |args: &[&str]| {
        let mut cmd = Command::new(&bin);
        cmd.args(args).args(["--json", "-v", "-d", &dev.name]);
        start(cmd)
    };
    let lat = tool(&["biolatency"]);
    let per = tool(&["biolatency", "-D", "-F", "--hook", "raw_tp"]);
    let snoop = tool(&["biosnoop"]);
    let tracing = lat.tracing_line().to_string();
    assert!(
        tracing.contains("tp_btf block_rq_complete and block_rq_issue")
            && !tracing.contains("issuing process"),
        "no origin hook without -Q: {tracing}"
    );
    assert!(
        per.tracing_line()
            .contains("raw_tp block_rq_complete and block_rq_issue"),
        "{}",
        per.tracing_line()
    );
    w.run("io");
    std::thread::sleep(Duration::from_millis(300));
    let (out_lat, _) = lat.stop();
    let (out_per, _) = per.stop();
    let (out_snoop, _) = snoop.stop();
    let events = common::json_lines(&out_snoop);
    let latencies: Vec<u64> = events
        .iter()
        .filter(|e| e["type"] == "io")
        .map(|e| e["latency_ns"].as_u64().unwrap())
        .collect();
    let mine = events.iter().filter(|e| e["pid"] == w.pid()).count() as u64;
    assert_eq!(mine, 2 * N, "biosnoop saw the workload: {out_snoop}");

    let ivs = intervals(&out_lat);
    assert_eq!(ivs.len(), 1, "no interval: one report at the end");
    let hist = slots(&ivs, |_| true);
    assert_eq!(
        hist.iter().sum::<u64>(),
        latencies.len() as u64,
        "as many requests as biosnoop saw: {out_lat}\n{out_snoop}"
    );
    assert!(
        consistent(&latencies, &hist),
        "buckets {hist:?} do not fit biosnoop's latencies {latencies:?}"
    );
    let row = &ivs[0]["rows"][0];
    assert_eq!(
        row.as_object().unwrap().len(),
        1,
        "only the histogram: {row}"
    );
    assert_eq!(row["latency"]["unit"], "usecs");

    let ivs = intervals(&out_per);
    let count = |op: &str| -> u64 {
        slots(&ivs, |r| {
            assert_eq!(r["disk"], dev.name.as_str(), "-D: {r}");
            assert_eq!(
                (r["major"].as_u64(), r["minor"].as_u64()),
                (Some(dev.major.into()), Some(dev.minor.into()))
            );
            r["op"] == op
        })
        .iter()
        .sum()
    };
    let snooped = |op: &str| events.iter().filter(|e| e["op"] == op).count() as u64;
    assert_eq!(
        (count("write"), count("read")),
        (snooped("write"), snooped("read"))
    );
    assert!(count("write") >= N && count("read") >= N);
    // O_DIRECT writes are sync writes (REQ_SYNC, with REQ_IDLE).
    let writes: Vec<&Value> = ivs[0]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["op"] == "write")
        .collect();
    assert!(
        writes
            .iter()
            .any(|r| r["flags"].as_array().unwrap().iter().any(|f| f == "sync")),
        "{writes:?}"
    );
    w.finish();
}

/// -Q (from the request's origin), -m (milliseconds), intervals: every interval reported, the
/// requests counted once across them.
#[test]
fn queued_milliseconds_and_intervals() {
    let Some(bin) = agent_bin() else { return };
    const N: u64 = 10;
    let dev = Loop::new("biolatency-q");
    let comm = blk::comm("blq");
    let mut w = blk::workload(&comm, &[(&dev.path, 0)], N);
    let agent = common::start_tool(
        &bin,
        &[
            "biolatency",
            "--json",
            "-v",
            "-Q",
            "-m",
            "-F",
            "-d",
            &dev.name,
            "500ms",
        ],
    );
    assert!(
        agent
            .tracing_line()
            .contains("issuing process from tp_btf block_io_start"),
        "{}",
        agent.tracing_line()
    );
    std::thread::sleep(Duration::from_millis(600));
    w.run("io");
    std::thread::sleep(Duration::from_millis(700));
    let (out, _) = agent.stop();
    let ivs = intervals(&out);
    assert!(ivs.len() >= 3, "{out}");
    for w in ivs.windows(2) {
        assert!(w[0]["time_ns"].as_u64() < w[1]["time_ns"].as_u64());
    }
    let op = |o: &str| -> u64 { slots(&ivs, |r| r["op"] == o).iter().sum() };
    assert_eq!((op("write"), op("read")), (N, N), "{out}");
    assert!(ivs
        .iter()
        .flat_map(|iv| iv["rows"].as_array().unwrap().clone())
        .all(|r| r["latency"]["unit"] == "msecs"));
    w.finish();
}

/// Text mode: the header, -T timestamps, -D's "disk = " lines, a count ending the run.
#[test]
fn text_like_libbpf_tools() {
    let Some(bin) = agent_bin() else { return };
    let dev = Loop::new("biolatency-t");
    let comm = blk::comm("blx");
    let mut w = blk::workload(&comm, &[(&dev.path, 0)], 4);
    let agent = common::start_tool(
        &bin,
        &["biolatency", "-v", "-T", "-D", "-d", &dev.name, "2", "1"],
    );
    w.run("io");
    let (status, text) = agent.wait();
    assert!(status.success());
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "Tracing block device I/O... Hit Ctrl-C to end.");
    assert_eq!(lines[1], "");
    assert_eq!(lines[2].len(), 8, "HH:MM:SS: {text}");
    assert_eq!(lines[3], "");
    assert_eq!(lines[4], format!("disk = {}\t", dev.name));
    assert_eq!(lines[5], "     usecs               : count    distribution");
    let total: u64 = lines[6..]
        .iter()
        .map(|l| {
            l.split(':')
                .nth(1)
                .unwrap()
                .split_whitespace()
                .next()
                .unwrap()
                .parse::<u64>()
                .unwrap()
        })
        .sum();
    assert!(total >= 8, "{text}");
    w.finish();
}

#[test]
fn bad_input_is_refused_with_the_fix() {
    let Some(bin) = agent_bin() else { return };
    common::assert_usage_errors(
        &bin,
        "biolatency",
        &[
            (
                &["-d", "nosuchdisk"][..],
                "no such disk; the disks here are",
            ),
            (&["0"], "interval"),
            (&["1", "0"], "count"),
            (&["1", "2", "3"], "3"),
            (&["--hook", "kprobe"], "--hook"),
        ],
    );
    common::assert_needs_privileges(&bin, "biolatency", &[]);
}
