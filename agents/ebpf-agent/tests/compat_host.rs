//! The 32-bit (compat) syscall entry of the host's 64-bit kernel, through every syscall tool:
//! a freestanding i386 program (tests/compat32.c, `int $0x80`) makes the calls, which the
//! `syscalls:*` tracepoints never report; each tool must see them, named from the 32-bit table.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{agent_bin, compat32, json_lines, marker, run_compat32, start};
use serde_json::Value;

fn run_tool(bin: &std::path::Path, args: &[&str], work: impl FnOnce()) -> Vec<Value> {
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

fn of_pid(events: &[Value], pid: u32) -> Vec<&Value> {
    events
        .iter()
        .filter(|e| e["pid"].as_u64() == Some(pid as u64))
        .collect()
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
    let a = of_pid(&events, pids.0);
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(
        (
            a[0]["syscall"].as_str(),
            a[0]["abi"].as_str(),
            a[0]["path"].as_str()
        ),
        (Some("open"), Some("i386"), Some(p1.as_str()))
    );
    assert_eq!(
        (a[0]["ret"].as_i64(), a[0]["dfd"].as_i64()),
        (Some(-2), Some(-100))
    );
    let b = of_pid(&events, pids.1);
    assert_eq!(b.len(), 1, "{b:?}");
    assert_eq!(
        (
            b[0]["syscall"].as_str(),
            b[0]["abi"].as_str(),
            b[0]["path"].as_str()
        ),
        (Some("openat"), Some("i386"), Some(p2.as_str()))
    );
    assert_eq!(b[0]["dfd"], -100, "a 32-bit AT_FDCWD read as an int");
    // The 64-bit opens of the same run are named as such.
    assert!(events
        .iter()
        .filter(|e| e["pid"].as_u64() != Some(pids.0 as u64)
            && e["pid"].as_u64() != Some(pids.1 as u64))
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
    let a = of_pid(&events, pids.0);
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(
        (
            a[0]["syscall"].as_str(),
            a[0]["abi"].as_str(),
            a[0]["path"].as_str()
        ),
        (Some("stat64"), Some("i386"), Some(p1.as_str()))
    );
    let b = of_pid(&events, pids.1);
    assert_eq!(b.len(), 1, "{b:?}");
    assert_eq!(
        (
            b[0]["syscall"].as_str(),
            b[0]["abi"].as_str(),
            b[0]["fd"].as_i64()
        ),
        (Some("fstatat64"), Some("i386"), Some(-100))
    );
    assert_eq!(b[0]["ret"], -2);
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
    let ok: Vec<&Value> = of_pid(&events, pids.0)
        .into_iter()
        .filter(|e| e["abi"] == "i386")
        .collect();
    assert_eq!(ok.len(), 1, "{events:?}");
    assert_eq!(
        ok[0]["args"],
        serde_json::json!(["/bin/true", m, "two words"])
    );
    assert_eq!(
        (
            ok[0]["ret"].as_i64(),
            ok[0]["comm"].as_str(),
            &ok[0]["args_truncated"]
        ),
        (Some(0), Some("true"), &false.into())
    );
    let failed: Vec<&Value> = events
        .iter()
        .filter(|e| e["abi"] == "i386" && e["args"][0] == missing.as_str())
        .collect();
    assert_eq!(failed.len(), 1, "{events:?}");
    assert_eq!(failed[0]["ret"], -2);
    assert_eq!(failed[0]["args"], serde_json::json!([missing, m]));
}

#[test]
fn syscount_names_32_bit_calls_from_their_own_table() {
    let (Some(bin), Some(c32)) = (agent_bin(), compat32()) else {
        return;
    };
    let mut cmd = Command::new(&bin);
    cmd.args(["syscount", "--json", "-v", "-T", "1000"]);
    let agent = start(cmd);
    run_compat32(&c32, &["getpid", "777"]);
    std::thread::sleep(Duration::from_millis(300));
    let (out, _) = agent.stop();
    let rows: Vec<Value> = json_lines(&out)
        .iter()
        .filter(|v| v["type"] == "interval")
        .flat_map(|v| v["rows"].as_array().unwrap().clone())
        .collect();
    let getpid: Vec<&Value> = rows
        .iter()
        .filter(|r| r["syscall"] == "getpid" && r["abi"] == "i386")
        .collect();
    assert_eq!(getpid.len(), 1, "{rows:?}");
    assert_eq!(getpid[0]["id"], 20);
    assert_eq!(
        getpid[0]["count"], 777,
        "777 int $0x80 getpid calls, none lost"
    );
    // Not taken for x86_64's 20, writev.
    assert!(
        rows.iter()
            .all(|r| r["abi"] == "x86_64" || r["abi"] == "i386"),
        "{rows:?}"
    );

    // In text: the name and its ABI.
    let mut cmd = Command::new(&bin);
    cmd.args(["syscount", "-v", "-T", "1000"]);
    let agent = start(cmd);
    run_compat32(&c32, &["getpid", "321"]);
    std::thread::sleep(Duration::from_millis(300));
    let (out, _) = agent.stop();
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
    let open = of_pid(&events, pids.0);
    assert_eq!(open.len(), 1, "{events:?}");
    assert_eq!(
        (
            open[0]["op"].as_str(),
            open[0]["syscall"].as_str(),
            open[0]["abi"].as_str()
        ),
        (Some("open"), Some("open"), Some("i386"))
    );
    assert_eq!(open[0]["path"], format!("{d}/secret"));
    assert_eq!(open[0]["matched_by"], "file");
    let creat = of_pid(&events, pids.1);
    assert_eq!(creat.len(), 1, "{events:?}");
    assert_eq!(
        (
            creat[0]["syscall"].as_str(),
            creat[0]["abi"].as_str(),
            creat[0]["flags_text"].as_str()
        ),
        (
            Some("creat"),
            Some("i386"),
            Some("O_WRONLY|O_CREAT|O_TRUNC")
        )
    );
    assert_eq!(creat[0]["path"], format!("{d}/new-1"));
    let unlink = of_pid(&events, pids.2);
    assert_eq!(unlink.len(), 1, "{events:?}");
    assert_eq!(
        (
            unlink[0]["op"].as_str(),
            unlink[0]["syscall"].as_str(),
            unlink[0]["abi"].as_str()
        ),
        (Some("unlink"), Some("unlink"), Some("i386"))
    );
    assert_eq!(unlink[0]["path"], format!("{d}/dir/doomed"));
    assert_eq!(unlink[0]["ret"], 0);
}
