//! The collector's files without the kernel: rotation, `seq` across rotations, reopen and
//! restart, partial lines, a full disk (/dev/full), gzip. The host tests run it for real.

use std::fs;
use std::ops::Range;
use std::path::{Path, PathBuf};

use super::files::{self, FileSet, Rotation, ToolStat};
use crate::tools::testutil::json_lines;

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "ebpf-collect-unit-{tag}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    ));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

fn stats(names: &[&str]) -> Vec<ToolStat> {
    names
        .iter()
        .map(|n| ToolStat {
            name: n.to_string(),
            ..Default::default()
        })
        .collect()
}

fn opts(max_bytes: u64, max_files: u32) -> Rotation {
    Rotation {
        max_bytes,
        max_files,
    }
}

/// A new directory for test `tag`, the stats of `tools`, and the set "ev" opened in it.
fn fresh(tag: &str, tools: &[&str], rotation: Rotation) -> (PathBuf, Vec<ToolStat>, FileSet) {
    let dir = tmpdir(tag);
    let s = open(&dir, "ev", rotation);
    (dir, stats(tools), s)
}

/// The set `set` in `dir`, opened as the collector opens it.
fn open(dir: &Path, set: &str, rotation: Rotation) -> FileSet {
    FileSet::open(0, dir, set, rotation, files::worker(), false).unwrap()
}

/// Tool "a" writes its lines `i` (of about 100 bytes each) for each `i` in `range`.
fn append_lines(s: &mut FileSet, range: Range<u64>, st: &mut [ToolStat]) {
    for i in range {
        s.append(0, "a", &line(i, 100), st);
    }
}

/// A tool's line of about `len` bytes.
fn line(i: u64, len: usize) -> Vec<u8> {
    let pad = "x".repeat(len.saturating_sub(40));
    format!("{{\"type\":\"ev\",\"i\":{i},\"pad\":\"{pad}\"}}\n").into_bytes()
}

/// Every line of the set's files, oldest first (rotated by their seq, then the current one).
fn all_lines(dir: &Path, set: &str) -> Vec<serde_json::Value> {
    let mut rotated: Vec<(u64, PathBuf)> = fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let e = e.unwrap();
            let n = e.file_name().into_string().unwrap();
            files::rotated_seq(set, &n).map(|s| (s, e.path()))
        })
        .collect();
    rotated.sort();
    let mut out = Vec::new();
    let mut paths: Vec<PathBuf> = rotated.into_iter().map(|(_, p)| p).collect();
    paths.push(dir.join(format!("{set}.jsonl")));
    for p in paths {
        let data = if p.extension().is_some_and(|e| e == "gz") {
            files::gz::read(&p).unwrap()
        } else {
            fs::read(&p).unwrap_or_default()
        };
        assert!(
            data.is_empty() || data.ends_with(b"\n"),
            "{} ends mid-line",
            p.display()
        );
        for l in data.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            out.push(serde_json::from_slice(l).unwrap_or_else(|e| {
                panic!("{}: {e}: {}", p.display(), String::from_utf8_lossy(l))
            }));
        }
    }
    out
}

fn seqs(lines: &[serde_json::Value]) -> Vec<u64> {
    lines.iter().map(|v| v["seq"].as_u64().unwrap()).collect()
}

#[test]
fn lines_get_seq_and_tool_and_rotate_by_size() {
    let (dir, mut st, mut s) = fresh("rotate", &["a", "b"], opts(8192, 100));
    for i in 0..200 {
        let t = (i % 2) as usize;
        let name = st[t].name.clone();
        s.append(t, &name, &line(i, 100), &mut st);
    }
    s.close(&mut st);
    let lines = all_lines(&dir, "ev");
    assert_eq!(seqs(&lines), (1..=200).collect::<Vec<_>>());
    for (i, v) in lines.iter().enumerate() {
        assert_eq!(v["i"], i as u64);
        assert_eq!(v["tool"], if i % 2 == 0 { "a" } else { "b" });
        assert_eq!(v["type"], "ev");
    }
    assert!(s.rotations >= 2, "rotated {} times", s.rotations);
    for e in fs::read_dir(&dir).unwrap() {
        let e = e.unwrap();
        let n = e.file_name().into_string().unwrap();
        if n.ends_with(".jsonl") {
            assert!(e.metadata().unwrap().len() <= 8192, "{n} is over max_bytes");
            if let Some(first) = files::rotated_seq("ev", &n) {
                let text = fs::read_to_string(e.path()).unwrap();
                assert_eq!(files::seq_of(text.as_bytes()), Some(first), "{n}");
                assert!(n.starts_with("ev-20") && n.contains('T'), "{n}");
            }
        }
    }
    assert_eq!(st[0].events + st[1].events, 200);
    assert_eq!(st[0].lines, 100);
    // An empty object still makes a valid line.
    let mut s = open(&dir, "empty", opts(0, 1));
    s.append(0, "a", b"{}\n", &mut st);
    s.close(&mut st);
    assert_eq!(
        fs::read_to_string(dir.join("empty.jsonl")).unwrap(),
        "{\"seq\":1,\"tool\":\"a\"}\n"
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn old_files_are_deleted_past_max_files() {
    let (dir, mut st, mut s) = fresh("prune", &["a"], opts(4096, 2));
    append_lines(&mut s, 0..300, &mut st);
    s.close(&mut st);
    let rotated = fs::read_dir(&dir)
        .unwrap()
        .filter(|e| {
            let n = e.as_ref().unwrap().file_name().into_string().unwrap();
            files::rotated_seq("ev", &n).is_some()
        })
        .count();
    assert_eq!(rotated, 2);
    // What is left still counts up without a gap, to the last line.
    let s = seqs(&all_lines(&dir, "ev"));
    assert_eq!(*s.last().unwrap(), 300);
    assert!(s.windows(2).all(|w| w[1] == w[0] + 1));
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn seq_goes_on_across_reopen_and_restart_and_a_partial_line_is_cut() {
    let (dir, mut st, mut s) = fresh("restart", &["a"], opts(4096, 100));
    append_lines(&mut s, 0..50, &mut st);
    // logrotate's way: move the file away, then SIGHUP.
    s.flush(&mut st);
    fs::rename(dir.join("ev.jsonl"), dir.join("moved.txt")).unwrap();
    s.reopen(&mut st);
    append_lines(&mut s, 50..60, &mut st);
    s.flush(&mut st);
    drop(s); // a crash: no close(), nothing saved
             // ... which left half a line behind.
    let cur = dir.join("ev.jsonl");
    let mut text = fs::read(&cur).unwrap();
    text.extend_from_slice(b"{\"seq\":61,\"tool\":\"a\",\"ty");
    fs::write(&cur, &text).unwrap();
    let mut s = open(&dir, "ev", opts(4096, 100));
    assert_eq!(s.next_seq, 61);
    append_lines(&mut s, 60..70, &mut st);
    s.close(&mut st);
    let mut lines = all_lines(&dir, "ev");
    let moved = fs::read_to_string(dir.join("moved.txt")).unwrap();
    let mut moved = json_lines(&moved);
    moved.append(&mut lines);
    let mut s = seqs(&moved);
    s.sort();
    assert_eq!(s, (1..=70).collect::<Vec<_>>());

    // Restart right after a rotation: the current file is empty, the seq file knows.
    let dir2 = tmpdir("restart2");
    let mut s = open(&dir2, "ev", opts(4096, 100));
    append_lines(&mut s, 0..60, &mut st);
    s.close(&mut st);
    assert!(s.rotations > 0);
    let next = s.next_seq;
    fs::write(dir2.join("ev.jsonl"), b"").unwrap();
    let s2 = open(&dir2, "ev", opts(4096, 100));
    assert_eq!(s2.next_seq, next);
    // Without the seq file: the newest rotated file's last line.
    drop(s2);
    fs::remove_file(dir2.join(".ev.seq")).unwrap();
    let last_rotated = {
        let lines = all_lines(&dir2, "ev");
        lines.last().unwrap()["seq"].as_u64().unwrap()
    };
    let s3 = open(&dir2, "ev", opts(4096, 100));
    assert_eq!(s3.next_seq, last_rotated + 1);
    fs::remove_dir_all(&dir).unwrap();
    fs::remove_dir_all(&dir2).unwrap();
}

#[test]
fn a_full_disk_drops_and_counts_lines_then_reports_them() {
    if !Path::new("/dev/full").exists() {
        eprintln!("skipped: no /dev/full");
        return;
    }
    let (dir, mut st, mut s) = fresh("full", &["a", "b"], opts(0, 1));
    st[1].set = 0;
    append_lines(&mut s, 0..5, &mut st);
    s.flush(&mut st);
    // The disk fills up: every write fails with ENOSPC.
    let cur = dir.join("ev.jsonl");
    fs::rename(&cur, dir.join("before.jsonl")).unwrap();
    std::os::unix::fs::symlink("/dev/full", &cur).unwrap();
    s.reopen(&mut st);
    for i in 5..12 {
        s.append(0, "a", &line(i, 100), &mut st);
        s.append(1, "b", &line(i, 100), &mut st);
    }
    s.flush(&mut st);
    assert!(
        s.failing.as_deref().unwrap_or("").contains("No space left"),
        "{:?}",
        s.failing
    );
    assert!(!s.retry(&mut st), "still full");
    assert_eq!((st[0].output_lost, st[1].output_lost), (7, 7));
    // Space again.
    fs::remove_file(&cur).unwrap();
    s.reopen(&mut st);
    assert!(s.retry(&mut st));
    append_lines(&mut s, 12..14, &mut st);
    s.close(&mut st);
    let mut lines = json_lines(&fs::read_to_string(dir.join("before.jsonl")).unwrap());
    lines.extend(all_lines(&dir, "ev"));
    assert_eq!(
        seqs(&lines),
        (1..=9).collect::<Vec<_>>(),
        "no gap: lost lines take no seq"
    );
    let lost: Vec<&serde_json::Value> = lines.iter().filter(|v| v["type"] == "lost").collect();
    assert_eq!(lost.len(), 2);
    for (v, tool) in lost.iter().zip(["a", "b"]) {
        assert_eq!(v["tool"], tool);
        assert_eq!(v["lost"], 7);
        assert_eq!(v["lost_total"], 7);
        assert!(
            v["reason"]
                .as_str()
                .unwrap()
                .contains("No space left on device"),
            "{v}"
        );
    }
    assert_eq!(st[0].events, 7, "{lines:?}");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn rotated_files_are_gzipped_and_read_back() {
    let o = opts(4096, 100);
    let (dir, mut st, mut s) = fresh("gzip", &["a"], o);
    append_lines(&mut s, 0..100, &mut st);
    s.close(&mut st);
    // Compress them as the worker thread does.
    let mut n = 0;
    for e in fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_str().unwrap().to_string();
        if files::rotated_seq("ev", &name).is_some() {
            files::gz::compress(&p).unwrap();
            n += 1;
        }
    }
    assert!(n >= 2);
    assert_eq!(seqs(&all_lines(&dir, "ev")), (1..=100).collect::<Vec<_>>());
    // A restart with an empty current file and no seq file reads the last gzip'ed file.
    fs::write(dir.join("ev.jsonl"), b"").unwrap();
    fs::remove_file(dir.join(".ev.seq")).unwrap();
    let lines = all_lines(&dir, "ev");
    let last = lines.last().unwrap()["seq"].as_u64().unwrap();
    let s = open(&dir, "ev", o);
    assert_eq!(s.next_seq, last + 1);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn names_of_rotated_files() {
    let n = files::rotated_name("exec-x", "20261201T120000Z", 42);
    assert_eq!(n, "exec-x-20261201T120000Z-000000000042.jsonl");
    assert_eq!(files::rotated_seq("exec-x", &n), Some(42));
    assert_eq!(files::rotated_seq("exec-x", &format!("{n}.gz")), Some(42));
    assert_eq!(files::rotated_seq("exec", &n), None, "another set's file");
    assert_eq!(files::rotated_seq("exec-x", "exec-x.jsonl"), None);
    assert_eq!(files::rotated_seq("exec-x", &format!("{n}.gz.tmp")), None);
}
