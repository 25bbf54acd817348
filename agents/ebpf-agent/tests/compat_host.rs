//! The 32-bit (compat) syscall entry of the host's 64-bit kernel, through every syscall tool:
//! a freestanding i386 program (tests/compat32.c, `int $0x80`) makes the calls, which the
//! `syscalls:*` tracepoints never report; each tool must see them, named from the 32-bit table.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{agent_bin, compat32, json_lines, marker, run_compat32, start};
use serde_json::{json, Value};

fn run_tool(bin: &Path, args: &[&str], work: impl FnOnce()) -> Vec<Value> {
    let mut cmd = Command::new(bin);
    cmd.args(args).args(["--json", "-v"]);
    let agent = start(cmd);
    work();
    std::thread::sleep(Duration::from_millis(400));
    let (out, err) = agent.stop();
    assert!(
        err.iter().any(|l| l.contains("32-bit i386:")),
        "the -v line names the 32-bit syscalls traced: {err:?}"
    );
    json_lines(&out)
}

/// The one event of `events` that `pick` selects.
fn only(events: &[Value], pick: impl Fn(&Value) -> bool) -> &Value {
    let picked: Vec<&Value> = events.iter().filter(|e| pick(e)).collect();
    assert_eq!(picked.len(), 1, "{events:?}");
    picked[0]
}

/// Asserts that `event` has every field of the object `want`, with its value.
fn assert_fields(event: &Value, want: Value) {
    let want = want.as_object().unwrap();
    let got: serde_json::Map<String, Value> =
        want.keys().map(|k| (k.clone(), event[k].clone())).collect();
    assert_eq!(&got, want, "{event}");
}

/// Runs syscount with `args` while the 32-bit program makes `calls` getpid calls: its stdout.
fn syscount(bin: &Path, c32: &Path, args: &[&str], calls: &str) -> String {
    let mut cmd = Command::new(bin);
    cmd.arg("syscount").args(args);
    let agent = start(cmd);
    run_compat32(c32, &["getpid", calls]);
    std::thread::sleep(Duration::from_millis(300));
    agent.stop().0
}

#[test]
fn opensnoop_sees_32_bit_opens() {
    let (Some(bin), Some(c32)) = (agent_bin(), compat32()) else {
        return;
    };
    let m = marker("c32open");
    let (p1, p2) = (format!("/nonexistent/{m}-a"), format!("/nonexistent/{m}-b"));
    let mut pids = (0, 0);
    let events = run_tool(&bin, &["opensnoop"], || {
        pids = (
            run_compat32(&c32, &["open", &p1]),
            run_compat32(&c32, &["openat", &p2]),
        );
    });
    assert_fields(
        only(&events, |e| e["pid"] == pids.0),
        json!({"syscall": "open", "abi": "i386", "path": p1, "ret": -2, "dfd": -100}),
    );
    // A 32-bit AT_FDCWD read as an int.
    assert_fields(
        only(&events, |e| e["pid"] == pids.1),
        json!({"syscall": "openat", "abi": "i386", "path": p2, "dfd": -100}),
    );
    // The 64-bit opens of the same run are named as such.
    assert!(events
        .iter()
        .filter(|e| e["pid"] != pids.0 && e["pid"] != pids.1)
        // Other tests' 32-bit programs run beside this one (comm: the file's name, cut).
        .all(|e| e["abi"] == "x86_64"
            || e["comm"]
                .as_str()
                .is_some_and(|c| c.starts_with("ebpf-rust-comp"))));
}

#[test]
fn statsnoop_sees_32_bit_stats() {
    let (Some(bin), Some(c32)) = (agent_bin(), compat32()) else {
        return;
    };
    let m = marker("c32stat");
    let (p1, p2) = (format!("/nonexistent/{m}-a"), format!("/nonexistent/{m}-b"));
    let mut pids = (0, 0);
    let events = run_tool(&bin, &["statsnoop"], || {
        pids = (
            run_compat32(&c32, &["stat64", &p1]),
            run_compat32(&c32, &["fstatat64", &p2]),
        );
    });
    assert_fields(
        only(&events, |e| e["pid"] == pids.0),
        json!({"syscall": "stat64", "abi": "i386", "path": p1}),
    );
    assert_fields(
        only(&events, |e| e["pid"] == pids.1),
        json!({"syscall": "fstatat64", "abi": "i386", "fd": -100, "ret": -2}),
    );
}

#[test]
fn execsnoop_sees_32_bit_execs_and_their_argv() {
    let (Some(bin), Some(c32)) = (agent_bin(), compat32()) else {
        return;
    };
    let m = marker("c32exec");
    let missing = format!("/nonexistent/{m}");
    let mut pids = (0, 0);
    let events = run_tool(&bin, &["execsnoop", "-x"], || {
        pids.0 = run_compat32(&c32, &["exec", "/bin/true", &m, "two words"]);
        let out = Command::new(&c32)
            .args(["exec", &missing, &m])
            .status()
            .unwrap();
        assert_eq!(out.code(), Some(1), "the exec of a missing file fails");
    });
    // The first exec of each: the 64-bit one of compat32 itself, then its 32-bit one.
    assert_fields(
        only(&events, |e| e["pid"] == pids.0 && e["abi"] == "i386"),
        json!({
            "args": ["/bin/true", m, "two words"],
            "ret": 0,
            "comm": "true",
            "args_truncated": false
        }),
    );
    assert_fields(
        only(&events, |e| {
            e["abi"] == "i386" && e["args"][0] == missing.as_str()
        }),
        json!({"ret": -2, "args": [missing, m]}),
    );
}

#[test]
fn syscount_names_32_bit_calls_from_their_own_table() {
    let (Some(bin), Some(c32)) = (agent_bin(), compat32()) else {
        return;
    };
    let out = syscount(&bin, &c32, &["--json", "-v", "-T", "1000"], "777");
    let rows: Vec<Value> = json_lines(&out)
        .iter()
        .filter(|v| v["type"] == "interval")
        .flat_map(|v| v["rows"].as_array().unwrap().clone())
        .collect();
    let getpid = only(&rows, |r| r["syscall"] == "getpid" && r["abi"] == "i386");
    assert_eq!(getpid["id"], 20);
    assert_eq!(
        getpid["count"], 777,
        "777 int $0x80 getpid calls, none lost"
    );
    // Not taken for x86_64's 20, writev.
    assert!(
        rows.iter()
            .all(|r| r["abi"] == "x86_64" || r["abi"] == "i386"),
        "{rows:?}"
    );

    // In text: the name and its ABI.
    let out = syscount(&bin, &c32, &["-v", "-T", "1000"], "321");
    assert!(
        out.lines()
            .any(|l| l.starts_with("getpid (i386) ") && l.ends_with(" 321")),
        "{out}"
    );
}

#[test]
fn filewatch_sees_32_bit_opens_creates_and_unlinks() {
    let (Some(bin), Some(c32)) = (agent_bin(), compat32()) else {
        return;
    };
    let m = marker("c32watch");
    let d = format!("/tmp/{m}");
    std::fs::create_dir_all(format!("{d}/dir")).unwrap();
    std::fs::write(format!("{d}/secret"), b"s").unwrap();
    std::fs::write(format!("{d}/dir/doomed"), b"").unwrap();
    let mut pids = (0, 0, 0);
    let events = run_tool(
        &bin,
        &[
            "filewatch",
            &format!("{d}/secret"),
            &format!("{d}/dir/"),
            &format!("{d}/new-*"),
        ],
        || {
            pids = (
                run_compat32(&c32, &["open", &format!("{d}/secret")]),
                run_compat32(&c32, &["creat", &format!("{d}/new-1")]),
                run_compat32(&c32, &["unlink", &format!("{d}/dir/doomed")]),
            );
        },
    );
    std::fs::remove_dir_all(&d).unwrap();
    assert_fields(
        only(&events, |e| e["pid"] == pids.0),
        json!({
            "op": "open",
            "syscall": "open",
            "abi": "i386",
            "path": format!("{d}/secret"),
            "matched_by": "file"
        }),
    );
    assert_fields(
        only(&events, |e| e["pid"] == pids.1),
        json!({
            "syscall": "creat",
            "abi": "i386",
            "flags_text": "O_WRONLY|O_CREAT|O_TRUNC",
            "path": format!("{d}/new-1")
        }),
    );
    assert_fields(
        only(&events, |e| e["pid"] == pids.2),
        json!({
            "op": "unlink",
            "syscall": "unlink",
            "abi": "i386",
            "path": format!("{d}/dir/doomed"),
            "ret": 0
        }),
    );
}
