//! biosnoop against the host kernel, through the real static binary. This kernel has neither
//! kprobes nor trampolines; it takes BTF-typed tracepoints (tp_btf), and raw ones when asked
//! (`--hook raw_tp`): both paths run here, the emulated boards cover older kernels.

mod common;

use std::process::Command;
use std::time::Duration;

use common::blk::{self, Loop, BS};
use common::{agent_bin, check_events, start, Ty};
use serde_json::Value;

/// docs/tools/biosnoop.md, JSON.
const REQUIRED: &[(&str, Ty)] = event_schema![
    pid: Uint, comm: Str, disk: StrOrNull, major: Uint, minor: Uint, rwbs: Str, op: Str,
    sector: UintOrNull, bytes: Uint, latency_ns: Uint
];
const OPTIONAL: &[(&str, Ty)] = schema![comm_hex: Str, queue_ns: UintOrNull];

#[test]
fn schema_is_the_documented_one() {
    common::assert_documented("tools/biosnoop.md", "JSON", REQUIRED, OPTIONAL);
}

const N: u64 = 8;

/// Runs biosnoop with `args` around one `io` step of `w`; returns its events and stderr.
fn around(
    bin: &std::path::Path,
    args: &[&str],
    w: &mut common::Phases,
) -> (Vec<Value>, Vec<String>) {
    let mut cmd = Command::new(bin);
    cmd.arg("biosnoop").args(["--json", "-v"]).args(args);
    let agent = start(cmd);
    w.run("io");
    std::thread::sleep(Duration::from_millis(300));
    let (out, err) = agent.stop();
    let events = common::json_lines(&out);
    check_events(&events, "io", REQUIRED, OPTIONAL);
    (events, err)
}

/// The workload's own requests on `disk`, in completion order.
fn mine<'a>(events: &'a [Value], pid: u32, disk: &str) -> Vec<&'a Value> {
    let mut v: Vec<&Value> = events
        .iter()
        .filter(|e| e["pid"] == pid && e["disk"] == disk)
        .collect();
    v.sort_by_key(|e| e["time_ns"].as_u64());
    v
}

/// N writes then N reads of BS bytes at consecutive blocks from `first`, each with the
/// workload's pid and comm, in order.
fn assert_shape(reqs: &[&Value], comm: &str, first_sector: Option<u64>) {
    let ops: Vec<&str> = reqs.iter().map(|e| e["op"].as_str().unwrap()).collect();
    let want: Vec<&str> = (0..2 * N)
        .map(|i| if i < N { "write" } else { "read" })
        .collect();
    assert_eq!(ops, want, "{reqs:?}");
    for e in reqs {
        assert_eq!(e["comm"], comm, "{e}");
        assert_eq!(e["bytes"], BS, "{e}");
        assert!(e["latency_ns"].as_u64().unwrap() > 0, "{e}");
        let rwbs = e["rwbs"].as_str().unwrap();
        let dir = if e["op"] == "write" { 'W' } else { 'R' };
        assert!(rwbs.contains(dir), "{e}");
    }
    let sectors: Vec<u64> = reqs.iter().map(|e| e["sector"].as_u64().unwrap()).collect();
    let (writes, reads) = sectors.split_at(N as usize);
    assert_eq!(writes, reads, "the reads read back the blocks written");
    match first_sector {
        // On a loop device the blocks are where the workload put them.
        Some(s) => assert_eq!(writes, (0..N).map(|i| s + i * BS / 512).collect::<Vec<_>>()),
        // In a file, wherever the file system put it: distinct blocks.
        None => {
            let mut d = writes.to_vec();
            d.dedup();
            assert_eq!(d.len(), N as usize, "{writes:?}");
        }
    }
}

/// Every request of the workload on a loop device, exactly: pid and comm of the process that
/// made it (not the loop worker that issues it), disk, direction, size and sector.
#[test]
fn every_request_of_a_known_workload_on_a_loop_device() {
    let Some(bin) = agent_bin() else { return };
    let dev = Loop::new("biosnoop");
    let comm = blk::comm("bsn");
    let mut w = blk::workload(&comm, &[(&dev.path, 100)], N);
    let (events, err) = around(&bin, &["-d", &dev.name, "-Q", "--hook", "raw_tp"], &mut w);
    let tracing = err.iter().find(|l| l.contains("tracing:")).unwrap();
    assert!(
        tracing.contains("raw_tp block_rq_complete and block_rq_issue")
            && tracing.contains("issuing process from raw_tp block_io_start")
            && tracing.contains(&format!("disk {}", dev.name)),
        "{tracing}"
    );
    for e in &events {
        assert_eq!(
            (e["disk"].as_str(), e["major"].as_u64(), e["minor"].as_u64()),
            (
                Some(dev.name.as_str()),
                Some(dev.major.into()),
                Some(dev.minor.into())
            ),
            "-d: only the loop device: {e}"
        );
        // -Q: the time queued where the origin is known.
        assert!(e["queue_ns"].is_u64() == (e["pid"] != 0), "{e}");
    }
    let reqs = mine(&events, w.pid(), &dev.name);
    assert_shape(&reqs, &comm, Some(100 * BS / 512));
    // What else there was: the flush of the fsync, which the kernel's flush machinery issues
    // on a request of its own (no process: pid 0, "?").
    for e in events.iter().filter(|e| e["pid"] != w.pid()) {
        assert_eq!(
            (e["op"].as_str(), e["pid"].as_u64(), e["comm"].as_str()),
            (Some("flush"), Some(0), Some("?")),
            "{e}"
        );
        assert!(
            e["sector"].is_null() && e["bytes"] == 0,
            "a flush has no data: {e}"
        );
    }
    w.finish();
}

/// The same workload on the root virtio disk (a file there, mq-deadline scheduler) and a loop
/// device at once: without -d both are seen, with -d only the one named.
#[test]
fn root_disk_and_the_disk_filter() {
    let Some(bin) = agent_bin() else { return };
    let dev = Loop::new("biosnoop-d");
    let (root, file) = blk::file_on_root_disk("biosnoop", 16);
    let comm = blk::comm("bsd");
    let mut w = blk::workload(&comm, &[(&dev.path, 0), (file.to_str().unwrap(), 4)], N);
    let mut only = Command::new(&bin);
    only.args(["biosnoop", "--json", "-v", "-d", &root]);
    let only = start(only);
    let tracing = only.tracing_line().to_string();
    assert!(
        tracing.contains("tp_btf block_rq_complete and block_rq_issue")
            && tracing.contains("issuing process from tp_btf block_io_start"),
        "BTF-typed tracepoints where the kernel takes them: {tracing}"
    );
    let (all, _) = around(&bin, &[], &mut w);
    let (out, _) = only.stop();
    let filtered = common::json_lines(&out);
    check_events(&filtered, "io", REQUIRED, OPTIONAL);
    assert_shape(&mine(&all, w.pid(), &dev.name), &comm, Some(0));
    assert_shape(&mine(&all, w.pid(), &root), &comm, None);
    assert!(filtered.iter().all(|e| e["disk"] == root.as_str()));
    assert_shape(&mine(&filtered, w.pid(), &root), &comm, None);
    w.finish();
    std::fs::remove_file(file).unwrap();
}

/// Text mode: libbpf-tools' columns; the positional duration ends the run by itself.
#[test]
fn text_columns_and_positional_duration() {
    let Some(bin) = agent_bin() else { return };
    let dev = Loop::new("biosnoop-t");
    let comm = blk::comm("bst");
    let mut w = blk::workload(&comm, &[(&dev.path, 8)], 2);
    let agent = common::start_tool(&bin, &["biosnoop", "-v", "-d", &dev.name, "3"]);
    let t0 = std::time::Instant::now();
    w.run("io");
    let (status, text) = agent.wait();
    assert!(status.success());
    assert!(t0.elapsed() < Duration::from_secs(10));
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("TIME(s)     COMM           PID     DISK    T    SECTOR     BYTES   LAT(ms)")
    );
    let rows: Vec<&str> = lines.filter(|l| l.contains(&comm)).collect();
    assert_eq!(rows.len(), 4, "{text}");
    let f: Vec<&str> = rows[0].split_whitespace().collect();
    assert_eq!(f[1..4], [comm.as_str(), &w.pid().to_string(), &dev.name]);
    assert!(f[4].starts_with('W') || f[4] == "W", "{}", rows[0]);
    assert_eq!((f[5], f[6]), ("64", "4096"));
    w.finish();
}

#[test]
fn bad_input_is_refused_with_the_fix() {
    let Some(bin) = agent_bin() else { return };
    let (code, err) = common::exit_and_stderr(&bin, &["biosnoop", "-d", "nosuchdisk"]);
    assert_eq!(code, Some(2), "{err}");
    let (root, file) = blk::file_on_root_disk("biosnoop-bad", 1);
    std::fs::remove_file(file).unwrap();
    assert!(
        err.contains("no such disk") && err.contains(&root),
        "the error lists the disks: {err}"
    );
    common::assert_usage_errors(
        &bin,
        "biosnoop",
        &[
            (&["-m", "-1"][..], "-m"),
            (&["0"], "duration"),
            (&["1", "2"], "2"),
            (&["--hook", "kprobe"], "--hook"),
        ],
    );
    common::assert_needs_privileges(&bin, "biosnoop", &[]);
}
