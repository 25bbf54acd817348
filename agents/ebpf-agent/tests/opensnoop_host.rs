//! opensnoop against the host kernel, through the real static binary.

mod common;

use std::process::Command;

use common::{agent_bin, json_lines, marker, trace_phase, Phases, Ty};
use serde_json::Value;

/// docs/tools/opensnoop.md, JSON.
const OPEN_REQUIRED: &[(&str, Ty)] = event_schema![
    pid: Uint, tid: Uint, uid: Uint, comm: Str, syscall: Str, abi: Str, dfd: Int, flags: Uint,
    flags_text: Str, mode: Uint, ret: Int, fd: Int, err: Uint, path: Str, path_full: Bool,
    path_incomplete: Bool, path_read_error: Bool
];
const OPEN_OPTIONAL: &[(&str, Ty)] = schema![comm_hex: Str, path_hex: Str];

#[test]
fn schema_is_the_documented_one() {
    common::assert_documented("tools/opensnoop.md", "JSON", OPEN_REQUIRED, OPEN_OPTIONAL);
}

fn check_all(events: &[Value]) {
    common::check_events(events, "open", OPEN_REQUIRED, OPEN_OPTIONAL);
}

/// The exact bytes of an event's path (from `path_hex` when it is not UTF-8).
fn path_bytes(e: &Value) -> Vec<u8> {
    match e["path_hex"].as_str() {
        Some(h) => (0..h.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
            .collect(),
        None => e["path"].as_str().unwrap().as_bytes().to_vec(),
    }
}

/// The events whose path ends with `tail` (exact bytes).
fn with_tail<'a>(events: &'a [Value], tail: &[u8]) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["type"] == "open" && path_bytes(e).ends_with(tail))
        .collect()
}

fn one<'a>(events: &'a [Value], tail: &[u8]) -> &'a Value {
    let hits = with_tail(events, tail);
    let [hit] = hits[..] else {
        panic!(
            "expected one open of ...{:?}, got {hits:?}",
            String::from_utf8_lossy(tail)
        )
    };
    hit
}

/// The python workload: a scratch directory named after the marker, and the calls each test
/// makes, returning what the test needs to know (tids, fds) as JSON.
const SCRIPT: &str = r#"
import ctypes, json, os, threading
M = 'MARKER'
D = '/tmp/' + M
os.makedirs(D + '/sub dir', exist_ok=True)
libc = ctypes.CDLL(None, use_errno=True)
def openat2(dfd, path, flags, mode):
    how = (ctypes.c_uint64 * 3)(flags, mode, 0)
    return libc.syscall(437, dfd, path, ctypes.byref(how), 24)
def phase_opens():
    out = {}
    fd = os.open(D + '/with space', os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
    out['space_fd'] = fd
    os.close(fd)
    odd = D.encode() + b'/new\nline\xff'
    fd = os.open(odd, os.O_RDONLY | os.O_CREAT, 0o600)
    out['odd_fd'] = fd
    os.close(fd)
    try:
        os.open(D + '/missing', os.O_RDONLY)
    except FileNotFoundError:
        pass
    out['long_len'] = open_too_long(D, 'x')
    dfd = os.open(D, os.O_RDONLY | os.O_DIRECTORY)
    out['dfd'] = dfd
    fd = os.open('sub dir/at', os.O_RDWR | os.O_CREAT, 0o644, dir_fd=dfd)
    out['at_fd'] = fd
    os.close(fd)
    fd = openat2(dfd, b'sub dir/two', os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    out['two_fd'] = fd
    if fd >= 0:
        os.close(fd)
    os.close(dfd)
    box = {}
    def in_thread():
        box['tid'] = threading.get_native_id()
        fd = os.open(D + '/from thread', os.O_WRONLY | os.O_CREAT, 0o644)
        os.close(fd)
    t = threading.Thread(target=in_thread)
    t.start()
    t.join()
    out['thread_tid'] = box['tid']
    return json.dumps(out)
def phase_relative():
    os.chdir(D + '/sub dir')
    for name in ['rel name', '../up', './dot']:
        try:
            os.close(os.open(name, os.O_RDONLY))
        except FileNotFoundError:
            pass
    os.chdir('/dev/shm')
    try:
        os.open(M + '-shm', os.O_RDONLY)
    except FileNotFoundError:
        pass
    deep = D + '/' + '/'.join(['d'] * 60)
    os.makedirs(deep, exist_ok=True)
    os.chdir(deep)
    try:
        os.open('deep', os.O_RDONLY)
    except FileNotFoundError:
        pass
    os.chdir('/')
    dfd = os.open(D + '/sub dir', os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.open('via dfd', os.O_RDONLY, dir_fd=dfd)
    except FileNotFoundError:
        pass
    os.close(dfd)
    return str(dfd)
def phase_cleanup():
    import shutil
    shutil.rmtree(D)
"#;

fn workload(m: &str) -> Phases {
    Phases::spawn(&(SCRIPT.replace("MARKER", m) + common::PY_OPEN_TOO_LONG))
}

#[test]
fn opensnoop_sees_each_open_exactly() {
    let Some(bin) = agent_bin() else { return };
    let m = marker("open");
    let mut w = workload(&m);
    let pid = w.pid() as u64;
    let agent = common::start_tool(&bin, &["opensnoop", "--json", "-v", "-p", &pid.to_string()]);
    let info: Value = serde_json::from_str(&w.run("opens")).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let (out, err) = agent.stop();
    w.run("cleanup");
    w.finish();
    let events = json_lines(&out);
    check_all(&events);
    assert!(
        err.iter()
            .any(|l| l.contains(": tracing:") && l.contains("openat")),
        "{err:?}"
    );
    assert!(
        events.iter().all(|e| e["pid"].as_u64() == Some(pid)),
        "-p {pid} let others through"
    );
    let dir = format!("/tmp/{m}");

    let e = one(&events, b"/with space");
    assert_eq!(e["path"], format!("{dir}/with space"));
    assert_eq!((e["tid"].as_u64(), e["uid"].as_u64()), (Some(pid), Some(0)));
    assert_eq!(e["ret"], info["space_fd"]);
    assert_eq!((&e["fd"], e["err"].as_u64()), (&info["space_fd"], Some(0)));
    assert_eq!(e["flags_text"], "O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC");
    assert_eq!(e["mode"], 0o640);
    assert_eq!(e["syscall"], "openat");
    assert_eq!(e["dfd"], -100);
    assert_eq!(e["comm"], "python3");
    assert_eq!(e["path_full"], false);

    let e = one(&events, b"/new\nline\xff");
    let mut odd = format!("{dir}/new\nline").into_bytes();
    odd.push(0xff);
    assert_eq!(e["path_hex"], common::hex(&odd));
    assert_eq!(e["path"], format!("{dir}/new\nline\u{fffd}"));
    assert_eq!(e["ret"], info["odd_fd"]);

    let e = one(&events, b"/missing");
    assert_eq!(
        (e["ret"].as_i64(), e["fd"].as_i64(), e["err"].as_u64()),
        (Some(-2), Some(-1), Some(2))
    );

    let long_len = info["long_len"].as_u64().unwrap() as usize;
    assert_eq!(long_len, 4000);
    let e = one(&events, b"yyyy");
    let p = path_bytes(e);
    assert_eq!(p.len(), long_len, "the 4,000-byte path is whole");
    assert!(p.starts_with(format!("{dir}/xxx").as_bytes()));
    assert_eq!(e["ret"], -2);

    let e = one(&events, b"sub dir/at");
    assert_eq!(e["path"], "sub dir/at", "relative, as given, without -F");
    assert_eq!(e["dfd"], info["dfd"]);
    assert_eq!(e["flags_text"], "O_RDWR|O_CREAT|O_CLOEXEC");

    if info["two_fd"].as_i64().unwrap() >= 0 {
        let e = one(&events, b"sub dir/two");
        assert_eq!(e["syscall"], "openat2");
        assert_eq!(e["flags_text"], "O_WRONLY|O_CREAT|O_EXCL");
        assert_eq!(
            (&e["ret"], e["mode"].as_u64()),
            (&info["two_fd"], Some(0o600))
        );
    }

    let e = one(&events, b"/from thread");
    assert_eq!(e["tid"], info["thread_tid"]);
    assert_ne!(e["tid"].as_u64(), Some(pid));
}

#[test]
fn full_paths_are_resolved_in_the_kernel() {
    let Some(bin) = agent_bin() else { return };
    let m = marker("full");
    let mut w = workload(&m);
    let pid = w.pid();
    let mut cmd = Command::new(&bin);
    cmd.args(["opensnoop", "-F", "--json", "-v", "-p", &pid.to_string()]);
    let out = trace_phase(cmd, &mut w, "relative");
    w.run("cleanup");
    w.finish();
    let events = json_lines(&out);
    check_all(&events);
    let dir = format!("/tmp/{m}");
    for (tail, want, ret) in [
        ("/rel name", format!("{dir}/sub dir/rel name"), -2),
        ("/up", format!("{dir}/sub dir/../up"), -2),
        ("/dot", format!("{dir}/sub dir/./dot"), -2),
        ("/via dfd", format!("{dir}/sub dir/via dfd"), -2),
        // Across the tmpfs mounted on /dev/shm (itself on devtmpfs).
        ("-shm", format!("/dev/shm/{m}-shm"), -2),
    ] {
        let e = one(&events, tail.as_bytes());
        assert_eq!(e["path"], want);
        assert_eq!(e["path_full"], true, "{e}");
        assert_eq!(e["path_incomplete"], false, "{e}");
        assert_eq!(e["ret"], ret);
    }
    // 60 directories deep: the kernel walks 48 and says the head is missing.
    let e = one(&events, b"/d/deep");
    let p = e["path"].as_str().unwrap();
    assert_eq!(e["path_incomplete"], true, "{e}");
    assert!(p.starts_with("/d/d/") && p.ends_with("/d/deep"), "{p}");
    assert_eq!(p.split('/').filter(|c| *c == "d").count(), 48, "{p}");
}

#[test]
fn failed_only_uid_filter_and_text_columns() {
    let Some(bin) = agent_bin() else { return };
    let agent = common::start_tool(
        &bin,
        &["opensnoop", "-v", "-x", "-T", "-U", "-e", "-u", "65534"],
    );
    let as_nobody = |args: &[&str]| {
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .args(args)
            .status()
            .unwrap()
    };
    let fail_nobody = format!("/nonexistent/{}", marker("nobody"));
    let fail_root = format!("/nonexistent/{}", marker("root"));
    assert!(!as_nobody(&["cat", &fail_nobody]).success());
    assert!(as_nobody(&["cat", "/etc/hostname"]).success());
    assert!(!Command::new("cat")
        .arg(&fail_root)
        .status()
        .unwrap()
        .success());
    let out = agent.settle_and_stop();
    let mut lines = out.lines();
    assert_eq!(
        lines.next(),
        Some("TIME     UID     PID    COMM              FD ERR FLAGS    PATH")
    );
    let mine: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("ebpf-rust-test-"))
        .collect();
    assert_eq!(mine.len(), 1, "only nobody's failed open: {out}");
    let cols: Vec<&str> = mine[0].split_whitespace().collect();
    assert_eq!(cols[0].len(), 8, "HH:MM:SS: {}", mine[0]);
    assert_eq!(
        &cols[1..],
        [
            "65534",
            cols[2],
            "cat",
            "-1",
            "2",
            "00000000",
            fail_nobody.as_str()
        ]
    );
    assert!(
        !out.lines()
            .any(|l| l.ends_with(" /etc/hostname") && l.contains(" cat ")),
        "a successful open shown with -x: {out}"
    );
}

#[test]
fn tid_and_name_filters() {
    let Some(bin) = agent_bin() else { return };
    let m = marker("tid");
    let mut w = workload(&m);
    // The thread does not exist yet: -t picks the main thread, and the thread's open must not
    // show; -n keeps python3's opens and nothing else.
    let pid = w.pid();
    let mut cmd = Command::new(&bin);
    cmd.args([
        "opensnoop",
        "--json",
        "-v",
        "-t",
        &pid.to_string(),
        "-n",
        "pyth",
    ]);
    let out = trace_phase(cmd, &mut w, "opens");
    w.run("cleanup");
    w.finish();
    let events = json_lines(&out);
    check_all(&events);
    assert!(events.iter().all(|e| e["tid"].as_u64() == Some(pid as u64)));
    assert!(events.iter().all(|e| e["comm"] == "python3"));
    one(&events, b"/with space");
    assert!(with_tail(&events, b"/from thread").is_empty());
}

#[test]
fn nonexistent_pid_bad_flags_and_the_link() {
    let Some(bin) = agent_bin() else { return };
    // A process that is gone: the tool runs, sees nothing, exits 0.
    let gone = common::gone_pid();
    assert_eq!(
        common::run_to_end(&bin, &["opensnoop", "--json", "-p", &gone, "-d", "1"]),
        ""
    );

    common::assert_usage_errors(
        &bin,
        "opensnoop",
        &[
            (&["-p", "x"][..], "-p"),
            (&["--nope"], "--nope"),
            (&["-d", "0"], "-d"),
            (&["-u"], "-u"),
        ],
    );

    let link = common::link_named(&bin, "opensnoop");
    let out = Command::new(&link)
        .args(["-x", "-d", "1", "-p", &gone])
        .output()
        .unwrap();
    std::fs::remove_dir_all(link.parent().unwrap()).unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "PID    COMM              FD ERR PATH\n"
    );

    let out = Command::new(&bin)
        .args(["list", "--json"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let t = v["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "opensnoop")
        .unwrap();
    assert_eq!(t["runnable"], true, "{v}");
}
