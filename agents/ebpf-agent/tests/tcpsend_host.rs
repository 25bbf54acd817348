//! tcpsend against the host kernel, through the real static binary: sock:sock_send_length
//! here (no kprobes on this kernel; the VM cases cover them).

mod common;

use common::net::{matching, trace, Peer, World, DOWN, UP};
use common::{agent_bin, assert_usage_error, Ty};
use serde_json::json;

/// docs/tools/tcpsend.md, JSON.
const REQUIRED: &[(&str, Ty)] = event_schema![
    pid: Uint, tid: Uint, comm: Str, family: Str, laddr: Str, lport: Uint, raddr: Str, rport: Uint,
    bytes: Uint
];
const OPTIONAL: &[(&str, Ty)] = schema![comm_hex: Str];

#[test]
fn schema_is_the_documented_one() {
    common::assert_documented("tools/tcpsend.md", "JSON", REQUIRED, OPTIONAL);
}

#[test]
fn every_send_once_with_its_bytes() {
    let _traffic = common::net::shared();
    if agent_bin().is_none() {
        return;
    }
    let mut w = World::new("tcpsend");
    let (events, (conns, _)) = trace("tcpsend", &[], || w.run());
    common::check_events(&events, "send", REQUIRED, OPTIONAL);
    for c in &conns {
        for (pid, laddr, lport, raddr, rport, bytes) in [
            (
                c.client_pid,
                &c.client_addr,
                c.client_port,
                &c.server_addr,
                c.server_port,
                UP,
            ),
            (
                c.server_pid,
                &c.server_addr,
                c.server_port,
                &c.client_addr,
                c.client_port,
                DOWN,
            ),
        ] {
            let mine = matching(&events, &[("lport", json!(lport)), ("rport", json!(rport))]);
            assert_eq!(mine.len(), 1, "{c:?}: {mine:?}");
            assert_eq!(
                (
                    &mine[0]["pid"],
                    &mine[0]["laddr"],
                    &mine[0]["raddr"],
                    &mine[0]["bytes"]
                ),
                (&json!(pid), &json!(laddr), &json!(raddr), &json!(bytes)),
                "{c:?}"
            );
            assert_eq!(mine[0]["family"], c.family);
        }
    }
    w.finish();
}

#[test]
fn filters_cut_exactly() {
    let _traffic = common::net::shared();
    if agent_bin().is_none() {
        return;
    }
    let mut w = World::new("tcpsend-f");
    for (args, keep) in w.end_filters() {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (events, (conns, _)) = trace("tcpsend", &args, || w.run());
        common::check_events(&events, "send", REQUIRED, OPTIONAL);
        let mut got: Vec<(u64, u64)> = w
            .own(&events)
            .map(|e| (e["lport"].as_u64().unwrap(), e["rport"].as_u64().unwrap()))
            .collect();
        got.sort_unstable();
        let mut want: Vec<(u64, u64)> = w
            .ends(&conns, keep)
            .into_iter()
            .map(|(_, l, r)| (l.into(), r.into()))
            .collect();
        want.sort_unstable();
        assert_eq!(got, want, "{args:?}: {events:?}");
    }
    w.finish();
}

#[test]
fn text_columns() {
    let _traffic = common::net::shared();
    let Some(bin) = agent_bin() else { return };
    let mut w = World::new("tcpsend-t");
    let client = w.client.pid();
    let mut cmd = std::process::Command::new(&bin);
    cmd.args(["tcpsend", "-v", "-p", &client.to_string()]);
    let agent = common::start(cmd);
    let (conns, _) = w.run();
    let (out, _) = agent.stop();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "PID     COMM             LADDR:LPORT              RADDR:RPORT           BYTES"
    );
    for c in conns.iter().filter(|c| c.client_pid == client) {
        let local = format!("{}:{}", c.client_addr, c.client_port);
        let remote = format!("{}:{}", c.server_addr, c.server_port);
        let want = format!(
            "{client:<7} {:<16} {local:<21} -> {remote:<21} {UP}",
            "python3"
        );
        assert_eq!(
            lines.iter().filter(|l| **l == want).count(),
            1,
            "{want}\n{out}"
        );
    }
    assert_eq!(lines.len(), 3, "{out}");
    w.finish();
}

/// One-byte sends as fast as a process makes them: each one seen, or counted as lost.
#[test]
fn storm_every_send_seen_or_counted() {
    let _traffic = common::net::exclusive();
    if agent_bin().is_none() {
        return;
    }
    let mut server = Peer::spawn();
    let port = server.sink("127.0.0.1");
    let mut client = Peer::spawn();
    let n = 200_000;
    let pid = client.pid().to_string();
    let (events, lport) = trace("tcpsend", &["-p", &pid], || {
        let lport = client.sends("127.0.0.1", port, n);
        std::thread::sleep(std::time::Duration::from_millis(500));
        lport
    });
    common::check_events(&events, "send", REQUIRED, OPTIONAL);
    let seen: u64 = matching(&events, &[("lport", json!(lport))])
        .iter()
        .map(|e| e["bytes"].as_u64().unwrap())
        .sum();
    let lost: u64 = events
        .iter()
        .filter(|e| e["type"] == "lost")
        .map(|e| e["lost"].as_u64().unwrap())
        .sum();
    assert_eq!(seen + lost, n, "seen {seen}, lost {lost}");
    eprintln!("{n} sends: {seen} seen, {lost} lost and counted");
    client.finish();
    server.finish();
}

#[test]
fn bad_input_and_missing_kprobes() {
    let Some(bin) = agent_bin() else { return };
    assert_usage_error(&bin, "tcpsend", &["-D", "80,abc"], "\"abc\"");
    assert_usage_error(&bin, "tcpsend", &["-L", "65536"], "1 to 65535");
    assert_usage_error(&bin, "tcpsend", &["-6", "-4"], "-4/--ipv4 and -6/--ipv6");
    if !std::path::Path::new("/sys/kernel/tracing/kprobe_events").exists() {
        let out = std::process::Command::new(&bin)
            .args(["tcpsend", "--hook", "kprobe"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{err}");
        assert!(
            err.contains("tcp_sendmsg") && err.contains("CONFIG_KPROBES"),
            "{err}"
        );
    }
    common::assert_needs_privileges(&bin, "tcpsend", &[]);
}
