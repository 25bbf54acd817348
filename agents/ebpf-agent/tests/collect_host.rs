//! `ebpf-agent collect` against the host kernel, through the real static binary: three tools
//! under a marker workload with every event once in the files and no `seq` gap across forced
//! rotations, SIGHUP, SIGTERM and a restart, and a tmpfs that fills up; memory over a million
//! events; the status file; failure isolation; bad input; `/metrics` through promtool and a real
//! Prometheus.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{agent_bin, Phases};
use serde_json::{json, Value};

/// A directory of its own under /tmp, removed at the end (unmounting what a test mounted).
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!(
            "ebpf-collect-{tag}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos()
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn path(&self, rel: &str) -> PathBuf {
        self.0.join(rel)
    }
    /// Writes `config` to `collect.json` here, with a status file, `status.json` here, written
    /// every 200 ms: the paths of both.
    fn config(&self, mut config: Value) -> (PathBuf, PathBuf) {
        let (path, status) = (self.path("collect.json"), self.path("status.json"));
        config["status"] = json!({"path": status, "interval_ms": 200});
        write_config(&path, &config);
        (path, status)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.0.join("full"))
            .output();
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.0.join("ro"))
            .output();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A collector running in the background.
struct Collector {
    child: Child,
    stderr: mpsc::Receiver<String>,
    log: Vec<String>,
    status: PathBuf,
}

impl Collector {
    /// Starts `ebpf-agent collect --config CONFIG` and waits until every tool of the status
    /// file runs (or, with `expect_failed`, has failed).
    fn start(bin: &Path, config: &Path, status: &Path, tools: usize) -> Collector {
        let _ = std::fs::remove_file(status);
        let mut child = Command::new(bin)
            .args(["collect", "-v", "--config"])
            .arg(config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let err = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(err).lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        let mut c = Collector {
            child,
            stderr: rx,
            log: Vec::new(),
            status: status.to_path_buf(),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            c.log.extend(c.stderr.try_iter());
            if let Some(s) = c.status() {
                let states: Vec<&str> = s["tools"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|t| t["state"].as_str().unwrap())
                    .collect();
                if states.len() == tools && !states.contains(&"starting") {
                    return c;
                }
            }
            if let Some(st) = c.child.try_wait().unwrap() {
                panic!(
                    "collector exited ({st}) before starting:\n{}",
                    c.log.join("\n")
                );
            }
            assert!(
                Instant::now() < deadline,
                "collector did not start:\n{}",
                c.log.join("\n")
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn status(&self) -> Option<Value> {
        let t = std::fs::read_to_string(&self.status).ok()?;
        serde_json::from_str(&t).ok()
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    fn signal(&self, sig: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid()), sig).unwrap();
    }

    /// SIGTERM: returns how long it took to exit; it must exit 0.
    fn stop(mut self) -> (Duration, Vec<String>) {
        let t0 = Instant::now();
        self.signal(nix::sys::signal::Signal::SIGTERM);
        let st = self.child.wait().unwrap();
        let took = t0.elapsed();
        std::thread::sleep(Duration::from_millis(50));
        self.log.extend(self.stderr.try_iter());
        assert!(
            st.success(),
            "collector exit {st} after SIGTERM:\n{}",
            self.log.join("\n")
        );
        (took, std::mem::take(&mut self.log))
    }

    /// VmRSS and user+system CPU time (clock ticks) of the collector.
    fn rss_kib_and_ticks(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        let rss = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap();
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap();
        let after = &stat[stat.rfind(')').unwrap() + 2..];
        let f: Vec<&str> = after.split_whitespace().collect();
        let ticks = f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
        (rss, ticks)
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn write_config(path: &Path, v: &Value) {
    std::fs::write(path, serde_json::to_string_pretty(v).unwrap()).unwrap();
}

/// The files of set `set` in `dir`: rotated ones (ours by their seq, `.gz` when the plain one
/// is gone; logrotate's `.jsonl.N`), then the current one.
fn set_files(dir: &Path, set: &str) -> Vec<PathBuf> {
    let mut ours: BTreeMap<u64, PathBuf> = BTreeMap::new();
    let mut moved = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let n = p.file_name().unwrap().to_str().unwrap().to_string();
        if let Some(rest) = n.strip_prefix(&format!("{set}-")) {
            let base = rest.strip_suffix(".gz").unwrap_or(rest);
            let Some(base) = base.strip_suffix(".jsonl") else {
                continue;
            };
            let Some((stamp, seq)) = base.rsplit_once('-') else {
                continue;
            };
            if stamp.len() != 16 {
                continue;
            }
            let seq: u64 = seq.parse().unwrap();
            let plain = !n.ends_with(".gz");
            if plain || !ours.contains_key(&seq) {
                ours.insert(seq, p);
            }
        } else if n.starts_with(&format!("{set}.jsonl.")) && !n.ends_with(".tmp") {
            moved.push(p);
        }
    }
    moved.sort();
    let mut v: Vec<PathBuf> = ours.into_values().collect();
    v.extend(moved);
    v.push(dir.join(format!("{set}.jsonl")));
    v
}

fn read_maybe_gz(p: &Path) -> Vec<u8> {
    if p.extension().is_some_and(|e| e == "gz") {
        let out = Command::new("gzip").arg("-dc").arg(p).output().unwrap();
        if !out.status.success() {
            // Deleted meanwhile (pruned): nothing.
            assert!(!p.exists(), "gzip -dc {}", p.display());
        }
        out.stdout
    } else {
        std::fs::read(p).unwrap_or_default()
    }
}

/// Every line of a set, in `seq` order, checked: one JSON object per line, `seq` and `tool`
/// on each, and the `seq`s are exactly 1..=N (nothing missing, nothing twice).
fn set_lines(dir: &Path, set: &str) -> Vec<Value> {
    read_set(dir, set, true)
}

/// The lines of a set while the collector runs: a file may be rotated or compressed between
/// listing and reading it, so gaps are allowed and a partial last line is left out.
fn peek_set(dir: &Path, set: &str) -> Vec<Value> {
    read_set(dir, set, false)
}

fn read_set(dir: &Path, set: &str, strict: bool) -> Vec<Value> {
    let mut lines = Vec::new();
    for p in set_files(dir, set) {
        let mut data = read_maybe_gz(&p);
        if !strict {
            let end = data.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
            data.truncate(end);
        }
        assert!(
            data.is_empty() || data.ends_with(b"\n"),
            "{} ends mid-line",
            p.display()
        );
        for l in data.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let v: Value = serde_json::from_slice(l).unwrap_or_else(|e| {
                panic!(
                    "{}: invalid JSON ({e}): {}",
                    p.display(),
                    String::from_utf8_lossy(l)
                )
            });
            assert!(
                v["seq"].is_u64() && v["tool"].is_string(),
                "{}: {v}",
                p.display()
            );
            lines.push(v);
        }
    }
    lines.sort_by_key(|v| v["seq"].as_u64().unwrap());
    if !strict {
        return lines;
    }
    let seqs: Vec<u64> = lines.iter().map(|v| v["seq"].as_u64().unwrap()).collect();
    let want: Vec<u64> = (1..=seqs.len() as u64).collect();
    if seqs != want {
        let gap = seqs
            .iter()
            .zip(&want)
            .find(|(a, b)| a != b)
            .map(|(a, b)| format!("seq {a} where {b} was due"));
        panic!(
            "set {set}: seq is not 1..={} without gaps: {gap:?}",
            seqs.len()
        );
    }
    lines
}

/// How often each marker string (a path or an argument) appears among the events of `ty`.
fn marker_counts(lines: &[Value], ty: &str, field: &str, marker: &str) -> BTreeMap<String, u32> {
    let mut m = BTreeMap::new();
    for v in lines.iter().filter(|v| v["type"] == ty) {
        let s = match &v[field] {
            Value::String(s) => s.clone(),
            Value::Array(a) => a
                .iter()
                .filter_map(|x| x.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            _ => continue,
        };
        if s.contains(marker) {
            *m.entry(s).or_insert(0) += 1;
        }
    }
    m
}

/// The workload: failing opens and stats of marker paths, and execs with a marker argument,
/// per phase tag.
fn workload(marker: &str) -> Phases {
    Phases::spawn(&format!(
        "
import subprocess
M = {marker:?}
def work(tag, n, execs):
    for i in range(n):
        try:
            os.open(f'/nonexistent/{{M}}/{{tag}}/o{{i}}', os.O_RDONLY)
        except OSError:
            pass
        try:
            os.stat(f'/nonexistent/{{M}}/{{tag}}/s{{i}}')
        except OSError:
            pass
    for i in range(execs):
        subprocess.run(['/bin/true', f'{{M}}-{{tag}}-e{{i}}'])
    return f'{{n}} {{execs}}'
def phase_a(): return work('a', 2000, 10)
def phase_b(): return work('b', 2000, 10)
def phase_c(): return work('c', 2000, 10)
def phase_small(): return work('small', 200, 0)
def phase_big(): return work('big', 1500, 0)
def phase_after(): return work('after', 200, 0)
def phase_100k():
    for i in range(100000):
        try:
            os.open(f'/nonexistent/{{M}}/m/{{i}}', os.O_RDONLY)
        except OSError:
            pass
def phase_getppid():
    for _ in range(1234):
        os.getppid()
"
    ))
}

/// Waits until `ok()` holds (files are written on the flush timer).
fn wait_for(what: &str, secs: u64, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn count_phase(lines: &[Value], ty: &str, field: &str, marker: &str, tag: &str) -> usize {
    marker_counts(lines, ty, field, &format!("{marker}/{tag}/")).len()
}

#[test]
fn three_tools_every_event_once_across_rotation_sighup_and_restart() {
    let Some(bin) = agent_bin() else { return };
    let tmp = TempDir::new("three");
    let marker = common::marker("collect");
    let mut w = workload(&marker);
    let pid = w.pid().to_string();
    let log = tmp.path("log");
    let (config, status) = tmp.config(json!({
        "output": {"dir": log, "max_bytes": 65536, "max_files": 1000, "gzip": true,
                   "flush_ms": 200, "fsync_ms": 1000},
        "tools": [
            {"tool": "opensnoop", "args": ["-p", pid]},
            {"tool": "statsnoop", "args": ["-p", pid]},
            {"tool": "execsnoop"},
        ]
    }));
    let c = Collector::start(&bin, &config, &status, 3);
    let tags_seen = |tag: &str| {
        let o = peek_set(&log, "opensnoop");
        let s = peek_set(&log, "statsnoop");
        let e = peek_set(&log, "execsnoop");
        count_phase(&o, "open", "path", &marker, tag) == 2000
            && count_phase(&s, "stat", "path", &marker, tag) == 2000
            && marker_counts(&e, "exec", "args", &format!("{marker}-{tag}-")).len() == 10
    };

    // (a) rotation every 64 KiB.
    assert_eq!(w.run("a"), "2000 10");
    wait_for("phase a in the files", 20, || tags_seen("a"));
    // (b) logrotate moves a file away and sends SIGHUP; the collector goes on.
    std::fs::rename(log.join("statsnoop.jsonl"), log.join("statsnoop.jsonl.1")).unwrap();
    c.signal(nix::sys::signal::Signal::SIGHUP);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(w.run("b"), "2000 10");
    wait_for("phase b in the files", 20, || tags_seen("b"));
    assert!(
        log.join("statsnoop.jsonl").exists(),
        "SIGHUP made a new file"
    );
    // (c) SIGTERM: out within a second, exit 0; a new collector goes on with the next seq.
    let before = peek_set(&log, "opensnoop").len();
    let (took, _) = c.stop();
    println!("SIGTERM to exit: {} ms", took.as_millis());
    assert!(took < Duration::from_secs(1), "SIGTERM took {took:?}");
    let st: Value = serde_json::from_str(&std::fs::read_to_string(&status).unwrap()).unwrap();
    assert_eq!(st["state"], "stopped");
    let c = Collector::start(&bin, &config, &status, 3);
    assert_eq!(w.run("c"), "2000 10");
    wait_for("phase c in the files", 20, || tags_seen("c"));
    let (took, _) = c.stop();
    assert!(took < Duration::from_secs(1), "SIGTERM took {took:?}");
    w.finish();

    for (set, ty, field) in [
        ("opensnoop", "open", "path"),
        ("statsnoop", "stat", "path"),
        ("execsnoop", "exec", "args"),
    ] {
        let lines = set_lines(&log, set);
        assert!(
            lines.iter().all(|v| v["tool"] == set),
            "{set}: every line names its tool"
        );
        let prefix = if set == "execsnoop" {
            format!("{marker}-")
        } else {
            format!("{marker}/")
        };
        let counts = marker_counts(&lines, ty, field, &prefix);
        let twice: Vec<_> = counts.iter().filter(|(_, &n)| n != 1).collect();
        assert!(
            twice.is_empty(),
            "{set}: events not seen exactly once: {twice:?}"
        );
        let want = if set == "execsnoop" { 30 } else { 6000 };
        assert_eq!(counts.len(), want, "{set}: marker events in the files");
        println!(
            "{set}: {} lines, seq 1..={} without a gap",
            lines.len(),
            lines.len()
        );
    }
    let o = set_lines(&log, "opensnoop");
    assert!(
        o.len() > before,
        "the restarted collector went on after seq {before}"
    );
    let rotated = set_files(&log, "opensnoop").len() - 1;
    println!("opensnoop: {rotated} rotated files");
    assert!(rotated >= 10, "64 KiB files rotated: {rotated}");
    // gzip'ed ones, once the compressor got to them.
    let gz = std::fs::read_dir(&log)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_str()
                .unwrap()
                .ends_with(".jsonl.gz")
        })
        .count();
    assert!(gz > 0, "no rotated file was compressed");
    let st: Value = serde_json::from_str(&std::fs::read_to_string(&status).unwrap()).unwrap();
    let tools = st["tools"].as_array().unwrap();
    assert_eq!(tools.len(), 3);
    for t in tools {
        assert_eq!(t["lost_kernel"], 0, "{t}");
        assert_eq!(t["lost_output"], 0, "{t}");
    }
}

/// How a test makes the file system under the output files refuse writes, and take them again.
#[derive(Clone, Copy)]
enum Fault {
    /// A 1 MiB tmpfs under the files, filled up by another file, which is then removed.
    Full,
    /// A read-only tmpfs mounted over the output directory while the collector runs, and a
    /// SIGHUP to reopen there (as after logrotate); then unmounted.
    ReadOnly,
}

impl Fault {
    fn tag(self) -> &'static str {
        match self {
            Fault::Full => "full",
            Fault::ReadOnly => "rofs",
        }
    }

    /// The reason the status file and the `lost` lines give.
    fn error(self) -> &'static str {
        match self {
            Fault::Full => "No space left on device",
            Fault::ReadOnly => "Read-only file system",
        }
    }

    /// The output directory in `tmp`, on the file system the fault will hit.
    fn output_dir(self, tmp: &TempDir) -> PathBuf {
        match self {
            Fault::Full => {
                let full = tmp.path("full");
                std::fs::create_dir_all(&full).unwrap();
                let m = Command::new("mount")
                    .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
                    .arg(&full)
                    .status()
                    .unwrap();
                assert!(m.success(), "mount a tmpfs");
                full.join("log")
            }
            Fault::ReadOnly => {
                let log = tmp.path("ro");
                std::fs::create_dir_all(&log).unwrap();
                log
            }
        }
    }

    /// The file that fills the tmpfs up.
    fn filler(log: &Path) -> PathBuf {
        log.parent().unwrap().join("filler")
    }

    /// Makes the writes of `c` under `log` fail.
    fn inflict(self, log: &Path, c: &Collector) {
        match self {
            Fault::Full => {
                let mut f = std::fs::File::create(Fault::filler(log)).unwrap();
                let block = vec![0u8; 4096];
                while f.write_all(&block).is_ok() {}
                let _ = f.sync_all();
            }
            Fault::ReadOnly => {
                assert!(Command::new("mount")
                    .args(["-t", "tmpfs", "-o", "ro,size=64k", "tmpfs"])
                    .arg(log)
                    .status()
                    .unwrap()
                    .success());
                c.signal(nix::sys::signal::Signal::SIGHUP);
            }
        }
    }

    /// Makes them work again.
    fn mend(self, log: &Path) {
        match self {
            Fault::Full => std::fs::remove_file(Fault::filler(log)).unwrap(),
            Fault::ReadOnly => {
                assert!(Command::new("umount").arg(log).status().unwrap().success())
            }
        }
    }
}

/// One tool writing while `fault` makes the writes fail: the lines are dropped and counted;
/// once writing works again the collector writes again, on its own, and says in a `lost` line
/// how many and why.
fn drops_counted_lines_and_resumes(fault: Fault) {
    let Some(bin) = agent_bin() else { return };
    let tmp = TempDir::new(fault.tag());
    let log = fault.output_dir(&tmp);
    let marker = common::marker(fault.tag());
    let mut w = workload(&marker);
    let pid = w.pid().to_string();
    let (config, status) = tmp.config(json!({
        "output": {"dir": log, "max_bytes": 0, "flush_ms": 100},
        "tools": [{"tool": "opensnoop", "args": ["-p", pid]}]
    }));
    let c = Collector::start(&bin, &config, &status, 1);
    let phase_in_files =
        |tag: &str| count_phase(&peek_set(&log, "opensnoop"), "open", "path", &marker, tag) == 200;
    assert_eq!(w.run("small"), "200 0");
    wait_for("the first lines", 20, || phase_in_files("small"));
    fault.inflict(&log, &c);
    assert_eq!(w.run("big"), "1500 0");
    wait_for("lines dropped and counted", 20, || {
        c.status()
            .is_some_and(|s| s["tools"][0]["lost_output"].as_u64().unwrap_or(0) > 0)
    });
    let s = c.status().unwrap();
    assert_eq!(s["files"][0]["ok"], false, "{s}");
    assert!(
        s["last_error"].as_str().unwrap().contains(fault.error()),
        "{s}"
    );
    fault.mend(&log);
    wait_for("writing works again", 20, || {
        c.status().is_some_and(|s| s["files"][0]["ok"] == true)
    });
    assert_eq!(w.run("after"), "200 0");
    wait_for("lines after writing worked again", 20, || {
        phase_in_files("after")
    });
    c.stop();
    w.finish();
    let lines = set_lines(&log, "opensnoop");
    let seen: usize = ["small", "big", "after"]
        .iter()
        .map(|t| count_phase(&lines, "open", "path", &marker, t))
        .sum();
    let lost: Vec<&Value> = lines
        .iter()
        .filter(|v| v["type"] == "lost" && v.get("reason").is_some())
        .collect();
    assert!(!lost.is_empty(), "a lost line once writing worked again");
    for v in &lost {
        assert!(v["reason"].as_str().unwrap().contains(fault.error()), "{v}");
    }
    let dropped: u64 = lost.iter().map(|v| v["lost"].as_u64().unwrap()).sum();
    let st: Value = serde_json::from_str(&std::fs::read_to_string(&status).unwrap()).unwrap();
    assert_eq!(
        st["tools"][0]["lost_output"].as_u64().unwrap(),
        dropped,
        "{st}"
    );
    assert_eq!(st["tools"][0]["lost_kernel"], 0, "{st}");
    println!(
        "{}: {seen} of 1900 opens written, {dropped} dropped and counted",
        fault.error()
    );
    assert_eq!(
        seen as u64 + dropped,
        1900,
        "every event written or counted lost"
    );
    assert_eq!(count_phase(&lines, "open", "path", &marker, "small"), 200);
    assert_eq!(count_phase(&lines, "open", "path", &marker, "after"), 200);
    assert!(dropped > 0);
}

#[test]
fn a_full_disk_drops_counted_lines_and_resumes() {
    drops_counted_lines_and_resumes(Fault::Full);
}

#[test]
fn a_read_only_file_system_drops_counted_lines_and_resumes() {
    drops_counted_lines_and_resumes(Fault::ReadOnly);
}

#[test]
fn memory_stays_flat_over_a_million_events() {
    let Some(bin) = agent_bin() else { return };
    let tmp = TempDir::new("rss");
    let marker = common::marker("rss");
    let mut w = workload(&marker);
    let pid = w.pid().to_string();
    let log = tmp.path("log");
    let (config, status) = tmp.config(json!({
        "output": {"dir": log, "max_bytes": 4 << 20, "max_files": 2},
        "tools": [{"tool": "opensnoop", "args": ["-p", pid]}]
    }));
    let c = Collector::start(&bin, &config, &status, 1);
    let mut samples = Vec::new();
    let (_, ticks0) = c.rss_kib_and_ticks();
    let t0 = Instant::now();
    for round in 1..=10u64 {
        w.run("100k");
        wait_for("the round's events", 60, || {
            c.status().is_some_and(|s| {
                let t = &s["tools"][0];
                t["events"].as_u64().unwrap() + t["lost_kernel"].as_u64().unwrap()
                    >= round * 100_000
            })
        });
        samples.push(c.rss_kib_and_ticks());
    }
    let secs = t0.elapsed().as_secs_f64();
    let s = c.status().unwrap();
    c.stop();
    w.finish();
    let rss: Vec<u64> = samples.iter().map(|s| s.0).collect();
    let ticks = samples.last().unwrap().1 - ticks0;
    let hz = 100.0; // USER_HZ
    let events = s["tools"][0]["events"].as_u64().unwrap();
    let lost = s["tools"][0]["lost_kernel"].as_u64().unwrap();
    println!("RSS (KiB) after each 100,000 events: {rss:?}");
    let cpu = ticks as f64 / hz;
    println!(
        "1,000,000 opens in {secs:.1} s: {events} lines written, {lost} lost in the kernel; \
         collector CPU {cpu:.2} s = {:.2} us per event",
        cpu * 1e6 / 1e6
    );
    assert_eq!(events + lost, 1_000_000);
    let growth = rss[9] as i64 - rss[1] as i64;
    assert!(
        growth < 1024,
        "RSS grew {growth} KiB from 200k to 1M events: {rss:?}"
    );
    // Rotation kept the disk bounded.
    let files = set_files(&log, "opensnoop");
    assert!(files.len() <= 3, "{files:?}");
}

#[test]
fn a_tool_that_cannot_start_leaves_the_others_running() {
    let Some(bin) = agent_bin() else { return };
    let tmp = TempDir::new("isolate");
    let marker = common::marker("isolate");
    // No kprobes on this host: filetop forced onto them cannot attach (exit code 3 alone).
    let (config, status) = tmp.config(json!({
        "output": {"dir": tmp.path("log"), "flush_ms": 0},
        "tools": [
            {"tool": "filetop", "args": ["--hook", "kprobe"]},
            {"tool": "execsnoop"},
            {"tool": "exitsnoop", "args": ["--duration", "1"]},
        ]
    }));
    let c = Collector::start(&bin, &config, &status, 3);
    let s = c.status().unwrap();
    if s["tools"][0]["state"] == "running" {
        eprintln!("skipped: this kernel has kprobes");
        return;
    }
    assert_eq!(s["tools"][0]["state"], "failed", "{s}");
    assert!(
        s["tools"][0]["error"].as_str().unwrap().contains("kprobe"),
        "{s}"
    );
    assert_eq!(s["tools"][1]["state"], "running", "{s}");
    let st = Command::new("/bin/true").arg(&marker).status().unwrap();
    assert!(st.success());
    wait_for("exitsnoop's duration", 10, || {
        c.status()
            .is_some_and(|s| s["tools"][2]["state"] == "ended")
    });
    wait_for("the exec", 10, || {
        let l = peek_set(&tmp.path("log"), "execsnoop");
        !marker_counts(&l, "exec", "args", &marker).is_empty()
    });
    let (_, log) = c.stop();
    assert!(
        log.iter().any(|l| l.contains("filetop did not start")),
        "{log:?}"
    );
    // Alone, it is the collector's failure, with the tool's exit code.
    write_config(
        &config,
        &json!({"output": {"dir": tmp.path("log2")}, "status": false,
                "tools": [{"tool": "filetop", "args": ["--hook", "kprobe"]}]}),
    );
    let (code, err) =
        common::exit_and_stderr(&bin, &["collect", "--config", config.to_str().unwrap()]);
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("no tool started"), "{err}");
}

/// Runs `collect --config` on `text`: (exit code, stderr).
fn collect_with(bin: &Path, dir: &TempDir, text: &str) -> (Option<i32>, String) {
    let p = dir.path("c.json");
    std::fs::write(&p, text).unwrap();
    common::exit_and_stderr(bin, &["collect", "--config", p.to_str().unwrap()])
}

#[test]
fn bad_input_names_the_line_and_the_key() {
    let Some(bin) = agent_bin() else { return };
    let tmp = TempDir::new("bad");
    let log = tmp.path("log");
    let logs = log.to_str().unwrap();
    let c = tmp.path("c.json");
    let c = c.to_str().unwrap();
    let cases: &[(&str, i32, &str)] = &[
        ("{\n \"tools\": [\n  {\"tool\": \"execsnop\"}\n ]\n}", 2, "c.json:3: tools[0].tool: unknown tool \"execsnop\""),
        ("{\"tools\": [\n {\"tool\": \"opensnoop\"},\n {\"tool\": \"execsnoop\", \"args\": [\"--bogus\"]}]}", 2, "c.json:3: tools[1].args: execsnoop: "),
        ("{\"tools\": [{\"tool\": \"syscount\", \"args\": [\"-T\", \"0\"]}]}", 2, "tools[0].args: syscount: -T/--top must be at least 1"),
        ("{\n  \"tools\": [\n    {\"tool\": \"execsnoop\"}\n    {\"tool\": \"opensnoop\"}\n  ]\n}", 2, "c.json:4:5: not valid JSON: expected ',' or ']'"),
        ("{\"tools\": [{\"tool\": \"execsnoop\"}], \"output\": {\"max_bytes\": \"10M\"}}", 2, "output.max_bytes: must be a whole number"),
        ("{\"tool\": [{\"tool\": \"execsnoop\"}]}", 2, "c.json:1: tool: unknown key"),
    ];
    for (text, code, want) in cases {
        let (got, err) = collect_with(&bin, &tmp, text);
        assert_eq!(got, Some(*code), "{text}: {err}");
        assert!(err.contains(want), "{text}: wanted {want:?} in: {err}");
        let errors = err
            .lines()
            .filter(|l| l.contains("error:") && !l.contains("error: fix:"));
        assert_eq!(errors.count(), 1, "one error line (and its fix): {err}");
    }
    // --check: the same checks, nothing started.
    std::fs::write(
        c,
        format!(
            "{{\"output\": {{\"dir\": \"{logs}\"}}, \"tools\": [{{\"tool\": \"execsnoop\"}}]}}"
        ),
    )
    .unwrap();
    let out = common::run_to_end(&bin, &["collect", "--check", "--config", c]);
    assert!(out.contains("OK: 1 tool(s)"), "{out}");
    assert!(!log.exists(), "--check writes nothing");
    // No config file.
    let (code, err) =
        common::exit_and_stderr(&bin, &["collect", "--config", "/nonexistent/c.json"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("cannot read the config /nonexistent/c.json"),
        "{err}"
    );
    // An output directory that cannot be written: a read-only file system.
    let ro = tmp.path("ro");
    std::fs::create_dir_all(&ro).unwrap();
    assert!(Command::new("mount")
        .args(["-t", "tmpfs", "-o", "ro,size=64k", "tmpfs"])
        .arg(&ro)
        .status()
        .unwrap()
        .success());
    let text = format!(
        "{{\"output\": {{\"dir\": \"{}/log\"}}, \"status\": false, \"tools\": [{{\"tool\": \"execsnoop\"}}]}}",
        ro.display()
    );
    let (code, err) = collect_with(&bin, &tmp, &text);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("output.dir") && err.contains("Read-only file system"),
        "{err}"
    );
    // The metrics port taken by someone else.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let text = format!(
        "{{\"output\": {{\"dir\": \"{logs}\"}}, \"status\": false,\n \"metrics\": {{\"listen\": \"127.0.0.1:{port}\"}},\n \"tools\": [{{\"tool\": \"execsnoop\"}}]}}"
    );
    let (code, err) = collect_with(&bin, &tmp, &text);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "c.json:2: metrics.listen 127.0.0.1:{port}: address in use"
        )),
        "{err}"
    );
    // A second collector on the same directory.
    let text = format!("{{\"output\": {{\"dir\": \"{logs}\"}}, \"status\": false, \"tools\": [{{\"tool\": \"execsnoop\"}}]}}");
    std::fs::write(c, &text).unwrap();
    let mut first = Command::new(&bin)
        .args(["collect", "--config", c])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("the first collector's lock", 10, || {
        log.join(".lock").exists()
    });
    std::thread::sleep(Duration::from_millis(500));
    let (code, err) = common::exit_and_stderr(&bin, &["collect", "--config", c]);
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(first.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
    let _ = first.wait();
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("another collector writes there"), "{err}");
}

/// `GET path` from `addr`: the body.
fn http_get(addr: &str, path: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut r = String::new();
    s.read_to_string(&mut r).unwrap();
    let (head, body) = r.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    body.to_string()
}

/// Where Debian's prometheus package put its binaries (ci/test unpacks it and says so in
/// $EBPF_PROMETHEUS_DIR), if anywhere.
fn prometheus_bin(name: &str) -> Option<PathBuf> {
    let dirs = [
        std::env::var("EBPF_PROMETHEUS_DIR")
            .ok()
            .map(|d| PathBuf::from(d).join("usr/bin")),
        Some(PathBuf::from("/usr/bin")),
    ];
    dirs.into_iter()
        .flatten()
        .map(|d| d.join(name))
        .find(|p| p.exists())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn metrics_pass_promtool_and_a_real_prometheus_scrapes_them() {
    let Some(bin) = agent_bin() else { return };
    let require = std::env::var("EBPF_AGENT_REQUIRE_HOST").is_ok_and(|v| v == "1");
    let (Some(promtool), Some(prometheus)) =
        (prometheus_bin("promtool"), prometheus_bin("prometheus"))
    else {
        assert!(
            !require,
            "no prometheus/promtool: ci/test unpacks Debian's prometheus package"
        );
        eprintln!("skipped: no prometheus");
        return;
    };
    let tmp = TempDir::new("metrics");
    let marker = common::marker("metrics");
    let mut w = workload(&marker);
    let pid = w.pid().to_string();
    let (config, status) = tmp.config(json!({
        "output": {"dir": tmp.path("log")},
        "metrics": {"listen": "127.0.0.1:0", "max_series": 500},
        "tools": [
            {"tool": "syscount", "args": ["-p", pid, "-i", "1", "-L"]},
            {"tool": "opensnoop", "args": ["-p", pid]},
        ]
    }));
    let c = Collector::start(&bin, &config, &status, 2);
    let addr = c.status().unwrap()["metrics"].as_str().unwrap().to_string();
    w.run("getppid");
    w.run("small");
    let want = "ebpf_syscount_count_total{tool=\"syscount\",syscall=\"getppid\"";
    let mut body = String::new();
    wait_for("getppid and the opens in /metrics", 20, || {
        body = http_get(&addr, "/metrics");
        body.lines()
            .any(|l| l.starts_with(want) && l.ends_with(" 1234"))
            && body.contains("ebpf_collect_events_total{tool=\"opensnoop\"} 200\n")
    });
    assert!(
        body.contains("ebpf_syscount_seconds_total{tool=\"syscount\",syscall=\"getppid\""),
        "{body}"
    );
    let mut check = Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    check
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = check.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}\n{body}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // A real Prometheus, on loopback, with its own config and data under the temp dir.
    let web = format!("127.0.0.1:{}", free_port());
    std::fs::write(
        tmp.path("prometheus.yml"),
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: ebpf\n    static_configs:\n      - targets: ['{addr}']\n"
        ),
    )
    .unwrap();
    struct Kill(Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _prom = Kill(
        Command::new(&prometheus)
            .arg(format!(
                "--config.file={}",
                tmp.path("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                tmp.path("data").display()
            ))
            .arg(format!("--web.listen-address={web}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(tmp.path("prometheus.log")).unwrap())
            .spawn()
            .unwrap(),
    );
    let query = |q: &str| -> Option<Value> {
        let enc: String = q
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b == b'_' {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        let mut s = TcpStream::connect(&web).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        write!(
            s,
            "GET /api/v1/query?query={enc} HTTP/1.1\r\nHost: {web}\r\nConnection: close\r\n\r\n"
        )
        .ok()?;
        let mut r = String::new();
        s.read_to_string(&mut r).ok()?;
        let body = r.split_once("\r\n\r\n")?.1;
        // Chunked or not: the JSON object is between the first '{' and the last '}'.
        let j = &body[body.find('{')?..=body.rfind('}')?];
        serde_json::from_str(j).ok()
    };
    let mut got = None;
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Some(v) = query("ebpf_syscount_count_total{syscall=\"getppid\"}") {
            if let Some(r) = v["data"]["result"].as_array().and_then(|a| a.first()) {
                got = Some(r.clone());
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let log = std::fs::read_to_string(tmp.path("prometheus.log")).unwrap_or_default();
    let got = got.unwrap_or_else(|| panic!("Prometheus never had the counter:\n{log}"));
    assert_eq!(got["value"][1], "1234", "{got}");
    assert_eq!(got["metric"]["job"], "ebpf");
    let up = query("up{job=\"ebpf\"}").unwrap();
    assert_eq!(up["data"]["result"][0]["value"][1], "1", "{up}");
    println!("Prometheus scraped {addr}: {got}");
    c.stop();
    w.finish();
}

/// With only the capabilities the systemd unit grants (CAP_BPF, CAP_PERFMON and
/// CAP_DAC_READ_SEARCH for tracefs), as an unprivileged user, the collector runs.
#[test]
fn runs_as_a_user_with_the_units_capabilities() {
    let Some(bin) = agent_bin() else { return };
    if Command::new("setpriv").arg("--help").output().is_err() {
        eprintln!("skipped: no setpriv (util-linux)");
        return;
    }
    let tmp = TempDir::new("caps");
    let log = tmp.path("log");
    std::fs::create_dir_all(&log).unwrap();
    let nobody = nix::unistd::Uid::from_raw(65534);
    let nogroup = nix::unistd::Gid::from_raw(65534);
    nix::unistd::chown(&log, Some(nobody), Some(nogroup)).unwrap();
    nix::unistd::chown(&tmp.0, Some(nobody), Some(nogroup)).unwrap();
    let (config, status) = tmp.config(json!({
        "output": {"dir": log, "flush_ms": 0},
        "tools": [{"tool": "execsnoop"}, {"tool": "syscount", "args": ["-i", "1"]}]
    }));
    let caps = "+bpf,+perfmon,+dac_read_search";
    let mut child = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(format!("--inh-caps={caps}"))
        .arg(format!("--ambient-caps={caps}"))
        .arg("--bounding-set=-all,+bpf,+perfmon,+dac_read_search")
        .arg(&bin)
        .args(["collect", "--config"])
        .arg(&config)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut ok = false;
    while Instant::now() < deadline {
        if let Some(st) = child.try_wait().unwrap() {
            let mut e = String::new();
            child.stderr.take().unwrap().read_to_string(&mut e).unwrap();
            panic!("collector as uid 65534 exited ({st}): {e}");
        }
        let s: Option<Value> = std::fs::read_to_string(&status)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok());
        if let Some(s) = s {
            if s["tools"]
                .as_array()
                .unwrap()
                .iter()
                .all(|t| t["state"] == "running")
            {
                ok = true;
                break;
            }
            assert!(
                !s["tools"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|t| t["state"] == "failed"),
                "a tool failed with the unit's capabilities: {s}"
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
    let st = child.wait().unwrap();
    assert!(ok, "tools did not all run with the unit's capabilities");
    assert!(st.success(), "exit {st}");
    let meta = std::fs::metadata(log.join("execsnoop.jsonl")).unwrap();
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&meta), 65534);
}

/// `agents/field/ebpf-field` of this repository.
fn field_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../field/ebpf-field")
}

/// Runs `ebpf-field ARGS`: (exit code, stdout, stderr).
fn field(args: &[&str]) -> (i32, String, String) {
    let out = Command::new("/usr/bin/python3")
        .arg(field_script())
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// An OpenSSH server on a loopback port of its own, with its own host key, config and
/// authorized key under a temp dir (the machine's ssh config is not touched).
struct Sshd {
    child: Child,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn keygen(path: &Path) {
    let st = Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "ebpf-field-test",
            "-f",
        ])
        .arg(path)
        .status()
        .unwrap();
    assert!(st.success(), "ssh-keygen");
}

/// Starts sshd and writes an ssh client config with hosts `names` (all this server) and
/// `dead` (a closed port); returns the server and the client config's path.
fn start_sshd(tmp: &TempDir, names: &[&str]) -> (Sshd, PathBuf) {
    keygen(&tmp.path("hostkey"));
    keygen(&tmp.path("id"));
    std::fs::copy(tmp.path("id.pub"), tmp.path("authorized_keys")).unwrap();
    let port = free_port();
    std::fs::write(
        tmp.path("sshd_config"),
        format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nAuthorizedKeysFile {}\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\n\
             PermitRootLogin prohibit-password\nUsePAM no\nStrictModes no\nPidFile {}\nLogLevel ERROR\n",
            tmp.path("hostkey").display(),
            tmp.path("authorized_keys").display(),
            tmp.path("sshd.pid").display()
        ),
    )
    .unwrap();
    // sshd's privilege separation directory (what its package's service creates at start).
    std::fs::create_dir_all("/run/sshd").unwrap();
    let child = Command::new("/usr/sbin/sshd")
        .args(["-D", "-e", "-f"])
        .arg(tmp.path("sshd_config"))
        .stderr(std::fs::File::create(tmp.path("sshd.log")).unwrap())
        .spawn()
        .unwrap();
    let sshd = Sshd { child };
    wait_for("sshd to listen", 20, || {
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    let pubkey = std::fs::read_to_string(tmp.path("hostkey.pub")).unwrap();
    let mut kh = pubkey
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    kh = format!("[127.0.0.1]:{port} {kh}\n");
    std::fs::write(tmp.path("known_hosts"), kh).unwrap();
    let dead = free_port();
    let mut cfg = String::new();
    for (n, p) in names.iter().map(|n| (*n, port)).chain([("dead", dead)]) {
        cfg += &format!(
            "Host {n}\n  HostName 127.0.0.1\n  Port {p}\n  User root\n  IdentityFile {}\n  \
             IdentitiesOnly yes\n  UserKnownHostsFile {}\n  StrictHostKeyChecking yes\n  LogLevel ERROR\n",
            tmp.path("id").display(),
            tmp.path("known_hosts").display()
        );
    }
    std::fs::write(tmp.path("ssh_config"), cfg).unwrap();
    (sshd, tmp.path("ssh_config"))
}

/// The lines of a pulled set in the workstation's store.
fn stored(store: &Path, dev: &str, set: &str) -> Vec<Value> {
    std::fs::read_to_string(store.join(dev).join(format!("{set}.jsonl")))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Is there an OpenSSH server to start? (ci/test installs one: there, none is a failure.)
fn have_sshd() -> bool {
    let require = std::env::var("EBPF_AGENT_REQUIRE_HOST").is_ok_and(|v| v == "1");
    if !Path::new("/usr/sbin/sshd").exists() {
        assert!(
            !require,
            "no /usr/sbin/sshd: ci/test installs openssh-server"
        );
        eprintln!("skipped: no sshd");
        return false;
    }
    true
}

#[test]
fn field_script_pulls_two_devices_over_ssh_across_a_rotation() {
    let Some(bin) = agent_bin() else { return };
    if !have_sshd() {
        return;
    }
    let tmp = TempDir::new("field");
    let (_sshd, ssh_config) = start_sshd(&tmp, &["dev1", "dev2", "gappy"]);
    let marker = common::marker("field");
    let mut w = workload(&marker);
    let pid = w.pid().to_string();
    let dev = |n: &str| tmp.path(n);
    // Two devices: two collectors, each with its own directory.
    let tools = [
        json!([{"tool": "opensnoop", "args": ["-p", pid]}]),
        json!([{"tool": "statsnoop", "args": ["-p", pid]}, {"tool": "execsnoop"}]),
    ];
    let mut collectors = Vec::new();
    let mut hosts = String::new();
    for (i, t) in tools.iter().enumerate() {
        let d = dev(&format!("dev{}", i + 1));
        std::fs::create_dir_all(&d).unwrap();
        write_config(
            &d.join("collect.json"),
            &json!({
                "output": {"dir": d.join("log"), "max_bytes": 65536, "max_files": 100,
                           "gzip": i == 0, "flush_ms": 100},
                "status": {"path": d.join("status.json"), "interval_ms": 200},
                "tools": t,
            }),
        );
        collectors.push(Collector::start(
            &bin,
            &d.join("collect.json"),
            &d.join("status.json"),
            t.as_array().unwrap().len(),
        ));
        hosts += &format!(
            "dev{n} dev{n} dir={} status={} verify={}\n",
            d.join("log").display(),
            d.join("status.json").display(),
            d.join("verify.json").display(),
            n = i + 1
        );
    }
    hosts += "dead dead  # answers nobody\n";
    std::fs::write(tmp.path("hosts"), &hosts).unwrap();
    // dev1's first-boot report, made the way boards make it.
    let v = Command::new(&bin)
        .args(["verify", "--json", "--tools", "execsnoop"])
        .output()
        .unwrap();
    std::fs::write(dev("dev1").join("verify.json"), &v.stdout).unwrap();

    let store = tmp.path("store");
    let (s, h, c) = (
        store.to_str().unwrap(),
        tmp.path("hosts"),
        ssh_config.to_str().unwrap(),
    );
    let pull = || {
        field(&[
            "pull",
            "--store",
            s,
            "--hosts",
            h.to_str().unwrap(),
            "--ssh-config",
            c,
        ])
    };
    w.run("a");
    wait_for("phase a on the devices", 20, || {
        count_phase(
            &peek_set(&dev("dev1").join("log"), "opensnoop"),
            "open",
            "path",
            &marker,
            "a",
        ) == 2000
            && count_phase(
                &peek_set(&dev("dev2").join("log"), "statsnoop"),
                "stat",
                "path",
                &marker,
                "a",
            ) == 2000
    });
    let (code, out, err) = pull();
    assert_eq!(
        code, 1,
        "the dead device fails the pull, the others are pulled: {out}{err}"
    );
    assert!(err.contains("dead: FAILED: ssh dead"), "{err}");
    assert!(out.contains("dev1: ") && out.contains("dev2: "), "{out}");
    let rotations = |d: &str| -> u64 {
        let s: Value =
            serde_json::from_str(&std::fs::read_to_string(dev(d).join("status.json")).unwrap())
                .unwrap();
        s["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["rotations"].as_u64().unwrap())
            .sum()
    };
    let before = (rotations("dev1"), rotations("dev2"));
    // More lines: both devices rotate between the two pulls.
    w.run("b");
    wait_for("phase b on the devices", 20, || {
        count_phase(
            &peek_set(&dev("dev1").join("log"), "opensnoop"),
            "open",
            "path",
            &marker,
            "b",
        ) == 2000
            && count_phase(
                &peek_set(&dev("dev2").join("log"), "statsnoop"),
                "stat",
                "path",
                &marker,
                "b",
            ) == 2000
    });
    wait_for("a status file update", 5, || {
        (rotations("dev1"), rotations("dev2")) > before
    });
    assert!(
        rotations("dev1") > before.0 && rotations("dev2") > before.1,
        "both rotated"
    );
    let (code, out, err) = pull();
    assert_eq!(code, 1, "{out}{err}");
    for c in collectors {
        c.stop();
    }
    let (_, out, err) = pull();
    assert!(!err.contains("GAP"), "{err}");
    println!("last pull: {out}");
    w.finish();

    // What the workstation merged is what the devices wrote, line for line.
    for (d, sets) in [
        ("dev1", &["opensnoop"][..]),
        ("dev2", &["statsnoop", "execsnoop"][..]),
    ] {
        for set in sets {
            let written = set_lines(&dev(d).join("log"), set);
            let pulled = stored(&store, d, set);
            assert_eq!(pulled.len(), written.len(), "{d}/{set}: lines pulled");
            assert!(
                pulled == written,
                "{d}/{set}: the merged lines differ from what was written"
            );
            println!(
                "{d}/{set}: {} lines pulled over three pulls, equal to what was written",
                pulled.len()
            );
        }
    }
    // A fourth pull finds nothing new.
    let h = h.to_str().unwrap();
    let (code, out, _) = field(&[
        "pull",
        "--store",
        s,
        "--hosts",
        h,
        "--ssh-config",
        c,
        "dev1",
        "dev2",
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("dev1: 0 new lines") && out.contains("dev2: 0 new lines"),
        "{out}"
    );

    let (code, out, err) = field(&["summary", "--store", s]);
    assert_eq!(code, 0, "{err}");
    println!("{out}");
    let row = |n: &str| {
        out.lines()
            .find(|l| l.starts_with(&format!("{n} ")))
            .unwrap_or_else(|| panic!("{out}"))
            .to_string()
    };
    let kernel = nix::sys::utsname::uname()
        .unwrap()
        .release()
        .to_string_lossy()
        .into_owned();
    assert!(row("dev1").contains(&kernel), "{out}");
    let verdict = if v.status.success() {
        " pass "
    } else {
        " FAIL "
    };
    assert!(row("dev1").contains(verdict), "{out}");
    assert!(row("dev2").contains(" none "), "{out}");
    assert!(row("dead").contains("last pull failed"), "{out}");
    let (_, json_rows, _) = field(&["summary", "--json", "--store", s]);
    let rows: Value = serde_json::from_str(&json_rows).unwrap();
    let dev2 = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["device"] == "dev2")
        .unwrap();
    let written: usize = ["statsnoop", "execsnoop"]
        .iter()
        .map(|set| set_lines(&dev("dev2").join("log"), set).len())
        .sum();
    assert_eq!(dev2["events"].as_u64().unwrap() as usize, written, "{dev2}");
    assert_eq!(dev2["tools"], "execsnoop,statsnoop");
    let (_, out, _) = field(&["verify-report", "--store", s]);
    assert!(
        out.contains("dev1: PASS") || out.contains("dev1: FAIL"),
        "{out}"
    );
    assert!(out.contains("execsnoop"), "{out}");
    assert!(out.contains("dev2: no verification report"), "{out}");

    // A device whose files lost lines before they were pulled: the gap is reported (exit 3),
    // and folded stacks among its lines make a flame graph.
    let g = dev("gappy").join("log");
    std::fs::create_dir_all(&g).unwrap();
    let line = |seq: u64, stack: &str, n: u64| {
        format!("{{\"seq\":{seq},\"tool\":\"profile\",\"type\":\"stack\",\"folded\":\"{stack}\",\"count\":{n}}}\n")
    };
    std::fs::write(
        g.join("profile-20261201T120000Z-000000000001.jsonl"),
        line(1, "app;main;work", 5) + &line(2, "app;main;idle", 3),
    )
    .unwrap();
    std::fs::write(g.join("profile.jsonl"), line(5, "app;main;work;<x&y>", 2)).unwrap();
    std::fs::write(
        tmp.path("hosts2"),
        format!("gappy gappy dir={}\n", g.display()),
    )
    .unwrap();
    let (code, _, err) = field(&[
        "pull",
        "--store",
        s,
        "--ssh-config",
        c,
        "--hosts",
        tmp.path("hosts2").to_str().unwrap(),
    ]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("gappy: GAP in profile: seq 3..4 missing"),
        "{err}"
    );
    let svg = tmp.path("flame.svg");
    let (code, out, err) = field(&[
        "flamegraph",
        "--store",
        s,
        "--device",
        "gappy",
        "-o",
        svg.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("10 samples, 3 stacks"), "{out}");
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(
        text.starts_with("<?xml") && text.contains("<svg") && text.trim_end().ends_with("</svg>")
    );
    assert!(
        text.contains("work (7 samples, 70.00%)") && text.contains("&lt;x&amp;y&gt;"),
        "{text}"
    );
    // Folded text files work too.
    std::fs::write(tmp.path("f.folded"), "a;b 3\na;c 1\n").unwrap();
    let (code, out, _) = field(&[
        "flamegraph",
        "-o",
        "-",
        tmp.path("f.folded").to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    assert!(out.contains("b (3 samples, 75.00%)"), "{out}");
}

/// Pulls while the device's files rotate under its scripts every 20 lines (far more often
/// than a collector rotates) and its status file is replaced all the while: a name read twice
/// may then be two files, so the scripts read each file through one descriptor. Every pull
/// succeeds, and the store ends with every line once, in order, none missing.
#[test]
fn field_script_pulls_exactly_while_files_rotate_under_it() {
    if !have_sshd() {
        return;
    }
    let tmp = TempDir::new("field-rot");
    let (_sshd, ssh_config) = start_sshd(&tmp, &["dev"]);
    let (log, status) = (tmp.path("log"), tmp.path("status.json"));
    std::fs::create_dir_all(&log).unwrap();
    std::fs::write(
        tmp.path("hosts"),
        format!(
            "dev dev dir={} status={} verify={}\n",
            log.display(),
            status.display(),
            tmp.path("verify.json").display()
        ),
    )
    .unwrap();
    // A writer that lays files out as the collector does (docs/collect.md): FILES files of
    // 20 lines, one line every 2 ms, each compressed once rotated, and on until three pulls
    // have ended.
    const FILES: u64 = 200;
    let pulls = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let writer = {
        let (log, status, pulls) = (log.clone(), status.clone(), pulls.clone());
        std::thread::spawn(move || {
            let mut seq = 0u64;
            while seq < FILES * 20 || pulls.load(std::sync::atomic::Ordering::Relaxed) < 3 {
                let first = seq + 1;
                let current = log.join("execsnoop.jsonl");
                let mut f = std::fs::File::create(&current).unwrap();
                for _ in 0..20 {
                    seq += 1;
                    writeln!(
                        f,
                        r#"{{"seq":{seq},"tool":"execsnoop","type":"exec","pad":"{}"}}"#,
                        "x".repeat((seq % 50) as usize)
                    )
                    .unwrap();
                    std::thread::sleep(Duration::from_millis(2));
                }
                let rotated = log.join(format!("execsnoop-20261202T000000Z-{first:012}.jsonl"));
                std::fs::rename(&current, &rotated).unwrap();
                // Then compressed: NAME.gz.tmp, renamed to NAME.gz, NAME deleted.
                let gz = rotated.with_extension("jsonl.gz");
                let gz_tmp = rotated.with_extension("jsonl.gz.tmp");
                let z = Command::new("gzip")
                    .arg("-c")
                    .arg(&rotated)
                    .output()
                    .unwrap();
                assert!(z.status.success(), "gzip: {z:?}");
                std::fs::write(&gz_tmp, z.stdout).unwrap();
                std::fs::rename(&gz_tmp, &gz).unwrap();
                std::fs::remove_file(&rotated).unwrap();
                let st = status.with_extension("tmp");
                std::fs::write(
                    &st,
                    format!(
                        "{{\"lines\":{seq},\"pad\":\"{}\"}}\n",
                        "y".repeat((seq % 97) as usize)
                    ),
                )
                .unwrap();
                std::fs::rename(&st, &status).unwrap();
            }
            seq
        })
    };
    let store = tmp.path("store");
    let pull = || {
        field(&[
            "pull",
            "--store",
            store.to_str().unwrap(),
            "--hosts",
            tmp.path("hosts").to_str().unwrap(),
            "--ssh-config",
            ssh_config.to_str().unwrap(),
        ])
    };
    while !writer.is_finished() {
        let (code, out, err) = pull();
        let n = pulls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        assert_eq!(code, 0, "pull {n} while rotating: {out}{err}");
    }
    let total = writer.join().unwrap();
    let (code, out, err) = pull();
    assert_eq!(code, 0, "the last pull: {out}{err}");
    let pulled = std::fs::read_to_string(store.join("dev").join("execsnoop.jsonl")).unwrap();
    let seqs: Vec<u64> = pulled
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["seq"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(
        seqs,
        (1..=total).collect::<Vec<_>>(),
        "every line once, in order"
    );
}

/// agents/dist/S96ebpf-collect, the BusyBox init script, run by `sh` with its paths pointed at
/// a temp dir: start, a collector killed and started again by its supervisor (with seq going
/// on), reload, status, stop, and a config error that is refused.
#[test]
fn the_init_script_supervises_the_collector() {
    let Some(bin) = agent_bin() else { return };
    let tmp = TempDir::new("init");
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../agents/dist/S96ebpf-collect");
    let (log, run) = (tmp.path("log"), tmp.path("run"));
    let status = run.join("status.json");
    let config = tmp.path("collect.json");
    write_config(
        &config,
        &json!({"output": {"dir": log, "flush_ms": 0},
                "status": {"path": status, "interval_ms": 200},
                "tools": [{"tool": "execsnoop"}]}),
    );
    let init = |action: &str| {
        let out = Command::new("sh")
            .arg(&script)
            .arg(action)
            .env("EBPF_AGENT", &bin)
            .env("EBPF_COLLECT_CONFIG", &config)
            .env("EBPF_COLLECT_LOGDIR", &log)
            .env("EBPF_COLLECT_RUNDIR", &run)
            .env("EBPF_COLLECT_RESTART_DELAY", "1")
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let running = || -> Option<i32> {
        let s: Value = serde_json::from_str(&std::fs::read_to_string(&status).ok()?).ok()?;
        (s["state"] == "running" && s["tools"][0]["state"] == "running")
            .then(|| s["pid"].as_i64().unwrap() as i32)
    };
    let exec_marker = |tag: &str| {
        let m = common::marker(tag);
        assert!(Command::new("/bin/true")
            .arg(&m)
            .status()
            .unwrap()
            .success());
        m
    };
    let (code, out) = init("start");
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("Starting ebpf-collect: OK"), "{out}");
    wait_for("the collector", 30, || running().is_some());
    let first = running().unwrap();
    let m1 = exec_marker("init1");
    wait_for("the first exec", 10, || {
        !marker_counts(&peek_set(&log, "execsnoop"), "exec", "args", &m1).is_empty()
    });
    // Killed: its supervisor starts it again.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(first),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    wait_for("a new collector", 30, || {
        running().is_some_and(|p| p != first)
    });
    let second = running().unwrap();
    let (code, out) = init("status");
    assert_eq!(code, Some(0));
    assert!(out.contains(&format!("running (pid {second})")), "{out}");
    let (code, _) = init("reload");
    assert_eq!(code, Some(0));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        running(),
        Some(second),
        "SIGHUP reopens, it does not end the collector"
    );
    let m2 = exec_marker("init2");
    wait_for("the second exec", 10, || {
        !marker_counts(&peek_set(&log, "execsnoop"), "exec", "args", &m2).is_empty()
    });
    let t0 = Instant::now();
    let (code, out) = init("stop");
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("Stopping ebpf-collect: OK"), "{out}");
    println!("init script stop: {} ms", t0.elapsed().as_millis());
    assert!(
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(second), None).is_err(),
        "the collector is gone"
    );
    let (code, out) = init("status");
    assert_eq!(code, Some(3), "{out}");
    let lines = set_lines(&log, "execsnoop");
    for m in [&m1, &m2] {
        assert_eq!(marker_counts(&lines, "exec", "args", m).len(), 1, "{m}");
    }
    // A config the collector refuses: not started, the reason said.
    std::fs::write(&config, "{\"tools\": [{\"tool\": \"nosuch\"}]}").unwrap();
    let (code, out) = init("start");
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("is not valid") && out.contains("unknown tool"),
        "{out}"
    );
}

/// The example config the images install passes `collect --check`.
#[test]
fn the_example_config_is_valid() {
    let Some(bin) = agent_bin() else { return };
    let example =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../agents/dist/collect.example.json");
    let out = common::run_to_end(
        &bin,
        &["collect", "--check", "--config", example.to_str().unwrap()],
    );
    assert!(
        out.contains("OK: 3 tool(s) (execsnoop, exitsnoop, syscount)"),
        "{out}"
    );
}
