//! `ebpf-agent run` against the host kernel, through the real static binary: the shipped
//! examples (target/dist/<triple>/examples, beside the binary) with marker workloads and exact
//! assertions, programs of its own (tests/run/*.bpf.c, compiled here as docs/run.md says) for
//! what the examples do not show, verifier rejections and files that are no BPF object.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use common::{agent_bin, check_schema, json_lines, marker, start, Phases, Ty, LOST_REQUIRED};
use serde_json::Value;

/// docs/run.md: the lines run prints with --json.
const EVENT: &[(&str, Ty)] = event_schema![ring: Str];
const EVENT_RAW: &[(&str, Ty)] = schema![size: Uint, data_hex: Str];
const PRINTK: &[(&str, Ty)] = event_schema![pid: Uint, comm: Str, cpu: Uint, msg: Str];
const PRINTK_OPTIONAL: &[(&str, Ty)] = schema![msg_hex: Str];
const INTERVAL: &[(&str, Ty)] = event_schema![interval_ns: Uint, maps: Obj];

#[test]
fn schema_is_the_documented_one() {
    common::assert_documented("run.md", "JSON: records", EVENT, EVENT_RAW);
    common::assert_documented("run.md", "JSON: bpf_printk lines", PRINTK, PRINTK_OPTIONAL);
    common::assert_documented("run.md", "JSON: maps", INTERVAL, &[]);
}

/// The examples shipped with the binary under test.
fn examples(bin: &Path) -> PathBuf {
    let dir = bin.parent().unwrap().join("examples");
    assert!(
        dir.join("hello.bpf.o").exists(),
        "no examples beside {} (ci/build makes them)",
        bin.display()
    );
    dir
}

fn example(bin: &Path, name: &str) -> String {
    examples(bin)
        .join(format!("{name}.bpf.o"))
        .display()
        .to_string()
}

fn scratch() -> PathBuf {
    common::scratch_dir("run")
}

/// Compiles tests/run/<name>.bpf.c (or examples/<name>.bpf.c) as docs/run.md tells a user to,
/// with `extra` flags; returns the object.
fn compile(name: &str, extra: &[&str]) -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let examples = manifest.join("../../examples");
    let mut src = manifest.join(format!("tests/run/{name}.bpf.c"));
    if !src.exists() {
        src = examples.join(format!("{name}.bpf.c"));
    }
    let out = scratch().join(format!("{name}.bpf.o"));
    let arch = match std::env::consts::ARCH {
        "x86_64" => "x86",
        "aarch64" => "arm64",
        a => a,
    };
    let mut cmd = Command::new(std::env::var("BPF_CLANG").unwrap_or_else(|_| "clang".into()));
    cmd.args([
        "-target",
        "bpf",
        &format!("-D__TARGET_ARCH_{arch}"),
        "-O2",
        "-Wall",
    ])
    .args(extra)
    .arg("-I")
    .arg(&examples)
    .arg("-I")
    .arg(env!("EBPF_AGENT_LIBBPF_INCLUDE"))
    .arg("-c")
    .arg(&src)
    .arg("-o")
    .arg(&out);
    let st = cmd.status().expect("clang");
    assert!(st.success(), "{cmd:?}");
    out
}

fn run_cmd(bin: &Path, obj: &str, args: &[&str]) -> Command {
    let mut c = Command::new(bin);
    c.arg("run").arg(obj).arg("-v").args(args);
    c
}

/// A run that must fail: its exit code and stderr.
fn fails(bin: &Path, obj: &str, args: &[&str]) -> (i32, String) {
    let out: Output = Command::new(bin)
        .arg("run")
        .arg(obj)
        .args(args)
        .args(["--duration", "2"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{obj} {args:?} ran: {err}");
    (out.status.code().unwrap_or(-1), err)
}

/// The lines of one type, each checked against the documented schema.
fn lines_of(out: &str, ty: &str) -> Vec<Value> {
    let mut v = Vec::new();
    for e in json_lines(out) {
        match e["type"].as_str() {
            // The record's own fields follow the documented ones.
            Some("event") => assert!(
                e["ts"].is_string() && e["time_ns"].is_u64() && e["ring"].is_string(),
                "{e}"
            ),
            Some("printk") => check_schema(&e, PRINTK, PRINTK_OPTIONAL),
            Some("interval") => check_schema(&e, INTERVAL, &[]),
            Some("lost") => check_schema(&e, LOST_REQUIRED, &[]),
            _ => panic!("unknown type: {e}"),
        }
        if e["type"] == ty {
            v.push(e);
        }
    }
    v
}

/// The entries of map `name` in the last interval object.
fn map_of<'a>(intervals: &'a [Value], name: &str) -> &'a Value {
    &intervals.last().expect("an interval object")["maps"][name]
}

#[test]
fn hello_echoes_its_bpf_printk_lines() {
    let Some(bin) = agent_bin() else { return };
    // A short path: the example prints the first 63 bytes of what is executed.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let prog = PathBuf::from(format!("/tmp/hello-{}-{nanos}", std::process::id()));
    std::os::unix::fs::symlink("/bin/true", &prog).unwrap();
    for json in [true, false] {
        let mut args = vec![];
        if json {
            args.push("--json");
        }
        let agent = start(run_cmd(&bin, &example(&bin, "hello"), &args));
        let child = Command::new(&prog).spawn().unwrap();
        let pid = child.id();
        assert!(child.wait_with_output().unwrap().status.success());
        std::thread::sleep(Duration::from_millis(300));
        let (out, err) = agent.stop();
        let want = format!("Hello, eBPF! exec {}", prog.display());
        if json {
            let mine: Vec<Value> = lines_of(&out, "printk")
                .into_iter()
                .filter(|e| e["msg"] == want.as_str())
                .collect();
            assert_eq!(mine.len(), 1, "{out}");
            assert_eq!(mine[0]["pid"], pid, "{}", mine[0]);
        } else {
            assert!(
                out.lines()
                    .any(|l| l.ends_with(&format!("bpf_trace_printk: {want}"))),
                "{out}"
            );
            assert!(
                err.join("\n")
                    .contains("bpf_printk: trace_pipe lines fitting its 1 formats"),
                "{err:?}"
            );
        }
    }
    std::fs::remove_file(&prog).unwrap();
}

/// 777 getppid() calls, in the workload process only.
const CALLS: &str = "
def phase_calls():
    for _ in range(777):
        os.getppid()
";

#[test]
fn syscall_counts_are_exact_and_set_filters_by_pid() {
    let Some(bin) = agent_bin() else { return };
    let getppid = if cfg!(target_arch = "aarch64") {
        173
    } else {
        110
    };
    let mut w = Phases::spawn(CALLS);
    let idle = Phases::spawn(CALLS);
    for (target, want) in [(w.pid(), Some(777)), (idle.pid(), None)] {
        let set = format!("target_pid={target}");
        let cmd = run_cmd(&bin, &example(&bin, "syscalls"), &["--json", "--set", &set]);
        let out = common::trace_phase(cmd, &mut w, "calls");
        let ivs = lines_of(&out, "interval");
        let m = map_of(&ivs, "syscalls");
        assert_eq!(m["type"], "hash");
        let count = m["entries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["key"] == getppid)
            .map(|e| e["value"].as_u64().unwrap());
        assert_eq!(count, want, "{m}");
    }
    w.finish();
    idle.finish();
}

const OPENS: &str = "
def phase_open():
    for i in range(5):
        try:
            open(os.environ['OPEN_MARKER'] + str(i))
        except OSError:
            pass
";

#[test]
fn opens_record_the_exact_paths() {
    let Some(bin) = agent_bin() else { return };
    let m = format!("/tmp/{}-", marker("opens"));
    std::env::set_var("OPEN_MARKER", &m);
    let mut w = Phases::spawn(OPENS);
    let set = format!("target_pid={}", w.pid());
    let cmd = run_cmd(&bin, &example(&bin, "opens"), &["--json", "--set", &set]);
    let out = common::trace_phase(cmd, &mut w, "open");
    let pid = w.pid();
    w.finish();
    let evs = lines_of(&out, "event");
    let paths: Vec<&str> = evs
        .iter()
        .filter_map(|e| e["filename"].as_str())
        .filter(|f| f.starts_with(&m))
        .collect();
    let want: Vec<String> = (0..5).map(|i| format!("{m}{i}")).collect();
    assert_eq!(paths, want, "{out}");
    for e in evs
        .iter()
        .filter(|e| e["filename"].as_str().is_some_and(|f| f.starts_with(&m)))
    {
        assert_eq!(
            (e["ring"].as_str(), e["pid"].as_u64(), e["dfd"].as_i64()),
            (Some("events"), Some(pid.into()), Some(-100)),
            "{e}"
        );
        assert_eq!(e["comm"], "python3");
        assert_eq!(e["flags"].as_u64().unwrap() & 3, 0, "O_RDONLY: {e}");
    }
    assert!(
        evs.iter().all(|e| e["pid"] == pid),
        "--set target_pid filters in the kernel"
    );
}

#[test]
fn block_latency_histogram_counts_every_io() {
    let Some(bin) = agent_bin() else { return };
    let dev = common::blk::Loop::new("run-bio");
    // Whatever probes a new block device reads it now, not during the test.
    std::thread::sleep(Duration::from_millis(1500));
    // The kernel's dev_t: major << 20 | minor.
    let set = format!("target_dev={}", (dev.major << 20) | dev.minor);
    const IOS: u64 = 64;
    for json in [true, false] {
        let mut args = vec!["--set", &set];
        if json {
            args.push("--json");
        }
        let agent = start(run_cmd(&bin, &example(&bin, "biolatency"), &args));
        let dd = Command::new("dd")
            .arg(format!("if={}", dev.path))
            .args([
                "of=/dev/null",
                "bs=4k",
                &format!("count={IOS}"),
                "iflag=direct",
            ])
            .output()
            .unwrap();
        assert!(dd.status.success());
        std::thread::sleep(Duration::from_millis(300));
        let (out, _) = agent.stop();
        if json {
            let ivs = lines_of(&out, "interval");
            let h = map_of(&ivs, "latency_hist_usecs");
            assert_eq!(h["type"], "array");
            assert_eq!(h["hist"]["unit"], "usecs");
            assert_eq!(h["hist"]["count"], IOS, "{h}");
            let sum: u64 = h["hist"]["buckets"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| b["count"].as_u64().unwrap())
                .sum();
            assert_eq!(sum, IOS);
            assert_eq!(
                map_of(&ivs, "start")["entries"],
                serde_json::json!([]),
                "every issue completed"
            );
        } else {
            assert!(
                out.contains(
                    "latency_hist_usecs:\n     usecs               : count    distribution\n"
                ),
                "{out}"
            );
            let counted: u64 = out
                .lines()
                .filter(|l| l.contains(" -> ") && l.contains('|'))
                .map(|l| {
                    l.split(':')
                        .nth(1)
                        .unwrap()
                        .split('|')
                        .next()
                        .unwrap()
                        .trim()
                        .parse::<u64>()
                        .unwrap()
                })
                .sum();
            assert_eq!(counted, IOS, "{out}");
        }
    }
}

#[test]
fn tcp_sends_with_bytes_and_addresses() {
    use std::io::{Read, Write};
    let Some(bin) = agent_bin() else { return };
    let agent = start(run_cmd(&bin, &example(&bin, "tcpsend"), &["--json"]));
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (mut s, _) = l.accept().unwrap();
    let sizes = [100usize, 2000, 3000];
    for n in sizes {
        c.write_all(&vec![b'x'; n]).unwrap();
        let mut buf = vec![0; n];
        s.read_exact(&mut buf).unwrap();
    }
    std::thread::sleep(Duration::from_millis(300));
    let (out, err) = agent.stop();
    let me = std::process::id();
    let mine: Vec<Value> = lines_of(&out, "event")
        .into_iter()
        .filter(|e| e["pid"] == me && e["conn"]["dport"] == port)
        .collect();
    let bytes: Vec<u64> = mine.iter().map(|e| e["bytes"].as_u64().unwrap()).collect();
    assert_eq!(bytes, sizes.map(|n| n as u64), "{out}");
    let sport = c.local_addr().unwrap().port();
    for e in &mine {
        assert_eq!(e["conn"]["daddr"], serde_json::json!([127, 0, 0, 1]));
        assert_eq!(e["conn"]["sport"], sport);
    }
    // This kernel has the tracepoint: the first alternative, the kprobe left out.
    assert!(
        err.join("\n").contains(
            "tcp_send__tp on tracepoint sock:sock_send_length; left out: tcp_send__kprobe"
        ),
        "{err:?}"
    );
}

#[test]
fn shadow_alerts_on_the_watched_file_only() {
    let Some(bin) = agent_bin() else { return };
    let me = std::process::id();
    let watched = format!("/tmp/{}", marker("watched"));
    std::fs::write(&watched, "x").unwrap();
    for (args, hit, miss) in [
        (vec![], "/etc/shadow", watched.as_str()),
        (
            vec!["--set".to_string(), format!("target={watched}")],
            watched.as_str(),
            "/etc/shadow",
        ),
    ] {
        let mut a: Vec<&str> = args.iter().map(String::as_str).collect();
        a.push("--json");
        let agent = start(run_cmd(&bin, &example(&bin, "shadow"), &a));
        std::fs::read(hit).unwrap();
        std::fs::read(miss).unwrap();
        std::thread::sleep(Duration::from_millis(300));
        let (out, _) = agent.stop();
        let mine: Vec<Value> = lines_of(&out, "event")
            .into_iter()
            .filter(|e| e["pid"] == me)
            .collect();
        assert_eq!(mine.len(), 1, "{out}");
        assert_eq!(
            (mine[0]["ring"].as_str(), mine[0]["filename"].as_str()),
            (Some("alerts"), Some(hit))
        );
        assert_eq!(mine[0]["uid"], 0);
    }
    std::fs::remove_file(&watched).unwrap();
}

const GETPIDS: &str = "
import subprocess, time
def phase_calls():
    for _ in range(500):
        os.getpid()
def phase_exec():
    subprocess.run([os.environ['EXEC_MARKER']], check=True)
def phase_spin():
    t = time.time()
    while time.time() - t < 0.3:
        pass
";

#[test]
fn uprobes_perf_events_raw_tracepoints_and_two_rings() {
    let Some(bin) = agent_bin() else { return };
    let obj = compile("features", &["-g"]);
    let obj = obj.display().to_string();
    let prog = scratch().join("exec-marker-x");
    std::os::unix::fs::symlink("/bin/true", &prog).unwrap();
    std::env::set_var("EXEC_MARKER", &prog);
    let cpus = std::fs::read_to_string("/sys/devices/system/cpu/possible").unwrap();
    let possible = cpus
        .trim()
        .rsplit(['-', ','])
        .next()
        .unwrap()
        .parse::<usize>()
        .unwrap()
        + 1;
    for counting in ["true", "false"] {
        let mut w = Phases::spawn(GETPIDS);
        let (pid, c) = (
            format!("target_pid={}", w.pid()),
            format!("counting={counting}"),
        );
        let agent = start(run_cmd(
            &bin,
            &obj,
            &[
                "--json",
                "--perf",
                "cpu-clock:199",
                "--set",
                &pid,
                "--set",
                &c,
            ],
        ));
        for p in ["calls", "exec", "spin"] {
            w.run(p);
        }
        std::thread::sleep(Duration::from_millis(200));
        let (out, err) = agent.stop();
        let wpid = w.pid();
        w.finish();
        let err = err.join("\n");
        assert!(err.contains("left out: on_unlink (no kprobes"), "{err}");
        assert!(
            err.contains("on_getpid on uprobe /") && err.contains("libc.so.6:getpid"),
            "{err}"
        );
        let ivs = lines_of(&out, "interval");
        let counts = &map_of(&ivs, "counts")["entries"];
        let events = lines_of(&out, "event");
        let calls = events.iter().filter(|e| e["ring"] == "calls").count();
        if counting == "false" {
            assert_eq!(
                counts,
                &serde_json::json!([]),
                "--set counting=false: {out}"
            );
            assert_eq!(calls, 0);
            continue;
        }
        let e = &counts.as_array().unwrap()[0];
        assert_eq!(
            (e["key"].as_u64(), e["value"].as_u64()),
            (Some(wpid.into()), Some(500)),
            "{e}"
        );
        let per_cpu = e["cpus"].as_array().unwrap();
        assert_eq!(per_cpu.len(), possible);
        assert_eq!(
            per_cpu.iter().map(|v| v.as_u64().unwrap()).sum::<u64>(),
            500
        );
        let h = &map_of(&ivs, "calls_hist")["hists"][0];
        assert_eq!(
            (h["key"].as_u64(), h["hist"]["count"].as_u64()),
            (Some(wpid.into()), Some(500)),
            "{h}"
        );
        assert!(
            map_of(&ivs, "samples")["entries"][0]["value"]
                .as_u64()
                .unwrap()
                > 0
        );
        assert_eq!(calls, 500);
        assert!(
            events
                .iter()
                .any(|e| e["ring"] == "execs" && e["comm"] == "exec-marker-x"),
            "{out}"
        );
    }
    // Text: two rings, each line says which.
    let agent = start(run_cmd(&bin, &obj, &["--set", "target_pid=1"]));
    Command::new(&prog).status().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let (out, _) = agent.stop();
    assert!(
        out.lines()
            .any(|l| l.contains(" execs: pid=") && l.ends_with(" comm=exec-marker-x")),
        "{out}"
    );
}

#[test]
fn verifier_rejections_say_where_and_the_fix() {
    let Some(bin) = agent_bin() else { return };
    for (name, error, source, hint) in [
        (
            "bad_null",
            "R0 invalid mem access 'map_value_or_null'",
            "*v += 1;",
            "may be NULL",
        ),
        (
            "bad_access",
            "invalid access to map value",
            "v[0] = v[1] + 1;",
            "check an index",
        ),
        (
            "bad_loop",
            "",
            "for (__u64 i = 0; i < *n; i++)",
            "a loop the verifier cannot prove ends",
        ),
    ] {
        let obj = compile(name, &["-g"]).display().to_string();
        let (code, err) = fails(&bin, &obj, &[]);
        assert_eq!(code, 1, "{err}");
        assert!(
            err.contains("the verifier rejected program ") && err.contains(error),
            "{err}"
        );
        assert!(err.contains("at instruction "), "{err}");
        assert!(err.contains(&format!("in the source: {source}")), "{err}");
        assert!(
            err.contains(&format!("{name}.bpf.c:")),
            "the line info names the file: {err}"
        );
        assert!(err.contains(hint), "{err}");
    }
}

#[test]
fn files_that_are_no_bpf_object_and_programs_the_kernel_lacks() {
    let Some(bin) = agent_bin() else { return };
    let dir = scratch();
    let write = |n: &str, b: &[u8]| {
        let p = dir.join(n);
        std::fs::write(&p, b).unwrap();
        p.display().to_string()
    };
    let opens = std::fs::read(example(&bin, "opens")).unwrap();
    let text = write("notes.txt", b"just some text\n");
    let source = write("prog.bpf.c", b"#include \"kernel.h\"\n");
    let cut = write("cut.bpf.o", &opens[..opens.len() / 2]);
    let host_obj = dir.join("host.o");
    let st = Command::new("clang")
        .args(["-c", "-x", "c", "-", "-o"])
        .arg(&host_obj)
        .stdin(std::fs::File::open(write("x.c", b"int x;\n")).unwrap())
        .status()
        .unwrap();
    assert!(st.success());
    let other_arch = if cfg!(target_arch = "x86_64") {
        "arm64"
    } else {
        "x86"
    };
    let native = if other_arch == "arm64" {
        "x86"
    } else {
        "arm64"
    };
    let wrong_regs = compile(
        "tcpsend",
        &[
            "-g",
            &format!("-U__TARGET_ARCH_{native}"),
            &format!("-D__TARGET_ARCH_{other_arch}"),
        ],
    );
    let no_btf = compile("hello", &[]);
    let regs_words = format!("compiled for {other_arch} registers");
    let cases: Vec<(String, Vec<&str>, i32, &str)> = vec![
        (text, vec![], 2, "is not an ELF object file"),
        (source, vec![], 2, "is C source, not a compiled BPF object"),
        (cut, vec![], 2, "is truncated"),
        (
            host_obj.display().to_string(),
            vec![],
            2,
            "is an object for x86-64, not BPF",
        ),
        (wrong_regs.display().to_string(), vec![], 2, &regs_words),
        (no_btf.display().to_string(), vec![], 2, "has no BTF"),
        (
            compile("unsupported", &["-g"]).display().to_string(),
            vec![],
            2,
            "is not a tracing program run can attach",
        ),
        ("/nonexistent/prog.bpf.o".into(), vec![], 2, "No such file"),
        (
            compile("lacks_kprobe", &["-g"]).display().to_string(),
            vec![],
            3,
            "enable CONFIG_KPROBES",
        ),
        (
            compile("lacks_fentry", &["-g"]).display().to_string(),
            vec![],
            3,
            "needs BPF trampolines",
        ),
        (
            example(&bin, "syscalls"),
            vec!["--set", "nope=1"],
            2,
            "it has: target_pid (__u32)",
        ),
        (
            example(&bin, "syscalls"),
            vec!["--set", "target_pid=-5"],
            2,
            "out of range",
        ),
        (
            example(&bin, "syscalls"),
            vec!["--perf", "cycles:9"],
            2,
            "cpu-clock:HZ",
        ),
    ];
    for (obj, args, code, words) in cases {
        let (got, err) = fails(&bin, &obj, &args);
        assert_eq!(got, code, "{obj} {args:?}: {err}");
        assert!(
            err.contains(words),
            "{obj} {args:?} should say {words:?}: {err}"
        );
        assert!(
            err.contains("fix: ") || code == 2 && words.contains("No such"),
            "{obj}: a fix is named: {err}"
        );
    }
    // A copy nobody can read, wherever the build tree is (below a 0700 home, say).
    let hello = common::process_dir().join("hello.bpf.o");
    std::fs::copy(example(&bin, "hello"), &hello).unwrap();
    common::assert_needs_privileges(&bin, "run", &[&hello.display().to_string()]);
}
