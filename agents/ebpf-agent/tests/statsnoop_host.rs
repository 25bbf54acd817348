//! statsnoop against the host kernel, through the real static binary.

mod common;

use std::ffi::{CString, OsString};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::{agent_bin, json_lines, marker, start, Ty};
use serde_json::Value;

/// docs/tools/statsnoop.md, JSON.
const STAT_REQUIRED: &[(&str, Ty)] = event_schema![
    pid: Uint, tid: Uint, comm: Str, syscall: Str, abi: Str, ret: Int, path: Str, path_truncated: Bool,
    path_read_error: Bool, fd: Int, at_flags: Uint
];
const STAT_OPTIONAL: &[(&str, Ty)] = schema![comm_hex: Str, path_hex: Str];
const AT_FDCWD: i64 = -100;

#[test]
fn schema_is_the_documented_one() {
    common::assert_documented("tools/statsnoop.md", "JSON", STAT_REQUIRED, STAT_OPTIONAL);
}

fn check_all(events: &[Value]) {
    common::check_events(events, "stat", STAT_REQUIRED, STAT_OPTIONAL);
}

/// The events whose exact path bytes are `path`.
fn with_path<'a>(events: &'a [Value], path: &[u8]) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| match e.get("path_hex").and_then(Value::as_str) {
            Some(h) => h == common::hex(path),
            None => e["path"].as_str().map(str::as_bytes) == Some(path),
        })
        .collect()
}

fn libc_statfs(path: &[u8]) -> i32 {
    extern "C" {
        fn statfs(path: *const std::ffi::c_char, buf: *mut u64) -> i32;
    }
    let c = CString::new(path).unwrap();
    let mut buf = [0u64; 64]; // struct statfs is 120 bytes on 64-bit Linux
                              // SAFETY: a NUL-terminated path and a buffer larger than struct statfs.
    unsafe { statfs(c.as_ptr(), buf.as_mut_ptr()) }
}

#[test]
fn statsnoop_sees_exact_paths_results_and_descriptors() {
    let Some(bin) = agent_bin() else { return };
    let me = std::process::id();
    let agent = common::start_tool(&bin, &["statsnoop", "--json", "-v", "-p", &me.to_string()]);

    // A space, a newline and bytes that are not UTF-8: ENOENT, path byte for byte.
    let mut odd = format!("/nonexistent dir/{}\n", marker("odd")).into_bytes();
    odd.extend_from_slice(b"\xff\xfe end");
    let odd_path = PathBuf::from(OsString::from_vec(odd.clone()));
    assert!(std::fs::metadata(&odd_path).is_err());

    // 4,000 bytes (components under NAME_MAX): ENOENT, every byte kept.
    let head = format!("/{}", marker("long"));
    let mut long = head.clone();
    while long.len() < 4000 {
        long.push('/');
        long.push_str(&"x".repeat(4000usize.saturating_sub(long.len()).min(200)));
    }
    assert_eq!(long.len(), 4000);
    let err = std::fs::symlink_metadata(&long).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(2));

    // Longer than the kernel takes: ENAMETOOLONG, marked truncated.
    let mut too_long = format!("/{}/", marker("toolong"));
    while too_long.len() < 5000 {
        too_long.push_str("y/");
    }
    let err = std::fs::metadata(&too_long).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(36));

    // Success on a real file, by path and by descriptor.
    let file = std::fs::File::open("/proc/self/stat").unwrap();
    let fd = file.as_raw_fd() as i64;
    assert!(file.metadata().is_ok());
    let ok_marker = marker("ok");
    let dir = std::env::temp_dir().join(&ok_marker);
    std::fs::create_dir(&dir).unwrap();
    assert!(std::fs::metadata(&dir).unwrap().is_dir());
    std::fs::remove_dir(&dir).unwrap();

    // statfs(2) with a path that does not exist.
    let sfs = format!("/nonexistent/{}", marker("statfs"));
    assert_eq!(libc_statfs(sfs.as_bytes()), -1);

    let out = agent.settle_and_stop();
    let events = json_lines(&out);
    check_all(&events);
    for e in &events {
        assert_eq!(e["pid"], me, "-p {me}: {e}");
    }

    let hits = with_path(&events, &odd);
    assert_eq!(hits.len(), 1, "{hits:?}");
    let e = hits[0];
    assert_eq!(e["ret"], -2);
    assert_eq!(e["fd"], AT_FDCWD);
    assert_eq!(e["path_hex"], common::hex(&odd));
    assert!(e["path"]
        .as_str()
        .unwrap()
        .ends_with("\n\u{fffd}\u{fffd} end"));
    assert_eq!(e["path_truncated"], false);
    assert!(
        ["statx", "newfstatat", "newstat"].contains(&e["syscall"].as_str().unwrap()),
        "{e}"
    );

    let hits = with_path(&events, long.as_bytes());
    assert_eq!(hits.len(), 1, "the 4,000-byte path, whole");
    assert_eq!(hits[0]["ret"], -2);
    assert_eq!(hits[0]["path_truncated"], false);
    // lstat: AT_SYMLINK_NOFOLLOW where the call has flags.
    if ["statx", "newfstatat"].contains(&hits[0]["syscall"].as_str().unwrap()) {
        assert_eq!(
            hits[0]["at_flags"].as_u64().unwrap() & 0x100,
            0x100,
            "{}",
            hits[0]
        );
    }

    let cut: Vec<&Value> = events
        .iter()
        .filter(|e| {
            e["path"]
                .as_str()
                .is_some_and(|p| p.starts_with(&too_long[..40]))
        })
        .collect();
    assert_eq!(cut.len(), 1, "{cut:?}");
    assert_eq!(cut[0]["ret"], -36);
    assert_eq!(cut[0]["path_truncated"], true);
    assert_eq!(cut[0]["path"].as_str().unwrap(), &too_long[..4095]);

    let hits = with_path(&events, dir.as_os_str().as_encoded_bytes());
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0]["ret"], 0);

    // File::metadata: fstat, or statx/fstatat on the descriptor with an empty path.
    let by_fd: Vec<&Value> = events
        .iter()
        .filter(|e| e["fd"] == fd && e["path"] == "" && e["ret"] == 0)
        .collect();
    assert!(!by_fd.is_empty(), "a stat of descriptor {fd}: {events:?}");

    let hits = with_path(&events, sfs.as_bytes());
    assert_eq!(hits.len(), 1);
    assert_eq!(
        (hits[0]["syscall"].as_str(), hits[0]["ret"].as_i64()),
        (Some("statfs"), Some(-2))
    );
    // This test's own thread made the calls: /proc/thread-self is "<pid>/task/<tid>".
    let tid: u64 = std::fs::read_link("/proc/thread-self")
        .unwrap()
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(hits[0]["tid"].as_u64(), Some(tid));
}

#[test]
fn other_processes_failed_only_and_text_columns() {
    let Some(bin) = agent_bin() else { return };
    let agent = common::start_tool(&bin, &["statsnoop", "-v", "-x", "-s", "-t"]);
    let missing = format!("/nonexistent/{}", marker("sh"));
    let present = std::env::temp_dir().join(marker("present"));
    std::fs::write(&present, b"").unwrap();
    // The shell's `test -e` is a stat (newfstatat or statx, depending on the libc).
    let child = Command::new("/bin/sh")
        .args(["-c", "test -e \"$1\"; test -e \"$2\"", "sh"])
        .arg(&missing)
        .arg(&present)
        .spawn()
        .unwrap();
    let child_pid = child.id();
    child.wait_with_output().unwrap();
    std::fs::remove_file(&present).unwrap();
    let out = agent.settle_and_stop();
    let mut lines = out.lines();
    assert_eq!(
        lines.next(),
        Some("TIME(s)        PID     COMM                 RET  ERR  SYSCALL    PATH")
    );
    let mine: Vec<&str> = out.lines().filter(|l| l.contains(&missing)).collect();
    assert_eq!(mine.len(), 1, "{out}");
    let cols: Vec<&str> = mine[0].split_whitespace().collect();
    cols[0].parse::<f64>().expect("TIME(s)");
    assert_eq!(cols[1], child_pid.to_string());
    assert_eq!(cols[2], "sh");
    assert_eq!((cols[3], cols[4]), ("-1", "2"));
    assert_eq!(cols[6], missing);
    let present = present.to_string_lossy();
    assert!(
        !out.contains(present.as_ref()),
        "-x hides the successful stat: {out}"
    );
}

#[test]
fn nonexistent_pid_bad_flags_and_symlink() {
    let Some(bin) = agent_bin() else { return };
    common::assert_gone_pid_prints_nothing(&bin, "statsnoop");

    common::assert_usage_errors(
        &bin,
        "statsnoop",
        &[
            (&["-p", "x1"][..], "-p"),
            (&["--nope"], "--nope"),
            (&["-T"], "-T"),
            (&["--duration", "0"], "--duration"),
        ],
    );

    let link = common::link_named(&bin, "statsnoop");
    let mut cmd = Command::new(&link);
    cmd.args(["--json", "-v", "-x", "-p", &std::process::id().to_string()]);
    let agent = start(cmd);
    let m = format!("/nonexistent/{}", marker("link"));
    assert!(std::fs::metadata(&m).is_err());
    let out = agent.settle_and_stop();
    std::fs::remove_dir_all(link.parent().unwrap()).unwrap();
    let events = json_lines(&out);
    check_all(&events);
    assert_eq!(with_path(&events, m.as_bytes()).len(), 1, "{out}");
}

#[test]
fn a_full_ring_buffer_is_counted_not_silent() {
    let Some(bin) = agent_bin() else { return };
    // A child that stats a 4,000-byte path 2,000 times once told to: 8 MB of records, far
    // more than the 1 MiB ring holds while the agent is stopped.
    let m = marker("lost");
    let script = format!(
        "import os, sys\n\
         p = '/{m}' + '/' + 'z' * 200\n\
         while len(p) < 4000: p += '/' + 'z' * 200\n\
         p = p[:4000]\n\
         sys.stdin.readline()\n\
         for _ in range(2000):\n\
         \x20   try: os.stat(p)\n\
         \x20   except OSError: pass\n"
    );
    let mut child = Command::new("python3")
        .args(["-c", &script])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let agent = common::start_tool(
        &bin,
        &["statsnoop", "--json", "-v", "-p", &child.id().to_string()],
    );
    let agent_pid = nix::unistd::Pid::from_raw(agent.child.id() as i32);
    nix::sys::signal::kill(agent_pid, nix::sys::signal::Signal::SIGSTOP).unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"go\n").unwrap();
    }
    assert!(child.wait().unwrap().success());
    nix::sys::signal::kill(agent_pid, nix::sys::signal::Signal::SIGCONT).unwrap();
    // Losses are checked once a second.
    std::thread::sleep(Duration::from_millis(1500));
    let (out, stderr) = agent.stop();
    let events = json_lines(&out);
    check_all(&events);
    let seen = events
        .iter()
        .filter(|e| e["type"] == "stat" && e["path"].as_str().is_some_and(|p| p.contains(&m)))
        .count() as u64;
    let lost: Vec<&Value> = events.iter().filter(|e| e["type"] == "lost").collect();
    assert!(!lost.is_empty(), "a lost line: seen {seen}");
    let total = lost.last().unwrap()["lost_total"].as_u64().unwrap();
    let sum: u64 = lost.iter().map(|e| e["lost"].as_u64().unwrap()).sum();
    assert_eq!(sum, total, "lost lines add up to lost_total");
    eprintln!("ring full: {seen} seen, {total} counted lost");
    assert_eq!(seen + total, 2000, "every call either seen or counted lost");
    assert!(
        stderr.iter().any(|l| l.contains("events lost")),
        "stderr says so too: {stderr:?}"
    );
}
