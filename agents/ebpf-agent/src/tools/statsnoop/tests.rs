use super::*;
use crate::tools::testutil::{args, as_bytes};

#[test]
fn libbpf_tools_flags() {
    let a = parse_args(&args(&["-xts", "-p", "1216", "--json", "--duration", "3"])).unwrap();
    assert!(a.failed && a.timestamp && a.sysname && a.json);
    assert_eq!(a.pid, Some(1216));
    assert_eq!(a.duration, Some(Duration::from_secs(3)));
    assert_eq!(parse_args(&args(&["-p7"])).unwrap().pid, Some(7));
    let d = parse_args(&[]).unwrap();
    assert!(!d.failed && !d.timestamp && !d.sysname && d.pid.is_none());
}

#[test]
fn bad_flags_are_usage_errors_naming_the_flag() {
    for (bad, names) in [
        (&["-p", "me"][..], "-p"),
        (&["-p", "0"], "-p"),
        (&["--bogus"], "--bogus"),
        (&["-T"], "-T"),
        (&["--duration", "-3"], "--duration"),
    ] {
        let e = parse_args(&args(bad)).unwrap_err();
        assert_eq!(e.exit_code, agent_core::error::EXIT_USAGE, "{bad:?}: {e}");
        assert!(e.message().contains(names), "{bad:?}: {}", e.message());
    }
    let help = parse_args(&args(&["--help"])).unwrap_err();
    assert_eq!(help.exit_code, 0);
    assert!(help.message().contains("--sysname"));
}

fn id(name: &str) -> u32 {
    SYSCALLS.iter().position(|(n, _)| *n == name).unwrap() as u32
}

/// A record as the BPF side sends it: the head, then the path's bytes with their NUL.
fn event(
    syscall: &str,
    ret: i64,
    fd: i32,
    at_flags: u32,
    path: Option<&[u8]>,
    flags: u32,
) -> Vec<u8> {
    let mut head = EventHead {
        time_ns: 9_000_000_000,
        ret,
        pid: 100,
        tid: 101,
        fd,
        at_flags,
        syscall: id(syscall),
        path_size: path.map_or(0, |p| p.len() as u32 + 1),
        flags,
        pad: 0,
        comm: [0; 16],
    };
    head.comm[..4].copy_from_slice(b"stat");
    let mut rec = as_bytes(&head).to_vec();
    if let Some(p) = path {
        rec.extend_from_slice(p);
        rec.push(0);
    }
    rec
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
fn text_columns_like_libbpf_tools() {
    let recs = [
        event("newfstatat", 0, AT_FDCWD, 0, Some(b"/etc/passwd"), 0),
        event("statx", -2, AT_FDCWD, 0, Some(b"a b\nc"), 0),
        event("newfstat", 0, 3, 0, None, 0),
        event("newfstatat", 0, 4, AT_EMPTY_PATH, Some(b""), 0),
        event("statfs", -14, AT_FDCWD, 0, None, F_READ_ERROR),
        event("newstat", -36, AT_FDCWD, 0, Some(b"/x"), F_TRUNCATED),
        vec![1, 2, 3], // a short record is skipped
    ];
    let out = run_records(&["-s"], &recs);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "PID     COMM                 RET  ERR  SYSCALL    PATH",
            "100     stat                 0    0    newfstatat /etc/passwd",
            "100     stat                 -1   2    statx      a b\\nc",
            "100     stat                 0    0    newfstat   [fd 3]",
            "100     stat                 0    0    newfstatat [fd 4]",
            "100     stat                 -1   14   statfs     [path unreadable]",
            "100     stat                 -1   36   newstat    /x...",
        ]
    );
    let out = run_records(&["-t"], &recs[..1]);
    let mut lines = out.lines();
    assert_eq!(
        lines.next(),
        Some("TIME(s)        PID     COMM                 RET  ERR  PATH")
    );
    let row = lines.next().unwrap();
    assert!(
        row.ends_with(" 100     stat                 0    0    /etc/passwd"),
        "{row}"
    );
    row[..14].trim().parse::<f64>().unwrap();
}

#[test]
fn json_lines_keep_every_byte() {
    let long = vec![b'd'; PATH_MAX - 1];
    let out = run_records(
        &["--json"],
        &[
            event("statx", -2, 5, 0x100, Some(b"rel/\xff\xfe x"), 0),
            event("fstatfs", 0, 7, 0, None, 0),
            event("newlstat", -36, AT_FDCWD, 0, Some(&long), F_TRUNCATED),
            event("newstat", 0, AT_FDCWD, 0, Some(b"/ok"), 0)[..66].to_vec(), // cut short
        ],
    );
    let v: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(v.len(), 4);
    assert_eq!(v[0]["type"], "stat");
    assert_eq!(v[0]["syscall"], "statx");
    assert_eq!(
        (v[0]["pid"].as_u64(), v[0]["tid"].as_u64()),
        (Some(100), Some(101))
    );
    assert_eq!(v[0]["ret"], -2);
    assert_eq!(v[0]["fd"], 5);
    assert_eq!(v[0]["at_flags"], 0x100);
    assert_eq!(v[0]["path"], "rel/\u{fffd}\u{fffd} x");
    assert_eq!(v[0]["path_hex"], "72656c2ffffe2078");
    assert_eq!(v[0]["time_ns"], 9_000_000_000u64);
    assert_eq!(v[1]["path"], "");
    assert_eq!(v[1]["fd"], 7);
    assert_eq!(v[2]["path"].as_str().unwrap().len(), PATH_MAX - 1);
    assert_eq!(v[2]["path_truncated"], true);
    assert_eq!(v[2]["fd"], AT_FDCWD);
    assert_eq!(v[3]["path"], "/o");
}

#[test]
fn unknown_syscall_ids_are_skipped() {
    let mut rec = event("statx", 0, AT_FDCWD, 0, Some(b"/"), 0);
    let at = std::mem::offset_of!(EventHead, syscall);
    rec[at..at + 4].copy_from_slice(&(SYSCALLS.len() as u32).to_ne_bytes());
    assert_eq!(run_records(&["--json"], &[rec]), "");
}

#[test]
fn rust_structs_match_the_c_layout_and_programs() {
    let mut obj = Object::open("statsnoop", STATSNOOP_BPF_OBJECT).unwrap();
    use std::mem::{offset_of, size_of};
    let check = |obj: &Object, c_name: &str, size: usize, fields: &[(&str, usize)]| {
        let l = obj
            .struct_layout(c_name)
            .unwrap_or_else(|| panic!("struct {c_name} not in the object's BTF"));
        let c: Vec<(&str, usize)> = l
            .fields
            .iter()
            .map(|f| (f.name.as_str(), f.offset))
            .collect();
        assert_eq!(c, fields, "struct {c_name}");
        assert_eq!(l.size, size, "sizeof(struct {c_name})");
    };
    check(
        &obj,
        "statsnoop_event",
        size_of::<EventHead>() + PATH_MAX,
        &[
            ("time_ns", offset_of!(EventHead, time_ns)),
            ("ret", offset_of!(EventHead, ret)),
            ("pid", offset_of!(EventHead, pid)),
            ("tid", offset_of!(EventHead, tid)),
            ("fd", offset_of!(EventHead, fd)),
            ("at_flags", offset_of!(EventHead, at_flags)),
            ("syscall", offset_of!(EventHead, syscall)),
            ("path_size", offset_of!(EventHead, path_size)),
            ("flags", offset_of!(EventHead, flags)),
            ("pad", offset_of!(EventHead, pad)),
            ("comm", offset_of!(EventHead, comm)),
            ("path", size_of::<EventHead>()),
        ],
    );
    check(
        &obj,
        "statsnoop_config",
        size_of::<Config>(),
        &[
            ("target_pid", offset_of!(Config, target_pid)),
            ("filter_pid", offset_of!(Config, filter_pid)),
            ("failed_only", offset_of!(Config, failed_only)),
            ("pad", offset_of!(Config, pad)),
        ],
    );
    // Every syscall of the table has its two programs in the object.
    for (name, _) in SYSCALLS {
        obj.set_autoload(&format!("tp_enter_{name}"), false)
            .unwrap();
        obj.set_autoload(&format!("tp_exit_{name}"), false).unwrap();
    }
    assert!(obj.set_autoload("tp_enter_nosuchcall", false).is_err());
}

#[test]
fn syscall_table_follows_the_c_enum() {
    // The enum in bpf/statsnoop.h, read from the source: same names, same order.
    let header = include_str!("../../../../../bpf/statsnoop.h");
    let body = header
        .split("enum statsnoop_syscall {")
        .nth(1)
        .and_then(|s| s.split("};").next())
        .unwrap();
    let names: Vec<String> = body
        .split(',')
        .map(|s| s.trim().trim_start_matches("STATSNOOP_").to_lowercase())
        .filter(|s| !s.is_empty() && s != "nr_syscalls")
        .collect();
    let ours: Vec<&str> = SYSCALLS.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, ours);
}
