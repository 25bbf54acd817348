//! execsnoop against the host kernel, through the real static binary.

mod common;

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::process::{Command, Stdio};

use common::{agent_bin, json_lines, marker, start, Ty};
use serde_json::{json, Value};

/// docs/tools/execsnoop.md, JSON.
const EXEC_REQUIRED: &[(&str, Ty)] = event_schema![
    pid: Uint, tid: Uint, ppid: Uint, uid: Uint, comm: Str, abi: Str, ret: Int, args: StrArray,
    args_truncated: Bool, args_read_error: Bool
];
const EXEC_OPTIONAL: &[(&str, Ty)] = schema![comm_hex: Str, args_hex: StrArray];

#[test]
fn schema_is_the_documented_one() {
    common::assert_documented("tools/execsnoop.md", "JSON", EXEC_REQUIRED, EXEC_OPTIONAL);
    common::assert_documented("json.md", "Lost events", common::LOST_REQUIRED, &[]);
}

fn check_all(events: &[Value]) {
    common::check_events(events, "exec", EXEC_REQUIRED, EXEC_OPTIONAL);
}

/// The event whose args[1] is `m`.
fn find<'a>(events: &'a [Value], m: &str) -> &'a Value {
    let hits: Vec<&Value> = events
        .iter()
        .filter(|e| e["args"].get(1).and_then(Value::as_str) == Some(m))
        .collect();
    assert_eq!(
        hits.len(),
        1,
        "expected one event for {m}, got {}",
        hits.len()
    );
    hits[0]
}

#[test]
fn execsnoop_sees_our_execs_with_exact_args() {
    let Some(bin) = agent_bin() else { return };
    let agent = common::start_tool(
        &bin,
        &["execsnoop", "--json", "-x", "-v", "--max-args", "250"],
    );
    let me = std::process::id() as u64;

    // Spaces, quotes, a newline, an empty argument and invalid UTF-8, byte for byte.
    let odd = marker("odd");
    let invalid: Vec<u8> = b"bad\xff\xfeutf8".to_vec();
    let mut c = Command::new("/bin/echo");
    c.arg(&odd)
        .args(["with space", "\"quoted\" 'single'", "new\nline", ""])
        .arg(OsString::from_vec(invalid.clone()));
    let odd_child = c.stdout(Stdio::null()).spawn().unwrap();
    let odd_pid = odd_child.id() as u64;

    // 200 arguments.
    let many = marker("many");
    let many_args: Vec<String> = (0..198).map(|i| format!("a{i}")).collect();
    let many_child = Command::new("/bin/true")
        .arg(&many)
        .args(&many_args)
        .spawn()
        .unwrap();
    let many_pid = many_child.id() as u64;

    // A failing exec: ENOENT.
    let missing = format!("/nonexistent/{}", marker("fail"));
    let err = Command::new(&missing)
        .arg(marker("failarg"))
        .spawn()
        .unwrap_err();
    assert_eq!(err.raw_os_error(), Some(2));

    // execveat(fd, "", ..., AT_EMPTY_PATH) through fexecve.
    let at = marker("at");
    let py = format!(
        "import os\nfd = os.open('/bin/echo', os.O_RDONLY)\nos.execve(fd, ['echo', '{at}'], {{}})"
    );
    let at_child = Command::new("python3")
        .args(["-c", &py])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let at_pid = at_child.id() as u64;

    for mut c in [odd_child, many_child, at_child] {
        assert!(c.wait().unwrap().success());
    }
    let out = agent.settle_and_stop();
    let events = json_lines(&out);
    check_all(&events);

    let e = find(&events, &odd);
    assert_eq!(
        (e["pid"].as_u64(), e["ppid"].as_u64(), e["ret"].as_i64()),
        (Some(odd_pid), Some(me), Some(0))
    );
    assert_eq!(e["comm"], "echo");
    assert_eq!(e["uid"], 0);
    let expect_plain = json!([
        "/bin/echo",
        odd,
        "with space",
        "\"quoted\" 'single'",
        "new\nline",
        "",
        "bad\u{fffd}\u{fffd}utf8"
    ]);
    assert_eq!(e["args"], expect_plain);
    let hexes = e["args_hex"]
        .as_array()
        .expect("args_hex present for invalid UTF-8");
    assert_eq!(hexes[6], common::hex(&invalid));
    assert_eq!(hexes[1], common::hex(odd.as_bytes()));
    assert_eq!(e["args_truncated"], false);

    let e = find(&events, &many);
    assert_eq!(
        (e["pid"].as_u64(), e["ppid"].as_u64(), e["ret"].as_i64()),
        (Some(many_pid), Some(me), Some(0))
    );
    let args = e["args"].as_array().unwrap();
    assert_eq!(args.len(), 200);
    assert_eq!(args[199], "a197");
    assert_eq!(e["args_truncated"], false);

    let fails: Vec<&Value> = events
        .iter()
        .filter(|e| e["args"].get(0).and_then(Value::as_str) == Some(missing.as_str()))
        .collect();
    assert_eq!(fails.len(), 1, "the failed exec of {missing}");
    assert_eq!(fails[0]["ret"], -2);
    assert_eq!(fails[0]["ppid"].as_u64(), Some(me));

    let e = find(&events, &at);
    assert_eq!(
        (e["pid"].as_u64(), e["ret"].as_i64()),
        (Some(at_pid), Some(0))
    );
    assert_eq!(e["args"], json!(["echo", at]));
}

#[test]
fn symlink_named_execsnoop_runs_the_tool_and_max_args_truncates() {
    let Some(bin) = agent_bin() else { return };
    let link = common::link_named(&bin, "execsnoop");
    let mut cmd = Command::new(&link);
    cmd.args(["--json", "-v", "--max-args=3"]);
    let agent = start(cmd);
    let m = marker("link");
    let child = Command::new("/bin/true")
        .args([m.as_str(), "b", "c", "d"])
        .spawn()
        .unwrap();
    let pid = child.id() as u64;
    assert!(child.wait_with_output().unwrap().status.success());
    let out = agent.settle_and_stop();
    std::fs::remove_dir_all(link.parent().unwrap()).unwrap();
    let events = json_lines(&out);
    check_all(&events);
    let e = find(&events, &m);
    assert_eq!(e["pid"].as_u64(), Some(pid));
    assert_eq!(e["args"], json!(["/bin/true", m, "b"]));
    assert_eq!(e["args_truncated"], true);
}

#[test]
fn text_mode_uid_filter_and_failed_execs_hidden() {
    let Some(bin) = agent_bin() else { return };
    let agent = common::start_tool(&bin, &["execsnoop", "-v", "-U", "-u", "65534"]);
    let as_root = marker("root");
    let as_nobody = marker("nobody");
    let fail = marker("nobody-fail");
    let run = |args: &[&str]| {
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .args(args)
            .status()
            .unwrap()
    };
    assert!(Command::new("/bin/true")
        .arg(&as_root)
        .status()
        .unwrap()
        .success());
    assert!(run(&["/bin/true", &as_nobody]).success());
    assert!(!run(&[&format!("/nonexistent/{fail}")]).success());
    let out = agent.settle_and_stop();
    let mut lines = out.lines();
    assert_eq!(
        lines.next(),
        Some("UID    PCOMM            PID    PPID   RET ARGS")
    );
    let mine: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("ebpf-rust-test-"))
        .collect();
    assert_eq!(mine.len(), 1, "only nobody's successful exec: {out}");
    let cols: Vec<&str> = mine[0].split_whitespace().collect();
    assert_eq!(cols[0], "65534");
    assert_eq!(cols[1], "true");
    assert_eq!(cols[4], "0");
    assert_eq!(&cols[5..], ["/bin/true", as_nobody.as_str()]);
}

#[test]
fn duration_ends_the_run_and_errors_name_the_fix() {
    let Some(bin) = agent_bin() else { return };
    check_all(&json_lines(&common::run_to_end(
        &bin,
        &["execsnoop", "--json", "--duration", "1"],
    )));

    // Without privileges: exit code 4 and the capabilities to grant.
    common::assert_needs_privileges(&bin, "execsnoop", &["--duration", "1"]);

    common::assert_usage_error(&bin, "execsnoop", &["--max-args", "9999"], "--max-args");
    let out = Command::new(&bin).args(["nosuchtool"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn list_reports_execsnoop_runnable() {
    let Some(bin) = agent_bin() else { return };
    let out = Command::new(&bin)
        .args(["list", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let tools = v["tools"].as_array().unwrap();
    let es = tools.iter().find(|t| t["name"] == "execsnoop").unwrap();
    assert_eq!(es["runnable"], true, "{v}");
    assert_eq!(es["missing"], json!([]));
    let help = Command::new(&bin).arg("--help").output().unwrap();
    assert!(String::from_utf8_lossy(&help.stdout).contains("execsnoop"));
}

#[test]
fn sigterm_ends_the_tool_even_when_its_reader_stopped_reading() {
    let Some(bin) = agent_bin() else { return };
    let mut cmd = Command::new(&bin);
    cmd.args(["execsnoop", "-v", "--max-args", "100"]);
    // `start` reads stderr only: stdout fills its pipe and the agent blocks writing.
    let mut agent = start(cmd);
    let filler: Vec<String> = (0..90).map(|i| format!("filler-argument-{i:04}")).collect();
    for _ in 0..60 {
        Command::new("/bin/true").args(&filler).status().unwrap();
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    let pid = nix::unistd::Pid::from_raw(agent.child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if let Some(status) = agent.child.try_wait().unwrap() {
            assert!(
                status.code().is_some(),
                "ended by its own exit, not killed: {status}"
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "SIGTERM did not end a tool blocked on a full pipe"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
