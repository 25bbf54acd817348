use super::*;
use crate::tools::testutil::{args, as_bytes};

#[test]
fn libbpf_tools_flags() {
    let a = parse_args(&args(&[
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
    ]))
    .unwrap();
    assert!(a.time && a.fails && a.quote && a.print_uid && a.json && !a.timestamp);
    assert_eq!(a.uid, Some(1000));
    assert_eq!(a.name.as_deref(), Some("sh"));
    assert_eq!(a.line.as_deref(), Some("foo"));
    assert_eq!(a.max_args, 30);
    assert_eq!(a.duration, Some(Duration::from_secs(5)));
    let d = parse_args(&[]).unwrap();
    assert_eq!(d.max_args, 20);
    assert!(!d.fails && d.uid.is_none());
}

#[test]
fn bad_flags_are_usage_errors() {
    for bad in [
        &["--max-args", "0"][..],
        &["--max-args", "513"],
        &["-u", "root"],
        &["--bogus"],
        &["--duration", "soon"],
    ] {
        let e = parse_args(&args(bad)).unwrap_err();
        assert_eq!(e.exit_code, agent_core::error::EXIT_USAGE, "{bad:?}: {e}");
    }
    let help = parse_args(&args(&["-h"])).unwrap_err();
    assert_eq!(help.exit_code, 0);
    assert!(help.message().contains("--max-args"));
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
    let mut rec = as_bytes(&head).to_vec();
    rec.extend_from_slice(&packed);
    rec
}

fn exit(pid: u32, ret: i32, comm: &[u8]) -> Vec<u8> {
    let mut e = ExitEvent {
        kind: KIND_EXIT,
        pid,
        tid: pid,
        ret,
        time_ns: 5_000_100_000,
        comm: [0; 16],
    };
    e.comm[..comm.len()].copy_from_slice(comm);
    as_bytes(&e).to_vec()
}

fn run_records(flags: &[&str], records: &[Vec<u8>]) -> String {
    let mut out = Vec::new();
    {
        let mut p = Printer::new(parse_args(&args(flags)).unwrap(), &mut out);
        p.header();
        for r in records {
            p.record(r);
        }
        p.flush();
    }
    String::from_utf8(out).unwrap()
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

#[test]
fn rust_structs_match_the_c_layout() {
    let obj = Object::open("execsnoop", EXECSNOOP_BPF_OBJECT).unwrap();
    let check = |c_name: &str, size: usize, fields: &[(&str, usize)]| {
        let l = obj
            .struct_layout(c_name)
            .unwrap_or_else(|| panic!("struct {c_name} not in the object's BTF"));
        l.assert_matches(size, fields);
    };
    use std::mem::{offset_of, size_of};
    check(
        "execsnoop_enter",
        size_of::<EnterHead>() + 16384 + 4096,
        &[
            ("kind", offset_of!(EnterHead, kind)),
            ("pid", offset_of!(EnterHead, pid)),
            ("tid", offset_of!(EnterHead, tid)),
            ("ppid", offset_of!(EnterHead, ppid)),
            ("uid", offset_of!(EnterHead, uid)),
            ("args_count", offset_of!(EnterHead, args_count)),
            ("args_size", offset_of!(EnterHead, args_size)),
            ("flags", offset_of!(EnterHead, flags)),
            ("time_ns", offset_of!(EnterHead, time_ns)),
            ("args", size_of::<EnterHead>()),
        ],
    );
    check(
        "execsnoop_exit",
        size_of::<ExitEvent>(),
        &[
            ("kind", offset_of!(ExitEvent, kind)),
            ("pid", offset_of!(ExitEvent, pid)),
            ("tid", offset_of!(ExitEvent, tid)),
            ("ret", offset_of!(ExitEvent, ret)),
            ("time_ns", offset_of!(ExitEvent, time_ns)),
            ("comm", offset_of!(ExitEvent, comm)),
        ],
    );
    check(
        "execsnoop_config",
        size_of::<Config>(),
        &[
            ("target_uid", offset_of!(Config, target_uid)),
            ("max_args", offset_of!(Config, max_args)),
            ("filter_uid", offset_of!(Config, filter_uid)),
            ("pad", offset_of!(Config, pad)),
        ],
    );
}
