use super::*;
use crate::tools::testutil::{json_lines, padded, record};
crate::tools::testutil::tool_tests!(Execsnoop, "execsnoop");

#[test]
fn libbpf_tools_flags() {
    let argv = [
        "-Tx",
        "-u",
        "1000",
        "-q",
        "-n",
        "sh",
        "-l",
        "foo",
        "-U",
        "--max-args=30",
        "--json",
        "--duration",
        "5s",
    ];
    let (a, c) = (parse_args(&argv).unwrap(), common(&argv));
    assert!(a.time && a.fails && a.quote && a.print_uid && c.json && !a.timestamp);
    assert_eq!(a.uid, Some(1000));
    assert_eq!(a.name.as_deref(), Some("sh"));
    assert_eq!(a.line.as_deref(), Some("foo"));
    assert_eq!(a.max_args, 30);
    assert_eq!(c.duration, Some(std::time::Duration::from_secs(5)));
    let d = parse_args(&[]).unwrap();
    assert_eq!(d.max_args, 20);
    assert!(!d.fails && d.uid.is_none());
}

#[test]
fn bad_flags_are_usage_errors() {
    usage_errors(
        &[
            (&["--max-args", "0"][..], ""),
            (&["--max-args", "513"][..], ""),
            (&["-u", "root"][..], ""),
            (&["--bogus"][..], ""),
            (&["--duration", "soon"][..], ""),
        ],
        "--max-args",
    );
}

fn enter(pid: u32, ppid: u32, argv: &[&[u8]], flags: u32) -> Vec<u8> {
    let mut packed = Vec::new();
    for a in argv {
        packed.extend_from_slice(a);
        packed.push(0);
    }
    let head = EnterHead {
        kind: KIND_ENTER,
        pid,
        tid: pid,
        ppid,
        uid: 1000,
        args_count: argv.len() as u32,
        args_size: packed.len() as u32,
        flags,
        time_ns: 5_000_000_000,
    };
    let mut rec = record(&head);
    rec.extend_from_slice(&packed);
    rec
}

fn exit(pid: u32, ret: i32, comm: &[u8]) -> Vec<u8> {
    record(&ExitEvent {
        kind: KIND_EXIT,
        pid,
        tid: pid,
        ret,
        time_ns: 5_000_100_000,
        comm: padded(comm),
    })
}

#[test]
fn text_columns_like_bcc() {
    let out = run_records(
        &["-U"],
        &[
            enter(42, 1, &[b"/bin/ls", b"-l", b"a b"], 0),
            exit(42, 0, b"ls"),
            enter(43, 1, &[b"nope"], 0),
            exit(43, -2, b"sh"),
        ],
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "UID    PCOMM            PID    PPID   RET ARGS");
    assert_eq!(
        lines[1],
        "1000   ls               42     1        0 /bin/ls -l a b"
    );
    assert_eq!(lines.len(), 2, "failed exec hidden without -x: {out}");
}

#[test]
fn failed_quoted_truncated_and_escaped() {
    let out = run_records(
        &["-xq"],
        &[
            enter(7, 3, &[b"x\"y", b"new\nline", b"\xff"], F_TRUNCATED),
            exit(7, -2, b"sh"),
        ],
    );
    let line = out.lines().nth(1).unwrap();
    assert_eq!(
        line,
        r#"sh               7      3       -2 "x\"y" "new\nline" "\xff" ..."#
    );
}

#[test]
fn name_and_line_filters() {
    let recs = [
        enter(1, 0, &[b"/bin/true", b"keep-me"], 0),
        exit(1, 0, b"true"),
        enter(2, 0, &[b"/bin/echo", b"drop"], 0),
        exit(2, 0, b"echo"),
    ];
    let out = run_records(&["-n", "tru"], &recs);
    assert!(out.contains("keep-me") && !out.contains("drop"), "{out}");
    let out = run_records(&["-l", "dro"], &recs);
    assert!(!out.contains("keep-me") && out.contains("drop"), "{out}");
}

#[test]
fn json_lines_are_lossless() {
    let out = run_records(
        &["--json", "-x"],
        &[
            enter(9, 8, &[b"/bin/a", b"", b"q\"\n", b"\xc3\x28"], 0),
            exit(9, 0, b"a\xff"),
            exit(99, 0, b"orphan"),
        ],
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "one object per exec, nothing for an unmatched exit: {out}"
    );
    let v: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(v["type"], "exec");
    assert_eq!(v["pid"], 9);
    assert_eq!(v["ppid"], 8);
    assert_eq!(v["uid"], 1000);
    assert_eq!(v["ret"], 0);
    assert_eq!(v["time_ns"], 5_000_000_000u64);
    assert_eq!(v["args"][2], "q\"\n");
    assert_eq!(v["args"][1], "");
    assert_eq!(v["args_hex"][3], "c328");
    assert_eq!(v["comm_hex"], "61ff");
    assert_eq!(v["args_truncated"], false);
    assert!(v["ts"].as_str().unwrap().ends_with('Z'));
}

/// An argv the entry could not read, read again at the exit: the exit's args replace the
/// entry's, and only its own flags say what is missing. From the new program's memory the
/// kernel sends one NUL-separated block the agent counts and cuts to --max-args.
#[test]
fn argv_read_again_at_the_exit_replaces_the_unreadable_one() {
    let mut uncounted = enter(5, 1, &[b"/bin/prog", b"a", b"b", b"c"], F_REREAD);
    uncounted[20..24].copy_from_slice(&ARGS_UNCOUNTED.to_ne_bytes());
    let out = run_records(
        &["--json", "-x", "--max-args", "3"],
        &[
            enter(4, 1, &[], F_READ_ERROR),
            enter(4, 1, &[b"/bin/false", b"x"], F_REREAD),
            exit(4, -2, b"sh"),
            enter(5, 1, &[], F_READ_ERROR | F_COMPAT),
            uncounted,
            exit(5, 0, b"prog"),
        ],
    );
    let v = json_lines(&out);
    assert_eq!(v.len(), 2, "{out}");
    assert_eq!(v[0]["args"], serde_json::json!(["/bin/false", "x"]));
    assert_eq!(
        (
            &v[0]["args_read_error"],
            &v[0]["args_truncated"],
            &v[0]["uid"]
        ),
        (&false.into(), &false.into(), &1000.into())
    );
    assert_eq!(v[1]["args"], serde_json::json!(["/bin/prog", "a", "b"]));
    assert_eq!(
        (&v[1]["args_read_error"], &v[1]["args_truncated"]),
        (&false.into(), &true.into())
    );
    assert_eq!(v[1]["abi"], crate::syscalls::COMPAT.name);
    assert_eq!(v[0]["abi"], std::env::consts::ARCH);
}
