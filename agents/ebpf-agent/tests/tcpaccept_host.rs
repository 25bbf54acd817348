//! tcpaccept against the host kernel, through the real static binary. This kernel has no
//! kprobes: tcpaccept runs on the accept syscalls' exits here (the VM cases cover the
//! kretprobe).

mod common;

use common::net::{matching, trace, World};
use common::{agent_bin, assert_usage_error, Ty};
use serde_json::json;

/// docs/tools/tcpaccept.md, JSON.
const REQUIRED: &[(&str, Ty)] = event_schema![
    pid: Uint, tid: Uint, uid: Uint, comm: Str, family: Str, laddr: Str, lport: Uint, raddr: Str,
    rport: Uint
];
const OPTIONAL: &[(&str, Ty)] = schema![comm_hex: Str];

#[test]
fn schema_is_the_documented_one() {
    common::assert_documented("tools/tcpaccept.md", "JSON", REQUIRED, OPTIONAL);
}

#[test]
fn every_accept_once_with_the_accepting_process() {
    let _traffic = common::net::shared();
    if agent_bin().is_none() {
        return;
    }
    let mut w = World::new("tcpaccept");
    let (events, (conns, _)) = trace("tcpaccept", &[], || w.run());
    common::check_events(&events, "accept", REQUIRED, OPTIONAL);
    for c in &conns {
        let mine = matching(
            &events,
            &[
                ("raddr", json!(c.client_addr)),
                ("rport", json!(c.client_port)),
                ("lport", json!(c.server_port)),
            ],
        );
        assert_eq!(mine.len(), 1, "{c:?}: {mine:?}");
        let e = mine[0];
        assert_eq!(
            (&e["pid"], &e["family"], &e["laddr"], &e["comm"], &e["uid"]),
            (
                &json!(c.server_pid),
                &json!(c.family),
                &json!(c.server_addr),
                &json!("python3"),
                &json!(0)
            ),
            "{c:?}: {e}"
        );
        // A thread of the server accepted it.
        assert_ne!(e["tid"], e["pid"], "{e}");
    }
    // Refused connects were never accepted; clients never accept.
    for pid in [w.client.pid(), w.nobody.pid(), w.ns_client.pid()] {
        assert!(matching(&events, &[("pid", json!(pid))]).is_empty());
    }
    w.finish();
}

#[test]
fn filters_cut_exactly() {
    let _traffic = common::net::shared();
    if agent_bin().is_none() {
        return;
    }
    let mut w = World::new("tcpaccept-f");
    let server = w.server.pid().to_string();
    let p6 = w.port("::1").to_string();
    let servers = [w.server.pid(), w.ns_server.pid()];
    type Keep = fn(&common::net::Conn, &World) -> bool;
    let cases: [(Vec<&str>, Keep); 4] = [
        (vec!["-p", &server], |c, w| c.server_pid == w.server.pid()),
        (vec!["-P", &p6], |c, _| c.server_addr == "::1"),
        (vec!["-4"], |c, _| c.family == "ipv4"),
        (vec!["-6", "--hook", "tracepoint"], |c, _| {
            c.family == "ipv6"
        }),
    ];
    for (args, keep) in cases {
        let (events, (conns, _)) = trace("tcpaccept", &args, || w.run());
        common::check_events(&events, "accept", REQUIRED, OPTIONAL);
        let mut got: Vec<u64> = events
            .iter()
            .filter(|e| servers.contains(&(e["pid"].as_u64().unwrap() as u32)))
            .map(|e| e["rport"].as_u64().unwrap())
            .collect();
        let mut want: Vec<u64> = conns
            .iter()
            .filter(|c| keep(c, &w))
            .map(|c| c.client_port.into())
            .collect();
        got.sort_unstable();
        want.sort_unstable();
        assert_eq!(got, want, "{args:?}: {events:?}");
    }
    w.finish();
}

#[test]
fn text_columns_like_bcc() {
    let _traffic = common::net::shared();
    let Some(bin) = agent_bin() else { return };
    let mut w = World::new("tcpaccept-t");
    let server = w.server.pid();
    let mut cmd = std::process::Command::new(&bin);
    cmd.args(["tcpaccept", "-v", "-p", &server.to_string()]);
    let agent = common::start(cmd);
    let (conns, _) = w.run();
    let (out, _) = agent.stop();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "PID     COMM         IP RADDR            RPORT LADDR            LPORT"
    );
    for c in conns.iter().filter(|c| c.server_pid == server) {
        let want = format!(
            "{:<7} {:<12} {:<2} {:<16} {:<5} {:<16} {:<5}",
            server,
            "python3",
            if c.family == "ipv6" { 6 } else { 4 },
            c.client_addr,
            c.client_port,
            c.server_addr,
            c.server_port
        );
        assert_eq!(
            lines.iter().filter(|l| **l == want).count(),
            1,
            "{want}\n{out}"
        );
    }
    assert_eq!(lines.len(), 4, "{out}");
    w.finish();
}

#[test]
fn bad_input_and_missing_kprobes() {
    let Some(bin) = agent_bin() else { return };
    assert_usage_error(&bin, "tcpaccept", &["-P", "80,abc"], "\"abc\"");
    assert_usage_error(&bin, "tcpaccept", &["-P", "99999"], "1 to 65535");
    assert_usage_error(&bin, "tcpaccept", &["-4", "-6"], "-4/--ipv4 and -6/--ipv6");
    assert_usage_error(&bin, "tcpaccept", &["--hook", "fentry"], "--hook");
    // No kprobes here: forcing them fails with the reason and the fix.
    if !std::path::Path::new("/sys/kernel/tracing/kprobe_events").exists() {
        let out = std::process::Command::new(&bin)
            .args(["tcpaccept", "--hook", "kprobe"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{err}");
        assert!(
            err.contains("CONFIG_KPROBES") && err.contains("--hook"),
            "{err}"
        );
    }
    common::assert_needs_privileges(&bin, "tcpaccept", &[]);
}
