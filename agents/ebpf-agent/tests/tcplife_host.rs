//! tcplife against the host kernel, through the real static binary: every connection of the
//! workload once per end, with its process, addresses, ports and exact bytes.

mod common;

use common::net::{
    assert_fields, assert_one_line_starting, assert_refusals, one_matching, trace, trace_text,
    World,
};
use common::{agent_bin, Ty};
use serde_json::{json, Value};

/// docs/tools/tcplife.md, JSON.
const REQUIRED: &[(&str, Ty)] = event_schema![
    pid: Uint, comm: Str, owner: Str, family: Str, laddr: Str, lport: Uint, raddr: Str, rport: Uint,
    tx_bytes: Uint, rx_bytes: Uint, span_ns: Uint
];
const OPTIONAL: &[(&str, Ty)] = schema![comm_hex: Str];

#[test]
fn schema_is_the_documented_one() {
    common::assert_documented("tools/tcplife.md", "JSON", REQUIRED, OPTIONAL);
}

fn check(events: &[Value]) {
    common::check_events(events, "close", REQUIRED, OPTIONAL);
}

#[test]
fn every_close_once_per_end_with_exact_bytes() {
    let Some(mut w) = World::start("tcplife") else {
        return;
    };
    let (events, (conns, refused)) = trace("tcplife", &[], || w.run());
    check(&events);
    for c in &conns {
        for end in c.ends() {
            let owner = if end.client { "connect" } else { "accept" };
            let e = one_matching(
                &events,
                &[
                    ("laddr", json!(end.laddr)),
                    ("lport", json!(end.lport)),
                    ("raddr", json!(end.raddr)),
                    ("rport", json!(end.rport)),
                ],
                &end,
            );
            assert_fields(
                e,
                &[
                    ("pid", json!(end.pid)),
                    ("owner", json!(owner)),
                    ("tx_bytes", json!(end.tx)),
                    ("rx_bytes", json!(end.rx)),
                    ("family", json!(c.family)),
                    ("comm", json!("python3")),
                ],
                c,
            );
            let span = e["span_ns"].as_u64().unwrap();
            assert!(span > 0 && span < 10_000_000_000, "{e}");
        }
    }
    for r in &refused {
        assert_fields(
            r.event(&events),
            &[
                ("pid", json!(r.pid)),
                ("owner", json!("connect")),
                ("tx_bytes", json!(0)),
                ("rx_bytes", json!(0)),
            ],
            r,
        );
    }
    w.finish();
}

#[test]
fn filters_cut_exactly() {
    let Some(mut w) = World::start("tcplife-f") else {
        return;
    };
    // The refused connects sent nothing: only the connections' ends count.
    w.assert_end_filters("tcplife", check, |e| e["tx_bytes"] != 0);
    w.finish();
}

#[test]
fn text_columns_like_libbpf_tools() {
    let Some(mut w) = World::start("tcplife-t") else {
        return;
    };
    let client = w.client.pid();
    let (out, (conns, _)) = trace_text("tcplife", &["-w", "-p", &client.to_string()], || w.run());
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        format!(
            "{:<7} {:<16} {:<39} {:<5} {:<39} {:<5} {:<6} {:<6} MS",
            "PID", "COMM", "LADDR", "LPORT", "RADDR", "RPORT", "TX_KB", "RX_KB"
        )
    );
    for c in conns.iter().filter(|c| c.client_pid == client) {
        let want = format!(
            "{:<7} {:<16} {:<39} {:<5} {:<39} {:<5} {:<6} {:<6} ",
            client,
            "python3",
            c.client_addr,
            c.client_port,
            c.server_addr,
            c.server_port,
            "0.98",
            "1.95"
        );
        assert_one_line_starting(&out, &want);
    }
    // Two connections, two refused connects.
    assert_eq!(lines.len(), 5, "{out}");
    w.finish();
}

#[test]
fn bad_input_is_refused_with_a_reason() {
    let Some(bin) = agent_bin() else { return };
    assert_refusals(
        &bin,
        "tcplife",
        &[
            (&["-L", "80,abc"][..], "\"abc\""),
            (&["-D", "65536"], "1 to 65535"),
        ],
    );
}
