//! bashreadline against the host kernel, through the real static binary: lines typed into an
//! interactive bash on a pseudo-terminal (driven by Python's pty module).

mod common;

use std::process::Command;

use common::{agent_bin, json_lines, marker, Ty};

/// docs/tools/bashreadline.md, JSON.
const REQUIRED: &[(&str, Ty)] = event_schema![pid: Uint, tid: Uint, comm: Str, line: Str];
const OPTIONAL: &[(&str, Ty)] = schema![comm_hex: Str, line_hex: Str];

#[test]
fn schema_is_the_documented_one() {
    common::assert_documented("tools/bashreadline.md", "JSON", REQUIRED, OPTIONAL);
}

/// Starts `bash -i` on a pty, types each line, exits; prints bash's pid.
const TYPIST: &str = r#"
import os, pty, select, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.environ["PS1"] = "$ "
    os.execv("/bin/bash", ["bash", "--norc", "--noprofile", "-i"])
print(pid, flush=True)
def drain(t):
    end = time.time() + t
    while time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.05)
        if r:
            try:
                os.read(fd, 4096)
            except OSError:
                return
drain(0.5)
for line in sys.argv[1:]:
    os.write(fd, line.encode() + b"\r")
    drain(0.3)
os.write(fd, b"exit\r")
drain(1.0)
os.waitpid(pid, 0)
"#;

#[test]
fn lines_typed_into_bash_are_seen() {
    let Some(bin) = agent_bin() else { return };
    if !std::path::Path::new("/bin/bash").exists() {
        eprintln!("skipped: no /bin/bash");
        return;
    }
    let m = marker("readline");
    // UTF-8 and quotes come through as typed (a tab would be readline's completion).
    let odd = format!("echo '{m} \u{fc}ber \"q\"'");
    let agent = common::start_tool(&bin, &["bashreadline", "--json", "-v"]);
    let typist = Command::new("/usr/bin/python3")
        .args(["-c", TYPIST, &format!("echo {m}"), &odd])
        .output()
        .unwrap();
    assert!(typist.status.success(), "{typist:?}");
    let bash_pid: u64 = String::from_utf8_lossy(&typist.stdout)
        .trim()
        .parse()
        .unwrap();
    let (out, err) = agent.stop();
    assert!(
        err.iter()
            .any(|l| l.contains("tracing: uretprobe") && l.contains(":readline")),
        "{err:?}"
    );
    let events = json_lines(&out);
    common::check_events(&events, "readline", REQUIRED, OPTIONAL);
    let mine: Vec<_> = events.iter().filter(|e| e["pid"] == bash_pid).collect();
    let lines: Vec<&str> = mine.iter().map(|e| e["line"].as_str().unwrap()).collect();
    assert_eq!(
        lines,
        [format!("echo {m}").as_str(), odd.as_str(), "exit"],
        "{mine:?}"
    );
    assert!(mine.iter().all(|e| e["comm"] == "bash"));
}

#[test]
fn text_and_bad_flags() {
    let Some(bin) = agent_bin() else { return };
    common::assert_usage_error(
        &bin,
        "bashreadline",
        &["-s", "/nonexistent/libreadline.so.8"],
        "-s",
    );
    common::assert_needs_privileges(&bin, "bashreadline", &[]);
}
