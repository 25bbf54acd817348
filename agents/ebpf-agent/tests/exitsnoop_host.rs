//! exitsnoop against the host kernel, through the real static binary.

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{agent_bin, json_lines, start, Ty};
use serde_json::Value;

/// docs/tools/exitsnoop.md, JSON.
const EXIT_REQUIRED: &[(&str, Ty)] = event_schema![
    pid: Uint, ppid: Uint, tid: Uint, comm: Str, exit_code: Int, signal: Int, core_dumped: Bool,
    age_ns: Uint
];
const EXIT_OPTIONAL: &[(&str, Ty)] = schema![signal_name: Str, comm_hex: Str];

#[test]
fn schema_is_the_documented_one() {
    common::assert_documented("tools/exitsnoop.md", "JSON", EXIT_REQUIRED, EXIT_OPTIONAL);
}

fn check_all(events: &[Value]) {
    common::check_events(events, "exit", EXIT_REQUIRED, EXIT_OPTIONAL);
}

/// The exit events of process `pid`.
fn of(events: &[Value], pid: u32) -> Vec<&Value> {
    events
        .iter()
        .filter(|e| e["type"] == "exit" && e["pid"].as_u64() == Some(pid.into()))
        .collect()
}

fn only_one(events: &[Value], pid: u32) -> &Value {
    let hits = of(events, pid);
    assert_eq!(hits.len(), 1, "one exit of {pid}: {hits:?}");
    hits[0]
}

/// A process whose main thread leaves first (pthread_exit) while another thread ends the
/// process with exit(7) a little later. Returns (pid, tid of the second thread).
fn leader_leaves_first() -> (u32, u32) {
    let script = "import ctypes, os, threading, time, sys\n\
        def worker():\n\
        \x20   sys.stdout.write(f'{os.getpid()} {threading.get_native_id()}\\n')\n\
        \x20   sys.stdout.flush()\n\
        \x20   time.sleep(0.3)\n\
        \x20   os._exit(7)\n\
        threading.Thread(target=worker).start()\n\
        ctypes.CDLL(None).pthread_exit(None)\n";
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(7), "{line}");
    let ids: Vec<u32> = line
        .split_whitespace()
        .map(|s| s.parse().unwrap())
        .collect();
    assert_eq!(ids[0], child.id());
    assert_ne!(ids[0], ids[1]);
    (ids[0], ids[1])
}

#[test]
fn exitsnoop_sees_statuses_signals_and_the_last_thread() {
    let Some(bin) = agent_bin() else { return };
    let agent = common::start_tool(&bin, &["exitsnoop", "--json", "-v"]);
    let me = std::process::id() as u64;

    let ok = Command::new("/bin/true").spawn().unwrap();
    let ok_pid = ok.id();
    let code3 = Command::new("/bin/sh")
        .args(["-c", "exit 3"])
        .spawn()
        .unwrap();
    let code3_pid = code3.id();
    // SIGSEGV without a core (RLIMIT_CORE 0 in the shell), and SIGKILL from us.
    let segv = Command::new("/bin/sh")
        .args(["-c", "ulimit -c 0; kill -SEGV $$"])
        .spawn()
        .unwrap();
    let segv_pid = segv.id();
    let mut sleeper = Command::new("/bin/sleep").arg("30").spawn().unwrap();
    let sleeper_pid = sleeper.id();
    std::thread::sleep(Duration::from_millis(200));
    sleeper.kill().unwrap();
    for mut c in [ok, code3, segv] {
        c.wait().unwrap();
    }
    assert_eq!(sleeper.wait().unwrap().signal(), Some(9));
    let (py_pid, py_tid) = leader_leaves_first();
    let out = agent.settle_and_stop();
    let events = json_lines(&out);
    check_all(&events);

    let e = only_one(&events, ok_pid);
    assert_eq!(
        (e["ppid"].as_u64(), e["tid"].as_u64(), e["comm"].as_str()),
        (Some(me), Some(ok_pid.into()), Some("true"))
    );
    assert_eq!(
        (e["exit_code"].as_i64(), e["signal"].as_i64()),
        (Some(0), Some(0))
    );
    assert!(e.get("signal_name").is_none());
    assert!(e["age_ns"].as_u64().unwrap() < 10_000_000_000);

    let e = only_one(&events, code3_pid);
    assert_eq!(
        (e["exit_code"].as_i64(), e["signal"].as_i64()),
        (Some(3), Some(0))
    );
    assert_eq!(e["comm"], "sh");

    let e = only_one(&events, segv_pid);
    assert_eq!(
        (e["exit_code"].as_i64(), e["signal"].as_i64()),
        (Some(0), Some(11))
    );
    assert_eq!(e["signal_name"], "SIGSEGV");
    assert_eq!(e["core_dumped"], false);

    let e = only_one(&events, sleeper_pid);
    assert_eq!(e["signal"], 9);
    assert_eq!(e["signal_name"], "SIGKILL");
    assert_eq!(e["comm"], "sleep");
    let age = e["age_ns"].as_u64().unwrap();
    assert!(
        (150_000_000..10_000_000_000).contains(&age),
        "slept 200 ms before the kill, age {age}"
    );

    // The process ended when its second thread did, with that thread's status: one event.
    let e = only_one(&events, py_pid);
    assert_eq!(
        (e["tid"].as_u64(), e["exit_code"].as_i64()),
        (Some(py_tid.into()), Some(7))
    );
    assert!(
        e["age_ns"].as_u64().unwrap() >= 300_000_000,
        "the process's age, not the thread's: {e}"
    );
}

#[test]
fn threads_mode_reports_every_thread() {
    let Some(bin) = agent_bin() else { return };
    let agent = common::start_tool(&bin, &["exitsnoop", "--json", "-v", "-T"]);
    let (pid, tid) = leader_leaves_first();
    let out = agent.settle_and_stop();
    let events = json_lines(&out);
    check_all(&events);
    let mine = of(&events, pid);
    let tids: Vec<(u64, i64)> = mine
        .iter()
        .map(|e| (e["tid"].as_u64().unwrap(), e["exit_code"].as_i64().unwrap()))
        .collect();
    assert_eq!(
        tids,
        [(pid.into(), 0), (tid.into(), 7)],
        "the leader's pthread_exit, then the thread's exit(7): {mine:?}"
    );
}

#[test]
fn pid_and_failed_filters_and_text_columns() {
    let Some(bin) = agent_bin() else { return };
    // Text mode, -x and -p: only the watched process, only because it failed.
    let mut target = Command::new("/bin/sleep").arg("30").spawn().unwrap();
    let target_pid = target.id();
    let agent = common::start_tool(
        &bin,
        &["exitsnoop", "-v", "-x", "-t", "-p", &target_pid.to_string()],
    );
    assert!(!Command::new("/bin/false").status().unwrap().success());
    let other = Command::new("/bin/sh")
        .args(["-c", "exit 9"])
        .status()
        .unwrap();
    assert_eq!(other.code(), Some(9));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(target_pid as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    target.wait().unwrap();
    let out = agent.settle_and_stop();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "TIME     PCOMM            PID     PPID    TID     AGE(s)  EXIT_CODE"
    );
    assert_eq!(lines.len(), 2, "only the watched process's exit: {out}");
    let cols: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(cols[0].len(), 8, "HH:MM:SS: {}", lines[1]);
    assert_eq!(cols[1], "sleep");
    assert_eq!(cols[2], target_pid.to_string());
    assert_eq!(cols[3], std::process::id().to_string());
    assert_eq!(cols[4], target_pid.to_string());
    assert_eq!(&cols[6..], ["signal", "15", "(SIGTERM)"]);

    // -x hides a clean exit of the watched process.
    let mut clean = Command::new("/bin/sh")
        .args(["-c", "read x || true"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let agent = common::start_tool(
        &bin,
        &[
            "exitsnoop",
            "--json",
            "-v",
            "-x",
            "-p",
            &clean.id().to_string(),
        ],
    );
    drop(clean.stdin.take());
    assert!(clean.wait().unwrap().success());
    let out = agent.settle_and_stop();
    assert_eq!(out, "", "a clean exit is hidden by -x");
}

#[test]
fn nonexistent_pid_bad_flags_and_duration() {
    let Some(bin) = agent_bin() else { return };
    // Above PID_MAX_LIMIT (4194304): no process can have it.
    common::assert_gone_pid_prints_nothing(&bin, "exitsnoop");

    common::assert_usage_errors(
        &bin,
        "exitsnoop",
        &[
            (&["-p", "abc"][..], "-p"),
            (&["--bogus"], "--bogus"),
            (&["-Z"], "-Z"),
            (&["--duration", "soon"], "--duration"),
        ],
    );
}

#[test]
fn symlink_named_exitsnoop_runs_the_tool() {
    let Some(bin) = agent_bin() else { return };
    let link = common::link_named(&bin, "exitsnoop");
    let mut cmd = Command::new(&link);
    cmd.args(["--json", "-v"]);
    let agent = start(cmd);
    let child = Command::new("/bin/sh")
        .args(["-c", "exit 5"])
        .spawn()
        .unwrap();
    let pid = child.id();
    assert_eq!(child.wait_with_output().unwrap().status.code(), Some(5));
    let out = agent.settle_and_stop();
    std::fs::remove_dir_all(link.parent().unwrap()).unwrap();
    let events = json_lines(&out);
    check_all(&events);
    assert_eq!(only_one(&events, pid)["exit_code"], 5);
}

#[test]
fn a_killed_multithreaded_process_is_one_event() {
    let Some(bin) = agent_bin() else { return };
    let agent = common::start_tool(&bin, &["exitsnoop", "--json", "-v"]);
    // Ten processes of nine threads each, killed together: their threads leave at once on
    // every CPU, and each process must still be reported once.
    let script = "import threading, time\n\
        for _ in range(8):\n\
        \x20   threading.Thread(target=time.sleep, args=(60,), daemon=True).start()\n\
        print('ready', flush=True)\n\
        time.sleep(60)\n";
    let mut children: Vec<_> = (0..10)
        .map(|_| {
            Command::new("python3")
                .args(["-c", script])
                .stdout(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in &mut children {
        let mut line = String::new();
        BufReader::new(c.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line, "ready\n");
    }
    for c in &children {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(c.id() as i32),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
    }
    let pids: Vec<u32> = children.iter().map(|c| c.id()).collect();
    for mut c in children {
        assert_eq!(c.wait().unwrap().signal(), Some(9));
    }
    let out = agent.settle_and_stop();
    let events = json_lines(&out);
    check_all(&events);
    for pid in pids {
        assert_eq!(only_one(&events, pid)["signal"], 9);
    }
}
