//! filewatch against the host kernel, through the real static binary.

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::ffi::OsStrExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{agent_bin, json_lines, marker, start, Phases, Ty};
use serde_json::Value;

/// docs/tools/filewatch.md, JSON.
const ALERT_REQUIRED: &[(&str, Ty)] = event_schema![
    pid: Uint, tid: Uint, ppid: Uint, uid: Uint, comm: Str, op: Str, syscall: Str, path: Str,
    watch: Str, matched_by: Str, flags: Uint, flags_text: Str, ret: Int, path_incomplete: Bool
];
const ALERT_OPTIONAL: &[(&str, Ty)] = schema![
    renamed_to: Str, renamed_from: Str, comm_hex: Str, path_hex: Str, watch_hex: Str,
    renamed_to_hex: Str, renamed_from_hex: Str
];

#[test]
fn schema_is_the_documented_one() {
    common::assert_documented("tools/filewatch.md", "JSON", ALERT_REQUIRED, ALERT_OPTIONAL);
}

fn check_all(events: &[Value]) {
    common::check_events(events, "alert", ALERT_REQUIRED, ALERT_OPTIONAL);
}

/// The exact bytes of a byte-string field.
fn bytes(e: &Value, k: &str) -> Vec<u8> {
    match e[format!("{k}_hex")].as_str() {
        Some(h) => common::unhex(h),
        None => e[k].as_str().unwrap_or_default().as_bytes().to_vec(),
    }
}

/// The alerts of `op` on exactly `path`.
fn alerts<'a>(events: &'a [Value], op: &str, path: &[u8]) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["op"] == op && bytes(e, "path") == path)
        .collect()
}

fn one<'a>(events: &'a [Value], op: &str, path: &[u8]) -> &'a Value {
    let hits = alerts(events, op, path);
    assert_eq!(
        hits.len(),
        1,
        "expected one {op} alert on {:?}, got {hits:?}\nall: {events:?}",
        String::from_utf8_lossy(path)
    );
    hits[0]
}

/// The workload: every operation filewatch hooks, on watched and unwatched paths under D.
const SCRIPT: &str = r#"
import json, os
D = '/tmp/MARKER'
W = D + '/watched dir'
SECRET = D.encode() + b'/secret \xff'
os.makedirs(W)
os.symlink(W, D + '/link')
def phase_setup():
    fd = os.open(SECRET, os.O_WRONLY | os.O_CREAT, 0o600)
    os.close(fd)
    return str(fd)
def phase_ops():
    out = {}
    fd = os.open(SECRET, os.O_RDONLY)
    out['secret_fd'] = fd
    os.close(fd)
    os.chdir(D)
    fd = os.open('watched dir/f1', os.O_WRONLY | os.O_CREAT, 0o644)
    out['rel_fd'] = fd
    os.close(fd)
    fd = os.open(D + '/link/f1', os.O_RDONLY)
    out['link_fd'] = fd
    os.close(fd)
    os.close(os.open(D + '/unwatched', os.O_WRONLY | os.O_CREAT, 0o644))
    os.close(os.open(D + '/unwatched', os.O_RDONLY))
    os.rename(W + '/f1', D + '/out')
    os.rename(D + '/out', D + '/key_1')
    os.unlink(D + '/key_1')
    os.unlink(D + '/unwatched')
    os.mkdir(W + '/sub')
    os.rmdir(W + '/sub')
    long = W + '/' + '/'.join(['z' * 200] * 19)
    long = long + '/' + 'y' * (3999 - len(long))
    out['long_len'] = len(long)
    try:
        os.open(long, os.O_RDONLY)
    except FileNotFoundError:
        pass
    fd = os.open(W, os.O_RDONLY | os.O_DIRECTORY)
    out['dir_fd'] = fd
    os.close(fd)
    os.chdir('/')
    return json.dumps(out)
def phase_burst():
    for i in range(10000):
        try:
            os.open(W + '/hot', os.O_RDONLY)
        except FileNotFoundError:
            pass
def phase_cleanup():
    import shutil
    shutil.rmtree(D)
"#;

fn workload(m: &str) -> Phases {
    Phases::spawn(&SCRIPT.replace("MARKER", m))
}

/// A watch-list file for the workload's directory.
fn watch_file(m: &str) -> std::path::PathBuf {
    let d = format!("/tmp/{m}");
    let f = std::env::temp_dir().join(format!("{m}.watch"));
    let mut list =
        format!("# the test's watch list\n\n  {d}/watched dir/  \n{d}/key_*\n").into_bytes();
    list.extend_from_slice(format!("{d}/secret ").as_bytes());
    list.extend_from_slice(b"\xff\n");
    std::fs::write(&f, list).unwrap();
    f
}

#[test]
fn alerts_for_every_watched_operation() {
    let Some(bin) = agent_bin() else { return };
    let m = marker("watch");
    let d = format!("/tmp/{m}");
    let list = watch_file(&m);
    let mut w = workload(&m);
    w.run("setup");
    let mut cmd = Command::new(&bin);
    cmd.args(["filewatch", "--json", "-v", "-f"]).arg(&list);
    let agent = start(cmd);
    let info: Value = serde_json::from_str(&w.run("ops")).unwrap();
    // As nobody: permission denied on the 0600 secret.
    let mut secret = format!("{d}/secret ").into_bytes();
    secret.push(0xff);
    let denied = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "cat"])
        .arg(std::ffi::OsStr::from_bytes(&secret))
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let denied_pid = denied.id() as u64;
    assert!(!denied.wait_with_output().unwrap().status.success());
    let out = agent.settle_and_stop();
    let pid = w.pid() as u64;
    w.run("cleanup");
    w.finish();
    std::fs::remove_file(&list).unwrap();
    let events = json_lines(&out);
    check_all(&events);
    let me = std::process::id() as u64;
    let watched = format!("{d}/watched dir");

    let hits = alerts(&events, "open", &secret);
    assert_eq!(hits.len(), 2, "{hits:?}");
    let e = hits[0];
    assert_eq!(bytes(e, "watch"), secret);
    assert_eq!(
        (e["pid"].as_u64(), e["ppid"].as_u64(), e["uid"].as_u64()),
        (Some(pid), Some(me), Some(0))
    );
    assert_eq!(e["ret"], info["secret_fd"]);
    assert_eq!(
        (e["matched_by"].as_str(), e["syscall"].as_str()),
        (Some("name"), Some("openat"))
    );
    assert_eq!(e["flags_text"], "O_RDONLY|O_CLOEXEC");
    assert_eq!(e["comm"], "python3");
    // As nobody: permission denied, seen with its uid and error.
    let e = hits[1];
    assert_eq!(
        (
            e["pid"].as_u64(),
            e["ppid"].as_u64(),
            e["uid"].as_u64(),
            e["ret"].as_i64()
        ),
        (Some(denied_pid), Some(me), Some(65534), Some(-13))
    );
    assert_eq!(e["comm"], "cat");

    // Relative to the working directory, then through a symlink: by the file's own path.
    let f1 = format!("{watched}/f1");
    let hits = alerts(&events, "open", f1.as_bytes());
    assert_eq!(hits.len(), 2, "{hits:?}");
    assert_eq!(
        (&hits[0]["matched_by"], &hits[0]["ret"]),
        (&"name".into(), &info["rel_fd"])
    );
    assert_eq!(
        (&hits[1]["matched_by"], &hits[1]["ret"]),
        (&"file".into(), &info["link_fd"])
    );
    assert_eq!(hits[0]["flags_text"], "O_WRONLY|O_CREAT|O_CLOEXEC");
    assert_eq!(hits[0]["watch"], format!("{watched}/"));

    // Renames out of and into the watch list, unlink, rmdir.
    let e = one(&events, "rename", f1.as_bytes());
    assert_eq!(e["renamed_to"], format!("{d}/out"));
    assert_eq!((e["ret"].as_i64(), e.get("renamed_from")), (Some(0), None));
    let e = one(&events, "rename", format!("{d}/key_1").as_bytes());
    assert_eq!(e["renamed_from"], format!("{d}/out"));
    assert_eq!(e["watch"], format!("{d}/key_*"));
    let e = one(&events, "unlink", format!("{d}/key_1").as_bytes());
    assert_eq!(
        (e["ret"].as_i64(), e["syscall"].as_str()),
        (Some(0), Some("unlink"))
    );
    let e = one(&events, "rmdir", format!("{watched}/sub").as_bytes());
    assert_eq!(e["ret"], 0);

    // A 4,000-byte path under the watched directory, and the directory itself.
    assert_eq!(info["long_len"], 4000);
    let long: Vec<&Value> = events
        .iter()
        .filter(|e| bytes(e, "path").ends_with(b"yyy"))
        .collect();
    assert_eq!(long.len(), 1, "{long:?}");
    assert_eq!(bytes(long[0], "path").len(), 4000);
    assert_eq!(long[0]["ret"], -2);
    let e = one(&events, "open", watched.as_bytes());
    assert_eq!(e["ret"], info["dir_fd"]);

    // Nothing on unwatched paths, and nothing else at all.
    assert!(events
        .iter()
        .all(|e| !bytes(e, "path").ends_with(b"/unwatched")));
    assert!(
        events
            .iter()
            .all(|e| bytes(e, "path").starts_with(d.as_bytes())),
        "{events:?}"
    );
    assert_eq!(events.len(), 10, "{events:#?}");
}

#[test]
fn default_list_watches_credentials() {
    let Some(bin) = agent_bin() else { return };
    let mut cmd = Command::new(&bin);
    cmd.args(["filewatch", "--json", "-v"]);
    let agent = start(cmd);
    let child = Command::new("cat")
        .arg("/etc/shadow")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id() as u64;
    assert!(child.wait_with_output().unwrap().status.success());
    std::thread::sleep(Duration::from_millis(300));
    let (out, err) = agent.stop();
    assert!(
        err.iter().any(|l| l.contains(
            "watching /etc/shadow /etc/gshadow /etc/sudoers /etc/sudoers.d/ /etc/ssh/ssh_host_*"
        )),
        "{err:?}"
    );
    let events = json_lines(&out);
    check_all(&events);
    let mine: Vec<&Value> = events
        .iter()
        .filter(|e| e["pid"].as_u64() == Some(pid))
        .collect();
    assert_eq!(mine.len(), 1, "{events:?}");
    assert_eq!(
        (
            mine[0]["path"].as_str(),
            mine[0]["watch"].as_str(),
            mine[0]["op"].as_str()
        ),
        (Some("/etc/shadow"), Some("/etc/shadow"), Some("open"))
    );
}

#[test]
fn bad_watch_lists_and_flags() {
    let Some(bin) = agent_bin() else { return };
    let missing = format!("/nonexistent/{}.list", marker("missing"));
    let run = |args: &[&str]| {
        let out = Command::new(&bin)
            .arg("filewatch")
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = run(&["-f", &missing]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(&missing) && err.contains("No such file"),
        "{err}"
    );
    let (code, err) = run(&["etc/shadow"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("not absolute"), "{err}");
    let many: Vec<String> = (0..65).map(|i| format!("/w{i}")).collect();
    let refs: Vec<&str> = many.iter().map(String::as_str).collect();
    let (code, err) = run(&refs);
    assert_eq!(code, Some(2));
    assert!(err.contains("at most 64"), "{err}");
    let (code, err) = run(&["--frobnicate"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--frobnicate"), "{err}");
    let (code, err) = run(&["-d", "-1"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("-d"), "{err}");

    // Through a link named after the tool, for a second: no alert, exit 0.
    let link = common::link_named(&bin, "filewatch");
    let out = Command::new(&link)
        .args([
            "-d",
            "1",
            &format!("{}/never", link.parent().unwrap().display()),
        ])
        .output()
        .unwrap();
    std::fs::remove_dir_all(link.parent().unwrap()).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "TIME     PID     PPID    UID    COMM             OP      RET PATH\n"
    );
}

fn rss_kib(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Lines of a file that is still being written.
fn count_lines(path: &std::path::Path) -> usize {
    std::fs::read(path)
        .map(|b| b.iter().filter(|&&c| c == b'\n').count())
        .unwrap_or(0)
}

#[test]
fn memory_stays_flat_over_50k_alerts() {
    let Some(bin) = agent_bin() else { return };
    let m = marker("rss");
    let d = format!("/tmp/{m}");
    let out_path = std::env::temp_dir().join(format!("{m}.jsonl"));
    let mut w = workload(&m);
    let mut agent = Command::new(&bin)
        .args(["filewatch", "--json", "-v", &format!("{d}/watched dir/")])
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let apid = agent.id();
    let mut stderr = BufReader::new(agent.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains(": tracing:") {
        line.clear();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "agent died");
    }
    std::thread::spawn(move || for _ in stderr.lines() {});
    let wait_for = |n: usize| {
        let deadline = Instant::now() + Duration::from_secs(30);
        while count_lines(&out_path) < n && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    // Warm up: the first 10,000 alerts bring every buffer to its working size.
    w.run("burst");
    wait_for(10_000);
    let warm = rss_kib(apid);
    for _ in 0..4 {
        w.run("burst");
    }
    wait_for(50_000);
    let end = rss_kib(apid);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(apid as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    assert!(agent.wait().unwrap().success());
    w.run("cleanup");
    w.finish();
    let text = std::fs::read_to_string(&out_path).unwrap();
    std::fs::remove_file(&out_path).unwrap();
    let events = json_lines(&text);
    let alerts = events.iter().filter(|e| e["type"] == "alert").count() as u64;
    let lost = events
        .iter()
        .filter_map(|e| e["lost_total"].as_u64())
        .max()
        .unwrap_or(0);
    assert_eq!(
        alerts + lost,
        50_000,
        "every alert printed or counted as lost"
    );
    eprintln!("filewatch: RSS {warm} KiB after 10,000 alerts, {end} KiB after 50,000; {lost} lost");
    assert!(
        end <= warm + 64,
        "RSS grew from {warm} KiB to {end} KiB over 40,000 alerts"
    );
}

#[test]
fn sigterm_ends_the_service_even_when_its_reader_stopped_reading() {
    let Some(bin) = agent_bin() else { return };
    let m = marker("stuck");
    let mut w = workload(&m);
    let mut cmd = Command::new(&bin);
    cmd.args([
        "filewatch",
        "--json",
        "-v",
        &format!("/tmp/{m}/watched dir/"),
    ]);
    // `start` reads stderr only: 10,000 alerts fill the stdout pipe and the agent blocks.
    let mut agent = start(cmd);
    w.run("burst");
    std::thread::sleep(Duration::from_millis(500));
    let pid = nix::unistd::Pid::from_raw(agent.child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = agent.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "SIGTERM did not end filewatch blocked on a full pipe"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    w.run("cleanup");
    w.finish();
    assert!(
        status.code().is_some(),
        "ended by its own exit, not killed: {status}"
    );
}
