use super::*;
use crate::tools::testutil::{padded, record};
crate::tools::testutil::tool_tests!(Bashreadline, "bashreadline");

fn event(pid: u32, line: &[u8]) -> Vec<u8> {
    record(&Event {
        time_ns: 5_000_000_000,
        pid,
        tid: pid,
        comm: padded(b"bash"),
        line: padded(line),
    })
}

#[test]
fn text_and_json() {
    if !Path::new(BASH).exists() {
        return;
    }
    let rec = event(42, b"ls -l\x1b[A");
    let text = run_records(&[], &[&rec]);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "TIME      PID     COMMAND");
    assert!(lines[1].ends_with("  42      ls -l\\x1b[A"), "{}", lines[1]);
    let json = run_records(&["--json"], &[&rec]);
    let v: serde_json::Value = serde_json::from_str(json.trim_end()).unwrap();
    assert_eq!(
        (v["type"].as_str(), v["pid"].as_u64()),
        (Some("readline"), Some(42))
    );
    assert_eq!(v["line"], "ls -l\u{1b}[A");
}

#[test]
fn provider_of_this_bash() {
    if !Path::new(BASH).exists() {
        return;
    }
    let p = provider(BASH).unwrap();
    assert!(has_readline(&p), "{p}");
    let e = rejected(&["-s", "/nonexistent/lib"]);
    assert_eq!(e.exit_code, 2, "{e}");
}
