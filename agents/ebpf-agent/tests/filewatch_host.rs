//! filewatch against the host kernel, through the real static binary.

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{agent_bin, json_lines, marker, start, Phases, Running, Ty};
use serde_json::Value;

/// docs/tools/filewatch.md, JSON.
const ALERT_REQUIRED: &[(&str, Ty)] = event_schema![
    pid: Uint, tid: Uint, ppid: Uint, uid: Uint, comm: Str, op: Str, syscall: Str, abi: Str,
    path: Str, name: Str, watch: Str, matched_by: Str, flags: Uint, flags_text: Str, ret: Int,
    path_incomplete: Bool
];
const ALERT_OPTIONAL: &[(&str, Ty)] = schema![
    renamed_to: Str, renamed_from: Str, comm_hex: Str, path_hex: Str, name_hex: Str,
    watch_hex: Str, renamed_to_hex: Str, renamed_from_hex: Str
];
const FAILURES_REQUIRED: &[(&str, Ty)] = event_schema![
    uid: Uint, watch: Str, op: Str, ret: Int, count: Uint, last_pid: Uint, last_comm: Str,
    last_syscall: Str, last_ns: Uint
];
const FAILURES_OPTIONAL: &[(&str, Ty)] = schema![watch_hex: Str, last_comm_hex: Str];

#[test]
fn schema_is_the_documented_one() {
    common::assert_documented("tools/filewatch.md", "JSON", ALERT_REQUIRED, ALERT_OPTIONAL);
    common::assert_documented(
        "tools/filewatch.md",
        "JSON: `\"type\": \"failures\"`",
        FAILURES_REQUIRED,
        FAILURES_OPTIONAL,
    );
}

/// Every line an alert, a failures report or a lost line, each with its schema; the alerts.
fn check_all(events: &[Value]) -> Vec<Value> {
    for e in events {
        match e["type"].as_str() {
            Some("alert") => common::check_schema(e, ALERT_REQUIRED, ALERT_OPTIONAL),
            Some("failures") => common::check_schema(e, FAILURES_REQUIRED, FAILURES_OPTIONAL),
            Some("lost") => common::check_schema(e, common::LOST_REQUIRED, &[]),
            _ => panic!("unknown type: {e}"),
        }
    }
    events
        .iter()
        .filter(|e| e["type"] == "alert")
        .cloned()
        .collect()
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
open(W + '/hot', 'w').close()
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
    out['long_len'] = open_too_long(W, 'z')
    fd = os.open(W, os.O_RDONLY | os.O_DIRECTORY)
    out['dir_fd'] = fd
    os.close(fd)
    os.chdir('/')
    return json.dumps(out)
def phase_burst():
    for i in range(10000):
        os.close(os.open(W + '/hot', os.O_RDONLY))
def phase_cleanup():
    import shutil
    shutil.rmtree(D)
"#;

fn workload(m: &str) -> Phases {
    Phases::spawn(&(SCRIPT.replace("MARKER", m) + common::PY_OPEN_TOO_LONG))
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
    let events = check_all(&json_lines(&out));
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
    // Opened: by the file it opened.
    assert_eq!(
        (
            e["matched_by"].as_str(),
            e["syscall"].as_str(),
            e["abi"].as_str()
        ),
        (Some("file"), Some("openat"), Some("x86_64"))
    );
    assert_eq!(bytes(e, "name"), secret);
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
    assert_eq!(
        e["matched_by"], "name",
        "a failed open has no file: by its name"
    );

    // Relative to the working directory, then through a symlink: by the file itself.
    let f1 = format!("{watched}/f1");
    let hits = alerts(&events, "open", f1.as_bytes());
    assert_eq!(hits.len(), 2, "{hits:?}");
    assert_eq!(
        (&hits[0]["matched_by"], &hits[0]["ret"], &hits[0]["name"]),
        (&"file".into(), &info["rel_fd"], &"watched dir/f1".into())
    );
    assert_eq!(
        (&hits[1]["matched_by"], &hits[1]["ret"]),
        (&"file".into(), &info["link_fd"])
    );
    assert_eq!(hits[1]["name"], format!("{d}/link/f1"));
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
    let agent = common::start_tool(&bin, &["filewatch", "--json", "-v"]);
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
    let events = check_all(&json_lines(&out));
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

/// Every other way to reach a watched file: each op below runs in a child of its own (its pid
/// names it) and must raise exactly the alerts listed, on the watched path.
const BYPASS: &str = r#"
import ctypes, json, os, subprocess, sys
D = '/tmp/MARKER'
S, W, V, V2, V3, N = D + '/secret', D + '/wdir', D + '/victim', D + '/victim2', D + '/victim3', D + '/later'
URING = 'URING'
libc = ctypes.CDLL(None, use_errno=True)
os.makedirs(W + '/sub')
os.makedirs(D + '/zz')
for f in (S, V, V2, V3, W + '/f', W + '/x', W + '/y'):
    open(f, 'w').close()
os.chmod(S, 0o600)
deep = '/tmp/MARKER-deep/' + '/'.join(['a'] * 120)
os.makedirs(deep)

def private_ns():
    assert libc.unshare(0x00020000) == 0  # CLONE_NEWNS
    assert libc.mount(b'none', b'/', None, 0x4000 | 0x40000, None) == 0  # MS_REC|MS_PRIVATE

def bind(src, dst):
    assert libc.mount(src.encode(), dst.encode(), None, 0x1000, None) == 0, ctypes.get_errno()  # MS_BIND

def child(fn):
    pid = os.fork()
    if pid == 0:
        try:
            fn()
            os._exit(0)
        except BaseException as e:
            print(repr(e), file=sys.stderr, flush=True)
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    assert status == 0, (fn.__name__, status)
    return pid

def rd(p):
    os.close(os.open(p, os.O_RDONLY))

def op_abs():
    rd(S)
def op_creat():
    fd = libc.syscall(85, N.encode(), 0o600)  # creat(2) itself, not openat
    assert fd >= 0
def op_hardlink():
    rd(D + '/hl')
def op_symlink():
    rd('/tmp/MARKER-link')
def op_bind_file():
    private_ns()
    open('/tmp/MARKER-bfile', 'w').close()
    bind(S, '/tmp/MARKER-bfile')
    rd('/tmp/MARKER-bfile')
def op_bind_dir():
    private_ns()
    os.makedirs('/tmp/MARKER-bdir', exist_ok=True)
    bind(D, '/tmp/MARKER-bdir')
    rd('/tmp/MARKER-bdir/secret')
    rd('/tmp/MARKER-bdir/wdir/f')
def op_chroot():
    os.chroot(D)
    rd('/secret')
def op_renamed_parent():
    rd(D + '/wdir2/f')
def op_deep_relative():
    os.chdir(deep)
    rd('../' * 122 + D[1:] + '/secret')
def op_proc_fd():
    fd = os.open(S, os.O_PATH)
    rd('/proc/self/fd/%d' % fd)
def op_handle():
    class H(ctypes.Structure):
        _fields_ = [('bytes', ctypes.c_uint), ('type', ctypes.c_int), ('f', ctypes.c_ubyte * 128)]
    h, mnt = H(), ctypes.c_int()
    h.bytes = 128
    assert libc.name_to_handle_at(-100, S.encode(), ctypes.byref(h), ctypes.byref(mnt), 0) == 0
    mfd = os.open('/', os.O_RDONLY)
    fd = libc.syscall(304, mfd, ctypes.byref(h), 0)  # open_by_handle_at
    assert fd >= 0, ctypes.get_errno()
def op_uring_open():
    subprocess.run([URING, 'openat', S], check=True, stdout=subprocess.DEVNULL)
def op_uring_unlink():
    subprocess.run([URING, 'unlinkat', V2], check=True, stdout=subprocess.DEVNULL)
def op_unlink_via_symlinked_dir():
    os.unlink('/tmp/MARKER-dlink/victim')
def op_unlink_noncanonical():
    os.unlink(D + '/./wdir//x')
def op_rename_noncanonical():
    os.rename(D + '/zz/../wdir/y', D + '/y-moved')
def op_replace():
    open(D + '/v3new', 'w').close()
    os.rename(D + '/v3new', V3)
def op_rename_away():
    os.rename(S, D + '/moved')
def op_read_moved():
    rd(D + '/moved')
def op_prefix_below():
    os.makedirs(D + '/pre-dir')
    os.close(os.open(D + '/pre-dir/a', os.O_WRONLY | os.O_CREAT, 0o644))

def phase_ops():
    pids = {}
    os.link(S, D + '/hl')
    os.symlink(S, '/tmp/MARKER-link')
    os.symlink(D, '/tmp/MARKER-dlink')
    for name in ('abs', 'creat', 'hardlink', 'symlink', 'bind_file', 'bind_dir', 'chroot'):
        pids[name] = child(globals()['op_' + name])
    os.rename(W, D + '/wdir2')
    pids['renamed_parent'] = child(op_renamed_parent)
    os.rename(D + '/wdir2', W)
    for name in ('deep_relative', 'proc_fd', 'handle', 'uring_open', 'uring_unlink',
                 'unlink_via_symlinked_dir', 'unlink_noncanonical', 'rename_noncanonical',
                 'replace', 'prefix_below', 'rename_away'):
        pids[name] = child(globals()['op_' + name])
    return json.dumps(pids)

def phase_after():
    return json.dumps({'read_moved': child(op_read_moved)})

def phase_cleanup():
    import shutil
    for p in ('/tmp/MARKER-link', '/tmp/MARKER-dlink', '/tmp/MARKER-bfile'):
        try:
            os.unlink(p)
        except FileNotFoundError:
            pass
    for p in (D, '/tmp/MARKER-deep', '/tmp/MARKER-bdir'):
        shutil.rmtree(p, ignore_errors=True)
"#;

#[test]
fn every_other_name_of_a_watched_file_is_caught() {
    let Some(bin) = agent_bin() else { return };
    let m = marker("bypass");
    let d = format!("/tmp/{m}");
    let uring = common::helper("uring");
    let mut w = Phases::spawn(
        &BYPASS
            .replace("MARKER", &m)
            .replace("'URING'", &format!("{:?}", uring.display().to_string())),
    );
    let watches = [
        format!("{d}/secret"),
        format!("{d}/wdir/"),
        format!("{d}/victim"),
        format!("{d}/victim2"),
        format!("{d}/victim3"),
        format!("{d}/later"),
        format!("{d}/pre-*"),
    ];
    let mut cmd = Command::new(&bin);
    cmd.args(["filewatch", "--json", "-v"]).args(&watches);
    let agent = start(cmd);
    let pids: Value = serde_json::from_str(&w.run("ops")).unwrap();
    // Past a report tick: the watch follows the renamed file.
    std::thread::sleep(Duration::from_millis(1500));
    let after: Value = serde_json::from_str(&w.run("after")).unwrap();
    std::thread::sleep(Duration::from_millis(400));
    let (out, err) = agent.stop();
    w.run("cleanup");
    w.finish();
    let events = check_all(&json_lines(&out));
    let by = |name: &str| -> Vec<&Value> {
        let pid = pids.get(name).or_else(|| after.get(name)).unwrap().as_u64();
        // The op's own process, or the helper program it ran (io_uring's).
        events
            .iter()
            .filter(|e| e["pid"].as_u64() == pid || e["ppid"].as_u64() == pid)
            .collect()
    };
    let secret = format!("{d}/secret");
    let check = |name: &str, n: usize, op: &str, path: &str, watch: &str| {
        let hits = by(name);
        assert_eq!(hits.len(), n, "{name}: {hits:#?}\n{err:?}");
        for h in &hits {
            assert_eq!(
                (h["op"].as_str(), h["watch"].as_str()),
                (Some(op), Some(watch)),
                "{name}: {h}"
            );
        }
        assert_eq!(hits[n - 1]["path"], path, "{name}: {hits:?}");
        hits
    };
    let h = check("abs", 1, "open", &secret, &secret);
    assert_eq!(h[0]["matched_by"], "file");
    let later = format!("{d}/later");
    let h = check("creat", 1, "open", &later, &later);
    assert_eq!(
        (h[0]["syscall"].as_str(), h[0]["flags_text"].as_str()),
        (Some("creat"), Some("O_WRONLY|O_CREAT|O_TRUNC"))
    );
    let h = check("hardlink", 1, "open", &secret, &secret);
    assert_eq!(h[0]["name"], format!("{d}/hl"));
    let h = check("symlink", 1, "open", &secret, &secret);
    assert_eq!(h[0]["name"], format!("/tmp/{m}-link"));
    let h = check("bind_file", 1, "open", &secret, &secret);
    assert_eq!(h[0]["name"], format!("/tmp/{m}-bfile"));
    // Through a bind mount of the directory: the watched file, then a file under the watched
    // directory, each against its own entry.
    let h = by("bind_dir");
    assert_eq!(h.len(), 2, "bind_dir: {h:#?}");
    let wdir_f = format!("{d}/wdir/f");
    let wdir = format!("{d}/wdir/");
    for (hit, path, watch) in [(h[0], &secret, &secret), (h[1], &wdir_f, &wdir)] {
        assert_eq!(
            (
                hit["op"].as_str(),
                hit["path"].as_str(),
                hit["watch"].as_str()
            ),
            (Some("open"), Some(path.as_str()), Some(watch.as_str())),
            "bind_dir: {hit}"
        );
    }
    let h = check("chroot", 1, "open", &secret, &secret);
    assert_eq!(h[0]["name"], "/secret");
    let h = by("renamed_parent");
    assert_eq!(h.len(), 1, "{events:#?}");
    assert_eq!(
        (h[0]["watch"].as_str(), h[0]["matched_by"].as_str()),
        (Some(format!("{d}/wdir/").as_str()), Some("file"))
    );
    assert!(h[0]["path"].as_str().unwrap().ends_with("/f"), "{h:?}");
    let h = check("deep_relative", 1, "open", &secret, &secret);
    assert!(h[0]["name"].as_str().unwrap().starts_with("../../"));
    let h = check("proc_fd", 2, "open", &secret, &secret);
    assert!(
        h[0]["flags_text"].as_str().unwrap().contains("O_PATH"),
        "{h:?}"
    );
    assert!(h[1]["name"].as_str().unwrap().starts_with("/proc/self/fd/"));
    let h = check("handle", 1, "open", &secret, &secret);
    assert_eq!(
        (h[0]["syscall"].as_str(), h[0]["name"].as_str()),
        (Some("open_by_handle_at"), Some(""))
    );
    let h = check("uring_open", 1, "open", &secret, &secret);
    assert_eq!(h[0]["syscall"], "io_uring");
    let v2 = format!("{d}/victim2");
    let h = check("uring_unlink", 1, "unlink", &v2, &v2);
    assert_eq!(
        (h[0]["syscall"].as_str(), h[0]["ret"].as_i64()),
        (Some("io_uring"), Some(0))
    );
    let v = format!("{d}/victim");
    let h = check("unlink_via_symlinked_dir", 1, "unlink", &v, &v);
    assert_eq!(h[0]["matched_by"], "file");
    check(
        "unlink_noncanonical",
        1,
        "unlink",
        &format!("{d}/wdir/x"),
        &format!("{d}/wdir/"),
    );
    let h = check(
        "rename_noncanonical",
        1,
        "rename",
        &format!("{d}/wdir/y"),
        &format!("{d}/wdir/"),
    );
    assert_eq!(h[0]["renamed_to"], format!("{d}/y-moved"));
    let v3 = format!("{d}/victim3");
    let h = check("replace", 1, "rename", &v3, &v3);
    assert_eq!(h[0]["renamed_from"], format!("{d}/v3new"));
    let h = check(
        "prefix_below",
        1,
        "open",
        &format!("{d}/pre-dir/a"),
        &format!("{d}/pre-*"),
    );
    assert!(h[0]["flags_text"].as_str().unwrap().contains("O_CREAT"));
    let h = check("rename_away", 1, "rename", &secret, &secret);
    assert_eq!(h[0]["renamed_to"], format!("{d}/moved"));
    let h = by("read_moved");
    assert_eq!(
        h.len(),
        1,
        "the watch follows the file it watched: {events:#?}"
    );
    assert_eq!(
        (h[0]["watch"].as_str(), h[0]["path"].as_str()),
        (Some(secret.as_str()), Some(format!("{d}/moved").as_str()))
    );
}

/// A thread that rewrites the name while another opens it: every open that reached the
/// watched file is reported, and nothing else is.
const RACE: &str = r#"
import ctypes, os, threading
D = '/tmp/MARKER'
S, U = D + '/s', D + '/u'
os.makedirs(D)
for f in (S, U):
    open(f, 'w').close()
ino = os.stat(S).st_ino
libc = ctypes.CDLL(None, use_errno=True)
buf = ctypes.create_string_buffer(S.encode())
def flip(stop):
    a, b = S.encode(), U.encode()
    while not stop.is_set():
        ctypes.memmove(buf, b, len(b))
        ctypes.memmove(buf, a, len(a))
def phase_race():
    stop = threading.Event()
    t = threading.Thread(target=flip, args=(stop,))
    t.start()
    hits = 0
    for _ in range(20000):
        fd = libc.open(buf, os.O_RDONLY)
        if fd >= 0:
            if os.fstat(fd).st_ino == ino:
                hits += 1
            os.close(fd)
    stop.set()
    t.join()
    return str(hits)
def phase_cleanup():
    import shutil
    shutil.rmtree(D)
"#;

/// Starts `script` (its MARKER made unique with `tag`), then filewatch on the file
/// /tmp/MARKER/s it makes: that directory, the workload and the tool.
fn watch_s(bin: &Path, script: &str, tag: &str) -> (String, Phases, Running) {
    let m = marker(tag);
    let d = format!("/tmp/{m}");
    let w = Phases::spawn(&script.replace("MARKER", &m));
    let agent = common::start_tool(bin, &["filewatch", "--json", "-v", &format!("{d}/s")]);
    (d, w, agent)
}

#[test]
fn a_thread_rewriting_the_name_cannot_hide_an_open() {
    let Some(bin) = agent_bin() else { return };
    let (d, mut w, agent) = watch_s(&bin, RACE, "race");
    let hits: u64 = w.run("race").parse().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let (out, _) = agent.stop();
    w.run("cleanup");
    w.finish();
    let events = check_all(&json_lines(&out));
    // On a loaded machine the reader can fall behind 20,000 alerts: each one it could not
    // take is counted.
    let lost: u64 = json_lines(&out)
        .iter()
        .filter_map(|e| e["lost"].as_u64())
        .sum();
    assert!(hits > 0);
    assert!(
        events.iter().all(|e| e["path"] == format!("{d}/s")),
        "no alert for the other name"
    );
    assert_eq!(
        events.len() as u64 + lost,
        hits,
        "one alert per open that reached the watched file ({lost} counted as lost)"
    );
}

/// Anyone can fail to open a watched file as fast as they like: the successful opens of it are
/// never lost to that flood, and each failed one is an alert or counted in a failures line.
const FLOOD: &str = r#"
import os, subprocess
D = '/tmp/MARKER'
S = D + '/s'
os.makedirs(D)
open(S, 'w').close()
os.chmod(S, 0o600)
os.chmod(D, 0o755)
FLOODER = 'import os, sys, time\nn = 0\nend = time.time() + 2\nwhile time.time() < end:\n    for _ in range(1000):\n        try:\n            os.open(sys.argv[1], os.O_RDONLY)\n        except PermissionError:\n            n += 1\nprint(n)\n'
def phase_flood():
    floods = [subprocess.Popen(['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups',
                                '/usr/bin/python3', '-c', FLOODER, S], stdout=subprocess.PIPE)
              for _ in range(3)]
    ok = 0
    for _ in range(2000):
        os.close(os.open(S, os.O_RDONLY))
        ok += 1
    failed = sum(int(p.communicate()[0]) for p in floods)
    return '%d %d' % (ok, failed)
def phase_cleanup():
    import shutil
    shutil.rmtree(D)
"#;

#[test]
fn a_flood_of_failures_cannot_push_out_a_success() {
    let Some(bin) = agent_bin() else { return };
    let (_, mut w, agent) = watch_s(&bin, FLOOD, "flood");
    let counts = w.run("flood");
    let (ok, failed): (u64, u64) = {
        let mut it = counts.split(' ').map(|n| n.parse().unwrap());
        (it.next().unwrap(), it.next().unwrap())
    };
    std::thread::sleep(Duration::from_millis(1500));
    let (out, _) = agent.stop();
    w.run("cleanup");
    w.finish();
    let lines = json_lines(&out);
    let events = check_all(&lines);
    let me = w_pid_filter(&events, 0);
    assert_eq!(me.len() as u64, ok, "every success reported");
    assert!(me.iter().all(|e| e["ret"].as_i64().unwrap() >= 0));
    let alerts = events
        .iter()
        .filter(|e| e["uid"] == 65534 && e["ret"] == -13)
        .count() as u64;
    let folded: u64 = lines
        .iter()
        .filter(|e| e["type"] == "failures" && e["uid"] == 65534)
        .map(|e| e["count"].as_u64().unwrap())
        .sum();
    let lost: u64 = lines.iter().filter_map(|e| e["lost"].as_u64()).sum();
    assert_eq!(lost, 0, "nothing lost");
    assert!(failed > 10_000, "a real flood: {failed}");
    assert_eq!(alerts + folded, failed, "each failure sent or counted");
    assert!(alerts <= 3 * 4, "a few alerts, the rest counted: {alerts}");
}

fn w_pid_filter(events: &[Value], uid: u64) -> Vec<&Value> {
    events
        .iter()
        .filter(|e| e["uid"].as_u64() == Some(uid))
        .collect()
}
