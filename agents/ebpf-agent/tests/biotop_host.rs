//! biotop against the host kernel, through the real static binary: no kprobes, no
//! trampolines here (libbpf-tools' biotop needs a kprobe and cannot run), BTF-typed
//! tracepoints by default and raw ones with `--hook raw_tp`.

mod common;

use std::process::Command;
use std::time::Duration;

use common::blk::{self, Loop, BS};
use common::{agent_bin, check_schema, start, Ty, LOST_REQUIRED};
use serde_json::Value;

/// docs/tools/biotop.md.
const INTERVAL_REQUIRED: &[(&str, Ty)] = event_schema![
    interval_ns: Uint, rows: ObjArray, total_rows: Uint
];
const ROW_REQUIRED: &[(&str, Ty)] = schema![
    pid: Uint, comm: Str, rw: Str, major: Uint, minor: Uint, disk: StrOrNull, io: Uint, bytes: Uint,
    total_ns: Uint
];
const ROW_OPTIONAL: &[(&str, Ty)] = schema![comm_hex: Str];

#[test]
fn schema_is_the_documented_one() {
    common::assert_documented("tools/biotop.md", "JSON", INTERVAL_REQUIRED, &[]);
    common::assert_documented("tools/biotop.md", "Rows", ROW_REQUIRED, ROW_OPTIONAL);
    common::assert_documented("json.md", "Lost events", LOST_REQUIRED, &[]);
}

fn rows(out: &str) -> (Vec<Value>, Vec<Value>) {
    let ivs = common::interval_objects(out, INTERVAL_REQUIRED, |_, r| {
        check_schema(r, ROW_REQUIRED, ROW_OPTIONAL)
    });
    let rows = ivs
        .iter()
        .flat_map(|iv| iv["rows"].as_array().unwrap().clone())
        .collect();
    (ivs, rows)
}

/// (io, bytes) summed over the rows of `pid` on `disk` in direction `rw`.
fn sum(rows: &[Value], pid: u32, disk: &str, rw: &str) -> (u64, u64) {
    rows.iter()
        .filter(|r| r["pid"] == pid && r["disk"] == disk && r["rw"] == rw)
        .fold((0, 0), |(i, b), r| {
            (
                i + r["io"].as_u64().unwrap(),
                b + r["bytes"].as_u64().unwrap(),
            )
        })
}

/// A workload of 12 writes and 12 reads on a loop device and on the root disk: exact counts
/// and bytes per process, disk and direction, with and without -p; -p leaves out everyone
/// else.
#[test]
fn exact_counts_per_process_disk_and_direction() {
    let Some(bin) = agent_bin() else { return };
    const N: u64 = 12;
    let dev = Loop::new("biotop");
    let (root, file) = blk::file_on_root_disk("biotop", 20);
    let comm = blk::comm("btp");
    let mut w = blk::workload(&comm, &[(&dev.path, 0), (file.to_str().unwrap(), 2)], N);
    let pid = w.pid();
    let run = |args: &[&str]| {
        let mut cmd = Command::new(&bin);
        cmd.args(["biotop", "--json", "-v", "-C", "-r", "10240"])
            .args(args);
        start(cmd)
    };
    let all = run(&["200ms"]);
    let only = run(&["-p", &pid.to_string(), "--hook", "raw_tp", "3600"]);
    let tracing = only.tracing_line().to_string();
    assert!(
        tracing.contains("raw_tp block_rq_complete and block_rq_issue")
            && tracing.contains("issuing process from raw_tp block_io_start"),
        "{tracing}"
    );
    assert!(
        all.tracing_line().contains("tp_btf block_rq_complete"),
        "{}",
        all.tracing_line()
    );
    w.run("io");
    std::thread::sleep(Duration::from_millis(300));
    let (out_only, _) = only.stop();
    let (out_all, _) = all.stop();
    let (ivs, only_rows) = rows(&out_only);
    assert_eq!(ivs.len(), 1, "one report at the end: {out_only}");
    let (ivs_all, all_rows) = rows(&out_all);
    assert!(ivs_all.len() >= 2, "a report every 200 ms: {out_all}");
    for rows in [&only_rows, &all_rows] {
        for (disk, (major, minor)) in [
            (&dev.name, (dev.major, dev.minor)),
            (&root, blk::dev_numbers(&root)),
        ] {
            assert_eq!(sum(rows, pid, disk, "W"), (N, N * BS), "{disk}: {rows:?}");
            assert_eq!(sum(rows, pid, disk, "R"), (N, N * BS), "{disk}: {rows:?}");
            for r in rows
                .iter()
                .filter(|r| r["pid"] == pid && r["disk"] == disk.as_str())
            {
                assert_eq!(r["comm"], comm.as_str());
                assert_eq!(
                    (r["major"].as_u64(), r["minor"].as_u64()),
                    (Some(major.into()), Some(minor.into()))
                );
                assert!(r["total_ns"].as_u64().unwrap() > 0);
            }
        }
    }
    assert!(
        only_rows.iter().all(|r| r["pid"] == pid),
        "-p: only the workload's rows: {only_rows:?}"
    );
    w.finish();
    std::fs::remove_file(file).unwrap();
}

/// Text mode: BCC's columns, the screen not cleared with -C, a count ends the run.
#[test]
fn text_columns_and_count() {
    let Some(bin) = agent_bin() else { return };
    let dev = Loop::new("biotop-t");
    let comm = blk::comm("btt");
    let mut w = blk::workload(&comm, &[(&dev.path, 0)], 3);
    let agent = common::start_tool(
        &bin,
        &["biotop", "-v", "-C", "-p", &w.pid().to_string(), "2", "1"],
    );
    w.run("io");
    let (status, text) = agent.wait();
    assert!(status.success());
    assert!(!text.contains('\x1b'), "-C: no clearing: {text:?}");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].contains(" loadavg: "), "{text}");
    assert_eq!(
        lines[2],
        "PID     COMM             D MAJ MIN DISK       I/O  Kbytes  AVGms"
    );
    let w_row = lines
        .iter()
        .find(|l| l.contains(" W "))
        .unwrap_or_else(|| panic!("{text}"));
    let f: Vec<&str> = w_row.split_whitespace().collect();
    assert_eq!(
        f[..8],
        [
            w.pid().to_string().as_str(),
            comm.as_str(),
            "W",
            &dev.major.to_string(),
            &dev.minor.to_string(),
            &dev.name,
            "3",
            "12"
        ]
    );
    w.finish();
}

#[test]
fn bad_input_is_refused_with_the_fix() {
    let Some(bin) = agent_bin() else { return };
    common::assert_usage_errors(
        &bin,
        "biotop",
        &[
            (&["0"][..], "interval"),
            (&["1", "0"], "count"),
            (&["-s", "size"], "-s"),
            (&["-r", "0"], "--rows"),
            (&["-p", "0"], "--pid"),
            (&["--hook", "kprobe"], "--hook"),
        ],
    );
    common::assert_needs_privileges(&bin, "biotop", &[]);
}
