//! tcpaccept against the host kernel, through the real static binary. This kernel has no
//! kprobes: tcpaccept runs on the accept syscalls' exits here (the VM cases cover the
//! kretprobe).

mod common;

use common::net::{
    assert_fields, assert_forced_kprobes_fail, assert_one_line, assert_refusals, assert_same,
    matching, one_matching, trace, trace_text, World,
};
use common::{agent_bin, Ty};
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
    let Some(mut w) = World::start("tcpaccept") else {
        return;
    };
    let (events, (conns, _)) = trace("tcpaccept", &[], || w.run());
    common::check_events(&events, "accept", REQUIRED, OPTIONAL);
    for c in &conns {
        let e = one_matching(
            &events,
            &[
                ("raddr", json!(c.client_addr)),
                ("rport", json!(c.client_port)),
                ("lport", json!(c.server_port)),
            ],
            c,
        );
        assert_fields(
            e,
            &[
                ("pid", json!(c.server_pid)),
                ("family", json!(c.family)),
                ("laddr", json!(c.server_addr)),
                ("comm", json!("python3")),
                ("uid", json!(0)),
            ],
            c,
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
    let Some(mut w) = World::start("tcpaccept-f") else {
        return;
    };
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
        let got: Vec<u64> = events
            .iter()
            .filter(|e| servers.contains(&(e["pid"].as_u64().unwrap() as u32)))
            .map(|e| e["rport"].as_u64().unwrap())
            .collect();
        let want: Vec<u64> = conns
            .iter()
            .filter(|c| keep(c, &w))
            .map(|c| c.client_port.into())
            .collect();
        assert_same(got, want, format_args!("{args:?}: {events:?}"));
    }
    w.finish();
}

#[test]
fn text_columns_like_bcc() {
    let Some(mut w) = World::start("tcpaccept-t") else {
        return;
    };
    let server = w.server.pid();
    let (out, (conns, _)) = trace_text("tcpaccept", &["-p", &server.to_string()], || w.run());
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
        assert_one_line(&out, &want);
    }
    assert_eq!(lines.len(), 4, "{out}");
    w.finish();
}

#[test]
fn bad_input_and_missing_kprobes() {
    let Some(bin) = agent_bin() else { return };
    assert_refusals(
        &bin,
        "tcpaccept",
        &[
            (&["-P", "80,abc"][..], "\"abc\""),
            (&["-P", "99999"], "1 to 65535"),
            (&["--hook", "fentry"], "--hook"),
        ],
    );
    // No kprobes here: forcing them fails with the reason and the fix.
    assert_forced_kprobes_fail(&bin, "tcpaccept", &["CONFIG_KPROBES", "--hook"]);
}
