//! filetop against the host kernel, through the real static binary. This kernel has no
//! kprobes: filetop runs on its syscall tracepoints here (the VM cases cover the kprobes).

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{agent_bin, check_schema, marker, start, Phases, Running, Ty, LOST_REQUIRED};
use serde_json::{json, Value};

/// docs/tools/filetop.md.
const INTERVAL_REQUIRED: &[(&str, Ty)] = event_schema![
    interval_ns: Uint, rows: ObjArray, total_rows: Uint
];
const ROW_REQUIRED: &[(&str, Ty)] = schema![
    pid: Uint, tid: Uint, comm: Str, file: Str, ino: Uint, file_type: Str, reads: Uint,
    writes: Uint, read_bytes: Uint, write_bytes: Uint
];
const ROW_OPTIONAL: &[(&str, Ty)] = schema![comm_hex: Str, file_hex: Str];

#[test]
fn schema_is_the_documented_one() {
    common::assert_documented("tools/filetop.md", "JSON", INTERVAL_REQUIRED, &[]);
    common::assert_documented("tools/filetop.md", "Rows", ROW_REQUIRED, ROW_OPTIONAL);
    common::assert_documented("json.md", "Lost events", LOST_REQUIRED, &[]);
}

/// Checks every line against the schema; returns the interval objects.
fn intervals(out: &str) -> Vec<Value> {
    common::interval_objects(out, INTERVAL_REQUIRED, |_, r| {
        check_schema(r, ROW_REQUIRED, ROW_OPTIONAL)
    })
}

/// Files with odd names (a space, a newline, bytes that are not UTF-8, a 4,000-byte path), each
/// written 3 x 1000 bytes and read back in one read plus the read at its end; one file through
/// pwrite/writev/pread/readv; a pipe. `setup` makes the files and prints their inode numbers.
const WORKLOAD: &str = r#"
base = sys.argv[1].encode()
names = [b"with space", b"new\nline", b"bad\xff\xfename"]
deep = base
while len(deep) < 3700:
    deep = os.path.join(deep, b"d" * 200)
deep_file = os.path.join(deep, b"deep-" + b"x" * (4000 - len(deep) - 6))
paths = [os.path.join(base, n) for n in names] + [deep_file]
vec = os.path.join(base, b"vectored")

def phase_setup():
    os.makedirs(deep)
    for p in paths + [vec]:
        os.close(os.open(p, os.O_CREAT | os.O_WRONLY, 0o644))
    return " ".join(str(os.stat(p).st_ino) for p in paths + [vec]) + " " + str(len(deep_file))

def phase_io():
    for p in paths:
        fd = os.open(p, os.O_RDWR)
        for _ in range(3):
            os.write(fd, b"x" * 1000)
        os.lseek(fd, 0, 0)
        assert len(os.read(fd, 4096)) == 3000 and os.read(fd, 4096) == b""
        os.close(fd)
    fd = os.open(vec, os.O_RDWR)
    os.pwrite(fd, b"y" * 100, 0)
    os.writev(fd, [b"a" * 10, b"b" * 20])
    assert len(os.pread(fd, 50, 0)) == 50
    assert os.readv(fd, [bytearray(1000)]) == 70
    os.close(fd)
    r, w = os.pipe()
    os.write(w, b"12345")
    os.read(r, 100)
    os.close(r)
    os.close(w)
"#;

/// A workload in its own directory, set up before the tool starts.
struct Files {
    w: Phases,
    dir: std::path::PathBuf,
    inodes: Vec<u64>,
}

impl Files {
    fn new() -> Files {
        let dir = std::env::temp_dir().join(marker("filetop"));
        std::fs::create_dir_all(&dir).unwrap();
        let script = WORKLOAD.replace("sys.argv[1]", &format!("{:?}", dir.to_str().unwrap()));
        let mut w = Phases::spawn(&script);
        let answer = w.run("setup");
        let mut nums: Vec<u64> = answer.split(' ').map(|n| n.parse().unwrap()).collect();
        assert_eq!(
            nums.pop(),
            Some(4000),
            "the deep file's path is 4,000 bytes"
        );
        Files {
            w,
            dir,
            inodes: nums,
        }
    }

    fn finish(self) {
        self.w.finish();
        std::fs::remove_dir_all(&self.dir).unwrap();
    }
}

/// Rows of all intervals for one pid, by file name (exact bytes) and inode, counters summed.
type Rows = BTreeMap<(Vec<u8>, u64), Value>;

fn rows_of(ivs: &[Value], pid: u32) -> Rows {
    let mut m = Rows::new();
    for iv in ivs {
        for r in iv["rows"].as_array().unwrap() {
            assert_eq!(r["pid"], pid, "only the traced process: {r}");
            assert_eq!(r["tid"], pid, "its only thread");
            let name = match r.get("file_hex") {
                Some(h) => common::unhex(h.as_str().unwrap()),
                None => r["file"].as_str().unwrap().as_bytes().to_vec(),
            };
            let e = m
                .entry((name, r["ino"].as_u64().unwrap()))
                .or_insert_with(|| {
                    let mut z = r.clone();
                    for k in ["reads", "writes", "read_bytes", "write_bytes"] {
                        z[k] = json!(0);
                    }
                    z
                });
            for k in ["reads", "writes", "read_bytes", "write_bytes"] {
                e[k] = json!(e[k].as_u64().unwrap() + r[k].as_u64().unwrap());
            }
        }
    }
    m
}

/// The one row of the file named `name`.
fn one<'a>(rows: &'a Rows, name: &[u8]) -> &'a Value {
    let hits: Vec<&Value> = rows
        .iter()
        .filter(|((n, _), _)| n == name)
        .map(|(_, v)| v)
        .collect();
    assert_eq!(
        hits.len(),
        1,
        "rows of {:?}: {hits:?}",
        String::from_utf8_lossy(name)
    );
    hits[0]
}

/// Starts filetop on the process `pid`, with room for every row the map can hold, and `flags`.
fn start_on(bin: &Path, pid: u32, flags: &[&str]) -> Running {
    let mut cmd = Command::new(bin);
    cmd.args([
        "filetop",
        "--json",
        "-v",
        "-r",
        "10240",
        "-p",
        &pid.to_string(),
    ])
    .args(flags);
    start(cmd)
}

/// Runs filetop with `flags` on a fresh workload; returns the summed rows and the log.
fn run_on_workload(flags: &[&str]) -> (Rows, Vec<u64>, Vec<String>) {
    let bin = agent_bin().unwrap();
    let mut f = Files::new();
    let pid = f.w.pid();
    let agent = start_on(&bin, pid, flags);
    f.w.run("io");
    std::thread::sleep(Duration::from_millis(200));
    let (out, err) = agent.stop();
    let rows = rows_of(&intervals(&out), pid);
    let inodes = f.inodes.clone();
    f.finish();
    (rows, inodes, err)
}

fn counts(r: &Value) -> [u64; 4] {
    ["reads", "writes", "read_bytes", "write_bytes"].map(|k| r[k].as_u64().unwrap())
}

#[test]
fn exact_counts_per_file_with_odd_names_on_tracepoints() {
    if agent_bin().is_none() {
        return;
    }
    let (rows, inodes, err) = run_on_workload(&["--hook", "tracepoint"]);
    assert!(
        err.iter()
            .any(|l| l.contains("tracing: syscall tracepoints of read, pread64, readv")),
        "-v names the hooks: {err:?}"
    );
    let deep_name = {
        let mut n = b"deep-".to_vec();
        let name_len = rows
            .keys()
            .map(|(n, _)| n)
            .find(|n| n.starts_with(b"deep-"))
            .expect("the file at the end of a 4,000-byte path")
            .len();
        n.resize(name_len, b'x');
        n
    };
    let expect: [(&[u8], u64); 4] = [
        (b"with space", inodes[0]),
        (b"new\nline", inodes[1]),
        (b"bad\xff\xfename", inodes[2]),
        (&deep_name, inodes[3]),
    ];
    for (name, ino) in expect {
        let r = one(&rows, name);
        assert_eq!(counts(r), [2, 3, 3000, 3000], "{r}");
        assert_eq!(
            (&r["ino"], &r["file_type"]),
            (&json!(ino), &json!("regular"))
        );
        assert_eq!(r["comm"], "python3");
    }
    assert_eq!(
        one(&rows, b"bad\xff\xfename")["file"],
        "bad\u{fffd}\u{fffd}name"
    );
    // pwrite64 + writev, pread64 + readv.
    assert_eq!(counts(one(&rows, b"vectored")), [2, 2, 120, 130]);
    assert_eq!(one(&rows, b"vectored")["ino"], inodes[4]);
    // No pipe without -a, and nothing else: the workload only touched these files.
    assert_eq!(rows.len(), 5, "{:?}", rows.keys().collect::<Vec<_>>());
}

#[test]
fn all_files_include_the_pipe_and_auto_picks_tracepoints_here() {
    if agent_bin().is_none() {
        return;
    }
    let (rows, _, err) = run_on_workload(&["-a"]);
    if !std::path::Path::new("/sys/kernel/tracing/kprobe_events").exists() {
        assert!(
            err.iter()
                .any(|l| l.contains("tracing: syscall tracepoints")),
            "{err:?}"
        );
    }
    let others: Vec<&Value> = rows
        .values()
        .filter(|r| r["file_type"] == "other")
        .collect();
    // The workload's pipe (its stdin and stdout are pipes too, with other counts).
    let pipe: Vec<&&Value> = others
        .iter()
        .filter(|r| counts(r) == [1, 1, 5, 5])
        .collect();
    assert_eq!(pipe.len(), 1, "the pipe, written and read once: {others:?}");
    assert_eq!(counts(one(&rows, b"with space")), [2, 3, 3000, 3000]);
}

#[test]
fn text_mode_count_ends_the_run() {
    let Some(bin) = agent_bin() else { return };
    let mut f = Files::new();
    let agent = common::start_tool(
        &bin,
        &[
            "filetop",
            "-v",
            "-C",
            "-s",
            "wbytes",
            "-p",
            &f.w.pid().to_string(),
            "1",
            "2",
        ],
    );
    f.w.run("io");
    // The count (2 reports) ends it; stop() then finds it already exited, successfully.
    std::thread::sleep(Duration::from_millis(2500));
    let (out, _) = agent.stop();
    f.finish();
    let reports: Vec<&str> = out.split(" loadavg: ").skip(1).collect();
    assert_eq!(reports.len(), 2, "{out}");
    let mut lines = out.lines();
    assert!(lines.next().unwrap().contains(" loadavg: "));
    assert_eq!(lines.next(), Some(""));
    assert_eq!(
        lines.next(),
        Some("TID     COMM             READS  WRITES R_Kb    W_Kb    T FILE")
    );
    let rows: Vec<Vec<&str>> = out
        .lines()
        .filter(|l| l.ends_with(" R with space") || l.ends_with(" R new\\nline"))
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert!(!rows.is_empty(), "{out}");
    let (mut reads, mut writes) = (0, 0);
    for r in &rows {
        assert_eq!(r[1], "python3");
        reads += r[2].parse::<u64>().unwrap();
        writes += r[3].parse::<u64>().unwrap();
    }
    assert_eq!((reads, writes), (4, 6), "{out}");
    assert!(out.contains(" R bad\\xff\\xfename\n"), "{out}");
}

#[test]
fn a_pid_that_does_not_exist_and_bad_flags() {
    let Some(bin) = agent_bin() else { return };
    let out = Command::new(&bin)
        .args([
            "filetop",
            "--json",
            "-p",
            &common::gone_pid(),
            "--duration",
            "1.5",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ivs = intervals(&String::from_utf8(out.stdout).unwrap());
    assert_eq!(ivs.len(), 2, "reports at 1 s and at the end: {ivs:?}");
    assert!(ivs.iter().all(|iv| iv["rows"] == json!([])));

    common::assert_usage_errors(
        &bin,
        "filetop",
        &[
            (&["-s", "size"][..], "-s"),
            (&["-r", "0"], "--rows"),
            (&["--hook", "fentry"], "--hook"),
            (&["--bogus"], "--bogus"),
            (&["1", "0"], "count"),
        ],
    );
    if !std::path::Path::new("/sys/kernel/tracing/kprobe_events").exists() {
        let (code, err) = common::exit_and_stderr(&bin, &["filetop", "--hook", "kprobe"]);
        assert_eq!(code, Some(3), "{err}");
        assert!(
            err.contains("CONFIG_KPROBES") && err.contains("--hook tracepoint"),
            "{err}"
        );
    }
    common::assert_needs_privileges(&bin, "filetop", &["--duration", "1"]);
}

/// More files than the map has rows (10,240) in one interval: every write that found no row is
/// counted and reported as lost, in JSON and on stderr, and the rows that fit are all there.
#[test]
fn a_full_map_reports_exactly_what_was_lost() {
    let Some(bin) = agent_bin() else { return };
    let dir = std::env::temp_dir().join(marker("filetop-full"));
    std::fs::create_dir_all(&dir).unwrap();
    let script = format!(
        "base = {:?}\ndef phase_many():\n    for i in range(11000):\n        \
         fd = os.open(os.path.join(base, str(i)), os.O_CREAT | os.O_WRONLY, 0o644)\n        \
         os.write(fd, b'x')\n        os.close(fd)\n",
        dir.to_str().unwrap()
    );
    let mut w = Phases::spawn(&script);
    let agent = start_on(&bin, w.pid(), &["60"]);
    w.run("many");
    let (out, err) = agent.stop();
    w.finish();
    std::fs::remove_dir_all(&dir).unwrap();
    let ivs = intervals(&out);
    assert_eq!(ivs.len(), 1, "one report, at SIGINT");
    assert_eq!(ivs[0]["total_rows"], 10240);
    let writes: u64 = ivs[0]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["writes"].as_u64().unwrap())
        .sum();
    assert_eq!(writes, 10240, "one write per row that fit");
    let lost: Vec<Value> = common::json_lines(&out)
        .into_iter()
        .filter(|e| e["type"] == "lost")
        .collect();
    assert_eq!(lost.len(), 1, "{lost:?}");
    assert_eq!(
        (lost[0]["lost"].as_u64(), lost[0]["lost_total"].as_u64()),
        (Some(760), Some(760))
    );
    assert!(
        err.iter()
            .any(|l| l.contains("760 events lost (a full map")),
        "{err:?}"
    );
}
