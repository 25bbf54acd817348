//! tcpsend against the host kernel, through the real static binary: sock:sock_send_length
//! here (no kprobes on this kernel; the VM cases cover them).

mod common;

use common::net::{
    assert_fields, assert_forced_kprobes_fail, assert_one_line, assert_refusals, lost, matching,
    one_matching, trace, trace_text, Peer, World, UP,
};
use common::{agent_bin, Ty};
use serde_json::{json, Value};

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

fn check(events: &[Value]) {
    common::check_events(events, "send", REQUIRED, OPTIONAL);
}

#[test]
fn every_send_once_with_its_bytes() {
    let Some(mut w) = World::start("tcpsend") else {
        return;
    };
    let (events, (conns, _)) = trace("tcpsend", &[], || w.run());
    check(&events);
    for c in &conns {
        for end in c.ends() {
            let e = one_matching(
                &events,
                &[("lport", json!(end.lport)), ("rport", json!(end.rport))],
                c,
            );
            assert_fields(
                e,
                &[
                    ("pid", json!(end.pid)),
                    ("laddr", json!(end.laddr)),
                    ("raddr", json!(end.raddr)),
                    ("bytes", json!(end.tx)),
                    ("family", json!(c.family)),
                ],
                c,
            );
        }
    }
    w.finish();
}

#[test]
fn filters_cut_exactly() {
    let Some(mut w) = World::start("tcpsend-f") else {
        return;
    };
    w.assert_end_filters("tcpsend", check, |_| true);
    w.finish();
}

#[test]
fn text_columns() {
    let Some(mut w) = World::start("tcpsend-t") else {
        return;
    };
    let client = w.client.pid();
    let (out, (conns, _)) = trace_text("tcpsend", &["-p", &client.to_string()], || w.run());
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
        assert_one_line(&out, &want);
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
    check(&events);
    let seen: u64 = matching(&events, &[("lport", json!(lport))])
        .iter()
        .map(|e| e["bytes"].as_u64().unwrap())
        .sum();
    let lost = lost(&events);
    assert_eq!(seen + lost, n, "seen {seen}, lost {lost}");
    eprintln!("{n} sends: {seen} seen, {lost} lost and counted");
    client.finish();
    server.finish();
}

#[test]
fn bad_input_and_missing_kprobes() {
    let Some(bin) = agent_bin() else { return };
    // -4 and -6 the other way round too.
    assert_refusals(
        &bin,
        "tcpsend",
        &[
            (&["-D", "80,abc"][..], "\"abc\""),
            (&["-L", "65536"], "1 to 65535"),
            (&["-6", "-4"], "-4/--ipv4 and -6/--ipv6"),
        ],
    );
    assert_forced_kprobes_fail(&bin, "tcpsend", &["tcp_sendmsg", "CONFIG_KPROBES"]);
}
