use super::*;
use crate::tools::testutil::padded;
crate::tools::testutil::tool_tests!(Opensnoop, "opensnoop");
use std::time::Duration;

#[test]
fn libbpf_tools_flags() {
    let (c, a) = parsed(&[
        "-TUxeF", "-p", "42", "-t43", "-u", "1000", "-n", "sh", "-d", "5", "--json",
    ]);
    assert!(a.timestamp && a.print_uid && a.failed && a.extended_fields && a.full_path);
    assert!(c.json && !c.verbose);
    assert_eq!((a.pid, a.tid, a.uid), (Some(42), Some(43), Some(1000)));
    assert_eq!(a.name.as_deref(), Some("sh"));
    assert_eq!(c.duration, Some(Duration::from_secs(5)));
    let (c, a) = parsed(&["--duration=500ms", "--print-uid", "--failed"]);
    assert_eq!(c.duration, Some(Duration::from_millis(500)));
    assert!(a.print_uid && a.failed && !a.full_path);
}

#[test]
fn bad_flags_are_usage_errors_naming_the_flag() {
    usage_errors(
        &[
            (&["-p", "me"][..], "-p"),
            (&["--bogus"], "--bogus"),
            (&["-d", "soon"], "-d"),
            (&["-u"], "-u"),
            (&["--tid=x"], "--tid"),
            (&["-p", "0"], "-p"),
            (&["-t", "0"], "-t"),
            (&["-p", "99999999"], "pid_max"),
            (&["-t", "4194304"], "pid_max"),
        ],
        "--full-path",
    );
}

fn record(pid: u32, ret: i32, flags: u64, comm: &[u8], path: &[u8], path_flags: u16) -> Vec<u8> {
    let head = EventHead {
        time_ns: 7_000_000_000,
        flags,
        pid,
        tid: pid + 1,
        uid: 1000,
        ret,
        mode: 0o644,
        dfd: -100,
        syscall: 2,
        compat: 0,
        path_flags,
        path_len: path.len() as u32,
        comm: padded(comm),
    };
    let mut rec = crate::tools::testutil::record(&head);
    rec.extend_from_slice(path);
    rec
}

#[test]
fn text_columns_like_libbpf_tools() {
    let out = run_records(
        &["-U", "-e"],
        &[
            record(42, 3, 0o2000000, b"cat", b"/etc/hostname", 0),
            record(43, -2, 0o101, b"touch", b"no\nsuch \xff", 0),
        ],
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "UID     PID    COMM              FD ERR FLAGS    PATH"
    );
    assert_eq!(
        lines[1],
        "1000    42     cat                3   0 02000000 /etc/hostname"
    );
    assert_eq!(
        lines[2],
        "1000    43     touch             -1   2 00000101 no\\nsuch \\xff"
    );
    assert_eq!(lines.len(), 3);
}

#[test]
fn name_filter_in_user_space() {
    let recs = [
        record(1, 3, 0, b"keepme", b"/a", 0),
        record(2, 3, 0, b"other", b"/b", 0),
    ];
    let out = run_records(&["-n", "eepm"], &recs);
    assert!(out.contains("/a") && !out.contains("/b"), "{out}");
}

#[test]
fn json_lines_are_lossless() {
    let out = run_records(
        &["--json"],
        &[
            record(
                9,
                -13,
                0o1 | 0o100,
                b"a\xff",
                b"rel/p\"q\n\xc3\x28",
                P_FULL | P_CUT,
            ),
            // A record shorter than its head is ignored.
            vec![0u8; 10],
        ],
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1, "{out}");
    let v: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(v["type"], "open");
    assert_eq!((v["pid"].as_u64(), v["tid"].as_u64()), (Some(9), Some(10)));
    assert_eq!((v["ret"].as_i64(), v["fd"].as_i64()), (Some(-13), Some(-1)));
    assert_eq!(v["err"], 13);
    assert_eq!(v["syscall"], "openat");
    assert_eq!(v["abi"], std::env::consts::ARCH);
    assert_eq!(v["dfd"], -100);
    assert_eq!(v["flags"], 0o101);
    assert_eq!(v["flags_text"], "O_WRONLY|O_CREAT");
    assert_eq!(v["mode"], 0o644);
    assert_eq!(v["path"], "rel/p\"q\n\u{fffd}(");
    assert_eq!(v["path_hex"], "72656c2f7022710ac328");
    assert_eq!(v["comm_hex"], "61ff");
    assert_eq!(
        (
            &v["path_full"],
            &v["path_incomplete"],
            &v["path_read_error"]
        ),
        (&true.into(), &true.into(), &false.into())
    );
    assert!(v["ts"].as_str().unwrap().ends_with('Z'));
}
