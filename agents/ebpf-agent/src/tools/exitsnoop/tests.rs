use super::*;
use crate::tools::testutil::{args, as_bytes};

#[test]
fn libbpf_tools_flags() {
    let a = parse_args(&args(&["-tx", "-p", "42", "-T", "--json", "--duration=2s"])).unwrap();
    assert!(a.timestamp && a.failed && a.threads && a.json);
    assert_eq!(a.pid, Some(42));
    assert_eq!(a.duration, Some(Duration::from_secs(2)));
    let a = parse_args(&args(&["-p42"])).unwrap();
    assert_eq!(a.pid, Some(42));
    let d = parse_args(&[]).unwrap();
    assert!(!d.timestamp && !d.failed && !d.threads && d.pid.is_none());
}

#[test]
fn bad_flags_are_usage_errors_naming_the_flag() {
    for (bad, names) in [
        (&["-p", "x"][..], "-p"),
        (&["-p", "0"], "-p"),
        (&["-p", "-1"], "-p"),
        (&["--bogus"], "--bogus"),
        (&["-q"], "-q"),
        (&["--duration", "soon"], "--duration"),
    ] {
        let e = parse_args(&args(bad)).unwrap_err();
        assert_eq!(e.exit_code, agent_core::error::EXIT_USAGE, "{bad:?}: {e}");
        assert!(e.message().contains(names), "{bad:?}: {}", e.message());
    }
    let help = parse_args(&args(&["-h"])).unwrap_err();
    assert_eq!(help.exit_code, 0);
    assert!(help.message().contains("--threads"));
}

#[test]
fn wait_statuses_like_bcc() {
    // exit(3), killed by SIGKILL, SIGSEGV with a core, exit(255).
    assert_eq!(
        Status::from_raw(3 << 8),
        Status {
            code: 3,
            signal: 0,
            core_dumped: false
        }
    );
    assert_eq!(Status::from_raw(9).signal, 9);
    let segv = Status::from_raw(11 | 0x80);
    assert_eq!((segv.signal, segv.core_dumped, segv.code), (11, true, 0));
    assert_eq!(Status::from_raw(255 << 8).code, 255);
    assert_eq!(signal_name(9), "SIGKILL");
    assert_eq!(signal_name(15), "SIGTERM");
    assert_eq!(signal_name(34), "SIGRTMIN+2");
    assert_eq!(signal_name(99), "SIG99");
}

fn event(pid: u32, tid: u32, status: i32, comm: &[u8]) -> Vec<u8> {
    let mut e = Event {
        time_ns: 7_000_000_000,
        age_ns: 1_250_000_000,
        pid,
        tid,
        ppid: 1,
        status,
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
        &[],
        &[
            event(10, 10, 0, b"true"),
            event(11, 12, 3 << 8, b"false"),
            event(13, 13, 9, b"sleep"),
            event(14, 14, 6 | 0x80, b"new\nline"),
            vec![0; 8], // a short record is skipped
        ],
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "PCOMM            PID     PPID    TID     AGE(s)  EXIT_CODE",
            "true             10      1       10      1.25    0",
            "false            11      1       12      1.25    code 3",
            "sleep            13      1       13      1.25    signal 9 (SIGKILL)",
            "new\\nline        14      1       14      1.25    signal 6 (SIGABRT), core dumped",
        ]
    );
    let out = run_records(&["-t"], &[event(10, 10, 0, b"true")]);
    let mut lines = out.lines();
    assert!(lines.next().unwrap().starts_with("TIME     PCOMM"));
    let row = lines.next().unwrap();
    assert_eq!(row.as_bytes()[2], b':', "{row}");
    assert_eq!(
        &row[8..],
        " true             10      1       10      1.25    0"
    );
}

#[test]
fn json_lines_with_status_taken_apart() {
    let out = run_records(
        &["--json"],
        &[
            event(20, 21, 11 | 0x80, b"a\xff"),
            event(22, 22, 1 << 8, b"b"),
        ],
    );
    let v: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(v.len(), 2);
    assert_eq!(v[0]["type"], "exit");
    assert_eq!(
        (v[0]["pid"].as_u64(), v[0]["tid"].as_u64()),
        (Some(20), Some(21))
    );
    assert_eq!(v[0]["signal"], 11);
    assert_eq!(v[0]["signal_name"], "SIGSEGV");
    assert_eq!(v[0]["core_dumped"], true);
    assert_eq!(v[0]["exit_code"], 0);
    assert_eq!(v[0]["age_ns"], 1_250_000_000u64);
    assert_eq!(v[0]["time_ns"], 7_000_000_000u64);
    assert_eq!(v[0]["comm_hex"], "61ff");
    assert_eq!(v[1]["exit_code"], 1);
    assert_eq!(v[1]["signal"], 0);
    assert!(v[1].get("signal_name").is_none());
}

#[test]
fn selftest_expectation_matches_the_json() {
    let out = run_records(&["--json"], &[event(77, 77, SELFTEST_STATUS << 8, b"sh")]);
    assert!(out.contains(&selftest_expect(77, 1)), "{out}");
}

#[test]
fn rust_structs_match_the_c_layout() {
    let obj = Object::open("exitsnoop", EXITSNOOP_BPF_OBJECT).unwrap();
    use std::mem::{offset_of, size_of};
    let check = |c_name: &str, size: usize, fields: &[(&str, usize)]| {
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
        "exitsnoop_event",
        size_of::<Event>(),
        &[
            ("time_ns", offset_of!(Event, time_ns)),
            ("age_ns", offset_of!(Event, age_ns)),
            ("pid", offset_of!(Event, pid)),
            ("tid", offset_of!(Event, tid)),
            ("ppid", offset_of!(Event, ppid)),
            ("status", offset_of!(Event, status)),
            ("comm", offset_of!(Event, comm)),
        ],
    );
    check(
        "exitsnoop_config",
        size_of::<Config>(),
        &[
            ("target_pid", offset_of!(Config, target_pid)),
            ("filter_pid", offset_of!(Config, filter_pid)),
            ("failed_only", offset_of!(Config, failed_only)),
            ("threads", offset_of!(Config, threads)),
            ("pad", offset_of!(Config, pad)),
        ],
    );
}
