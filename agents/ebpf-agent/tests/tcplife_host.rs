//! tcplife against the host kernel, through the real static binary: every connection of the
//! workload once per end, with its process, addresses, ports and exact bytes.

mod common;

use common::net::{matching, trace, World, DOWN, UP};
use common::{agent_bin, assert_usage_error, Ty};
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

/// The line of one end: (pid, owner, local, remote, tx, rx).
fn one<'a>(events: &'a [Value], laddr: &str, lport: u16, raddr: &str, rport: u16) -> &'a Value {
    let mine = matching(
        events,
        &[
            ("laddr", json!(laddr)),
            ("lport", json!(lport)),
            ("raddr", json!(raddr)),
            ("rport", json!(rport)),
        ],
    );
    assert_eq!(mine.len(), 1, "{laddr}:{lport} {raddr}:{rport}: {mine:?}");
    mine[0]
}

#[test]
fn every_close_once_per_end_with_exact_bytes() {
    let _traffic = common::net::shared();
    if agent_bin().is_none() {
        return;
    }
    let mut w = World::new("tcplife");
    let (events, (conns, refused)) = trace("tcplife", &[], || w.run());
    common::check_events(&events, "close", REQUIRED, OPTIONAL);
    for c in &conns {
        let client = one(
            &events,
            &c.client_addr,
            c.client_port,
            &c.server_addr,
            c.server_port,
        );
        assert_eq!(
            (
                &client["pid"],
                &client["owner"],
                &client["tx_bytes"],
                &client["rx_bytes"]
            ),
            (
                &json!(c.client_pid),
                &json!("connect"),
                &json!(UP),
                &json!(DOWN)
            ),
            "{c:?}: {client}"
        );
        let server = one(
            &events,
            &c.server_addr,
            c.server_port,
            &c.client_addr,
            c.client_port,
        );
        assert_eq!(
            (
                &server["pid"],
                &server["owner"],
                &server["tx_bytes"],
                &server["rx_bytes"]
            ),
            (
                &json!(c.server_pid),
                &json!("accept"),
                &json!(DOWN),
                &json!(UP)
            ),
            "{c:?}: {server}"
        );
        for e in [client, server] {
            assert_eq!(
                (&e["family"], &e["comm"]),
                (&json!(c.family), &json!("python3"))
            );
            let span = e["span_ns"].as_u64().unwrap();
            assert!(span > 0 && span < 10_000_000_000, "{e}");
        }
    }
    for r in &refused {
        let mine = matching(
            &events,
            &[("raddr", json!(r.addr)), ("rport", json!(r.port))],
        );
        assert_eq!(mine.len(), 1, "{r:?}: {mine:?}");
        assert_eq!(
            (
                &mine[0]["pid"],
                &mine[0]["owner"],
                &mine[0]["tx_bytes"],
                &mine[0]["rx_bytes"]
            ),
            (&json!(r.pid), &json!("connect"), &json!(0), &json!(0))
        );
    }
    w.finish();
}

#[test]
fn filters_cut_exactly() {
    let _traffic = common::net::shared();
    if agent_bin().is_none() {
        return;
    }
    let mut w = World::new("tcplife-f");
    for (args, keep) in w.end_filters() {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (events, (conns, _)) = trace("tcplife", &args, || w.run());
        common::check_events(&events, "close", REQUIRED, OPTIONAL);
        let mut got: Vec<(u64, u64)> = w
            .own(&events)
            .filter(|e| e["tx_bytes"] != 0)
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
fn text_columns_like_libbpf_tools() {
    let _traffic = common::net::shared();
    let Some(bin) = agent_bin() else { return };
    let mut w = World::new("tcplife-t");
    let client = w.client.pid();
    let mut cmd = std::process::Command::new(&bin);
    cmd.args(["tcplife", "-v", "-w", "-p", &client.to_string()]);
    let agent = common::start(cmd);
    let (conns, _) = w.run();
    let (out, _) = agent.stop();
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
        assert_eq!(
            lines.iter().filter(|l| l.starts_with(&want)).count(),
            1,
            "{want}\n{out}"
        );
    }
    // Two connections, two refused connects.
    assert_eq!(lines.len(), 5, "{out}");
    w.finish();
}

#[test]
fn bad_input_is_refused_with_a_reason() {
    let Some(bin) = agent_bin() else { return };
    assert_usage_error(&bin, "tcplife", &["-L", "80,abc"], "\"abc\"");
    assert_usage_error(&bin, "tcplife", &["-D", "65536"], "1 to 65535");
    assert_usage_error(&bin, "tcplife", &["-4", "-6"], "-4/--ipv4 and -6/--ipv6");
    common::assert_needs_privileges(&bin, "tcplife", &[]);
}
