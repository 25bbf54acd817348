//! tcpconnect against the host kernel, through the real static binary: real clients and
//! servers on loopback and across a veth pair between two network namespaces.

mod common;

use common::net::{
    assert_fields, assert_one_line, assert_refusals, assert_same, lost, matching, one_matching,
    trace, trace_text, Peer, World,
};
use common::{agent_bin, Ty};
use serde_json::{json, Value};

/// docs/tools/tcpconnect.md, JSON.
const REQUIRED: &[(&str, Ty)] = event_schema![
    pid: Uint, tid: Uint, uid: Uint, comm: Str, family: Str, laddr: Str, lport: Uint, raddr: Str,
    rport: Uint, result: Str
];
const OPTIONAL: &[(&str, Ty)] = schema![comm_hex: Str, latency_ns: Uint];

/// docs/tools/tcpconnect.md, "Counts" (-c).
const COUNTS_REQUIRED: &[(&str, Ty)] = event_schema![rows: ObjArray, total_rows: Uint];
const COUNT_ROW_REQUIRED: &[(&str, Ty)] = schema![
    family: Str, laddr: Str, raddr: Str, rport: Uint, count: Uint
];
const COUNT_ROW_OPTIONAL: &[(&str, Ty)] = schema![lport: Uint];

#[test]
fn schema_is_the_documented_one() {
    common::assert_documented("tools/tcpconnect.md", "JSON", REQUIRED, OPTIONAL);
    common::assert_documented("tools/tcpconnect.md", "Counts", COUNTS_REQUIRED, &[]);
    common::assert_documented(
        "tools/tcpconnect.md",
        "Count rows",
        COUNT_ROW_REQUIRED,
        COUNT_ROW_OPTIONAL,
    );
}

/// Runs `tcpconnect --json -v ARGS` while `work` runs; returns the events, checked.
fn traced<T>(args: &[&str], work: impl FnOnce() -> T) -> (Vec<Value>, T) {
    let (events, made) = trace("tcpconnect", args, work);
    check(&events);
    (events, made)
}

/// Every line a `connect` or `connect_result` (which always has its latency) or `lost`.
fn check(events: &[Value]) {
    let mut with_latency: Vec<(&str, Ty)> = REQUIRED.to_vec();
    with_latency.push(("latency_ns", Ty::Uint));
    for e in events {
        match e["type"].as_str() {
            Some("connect") => common::check_schema(e, REQUIRED, OPTIONAL),
            Some("connect_result") => {
                common::check_schema(e, &with_latency, &[("comm_hex", Ty::Str)]);
                assert_ne!(e["result"], "pending", "{e}");
            }
            Some("lost") => common::check_schema(e, common::LOST_REQUIRED, &[]),
            _ => panic!("unknown type: {e}"),
        }
    }
}

#[test]
fn every_connect_once_on_loopback_and_across_namespaces() {
    let Some(mut w) = World::start("tcpconnect") else {
        return;
    };
    let (events, (conns, refused)) = traced(&[], || w.run());
    for c in &conns {
        let e = one_matching(
            &events,
            &[
                ("pid", json!(c.client_pid)),
                ("lport", json!(c.client_port)),
                ("raddr", json!(c.server_addr)),
            ],
            c,
        );
        let uid = if c.client_pid == w.nobody.pid() {
            65534
        } else {
            0
        };
        assert_fields(
            e,
            &[
                ("family", json!(c.family)),
                ("laddr", json!(c.client_addr)),
                ("rport", json!(c.server_port)),
                ("uid", json!(uid)),
                ("comm", json!("python3")),
                ("result", json!("established")),
            ],
            c,
        );
        assert!(e["tid"].as_u64().unwrap() > 0);
    }
    for r in &refused {
        assert_fields(
            r.event(&events),
            &[
                ("pid", json!(r.pid)),
                ("family", json!(r.family)),
                ("result", json!("ECONNREFUSED")),
            ],
            r,
        );
    }
    // Servers accept; they never connect. Nothing was pending.
    for pid in [w.server.pid(), w.ns_server.pid()] {
        assert!(matching(&events, &[("pid", json!(pid))]).is_empty());
    }
    assert!(matching(&events, &[("type", json!("connect_result"))]).is_empty());
    w.finish();
}

/// Connects to listeners whose accept queue is full: the SYNs are dropped until the server
/// drains them. The non-blocking connect is reported pending at connect()'s return, the
/// blocking one at its first SYN retransmission (a second later); once established, each
/// gets its connect_result.
#[test]
fn pending_attempts_get_their_outcome() {
    let _traffic = common::net::shared();
    if agent_bin().is_none() {
        return;
    }
    let mut server = Peer::spawn();
    let (p1, p2) = (server.full("127.0.0.1"), server.full("::1"));
    let mut client = Peer::spawn();
    let (events, (nb, bg)) = traced(&["-p", &client.pid().to_string()], || {
        let nb = client.connect_nb("127.0.0.1", p1);
        let bg = client.connect_bg("::1", p2);
        std::thread::sleep(std::time::Duration::from_millis(1500));
        server.drain();
        client.wait_connected();
        std::thread::sleep(std::time::Duration::from_millis(300));
        (nb, bg)
    });
    for (lport, rport, raddr) in [(nb, p1, "127.0.0.1"), (bg, p2, "::1")] {
        let mine = matching(
            &events,
            &[
                ("lport", json!(lport)),
                ("rport", json!(rport)),
                ("raddr", json!(raddr)),
            ],
        );
        let kinds: Vec<(&str, &str)> = mine
            .iter()
            .map(|e| (e["type"].as_str().unwrap(), e["result"].as_str().unwrap()))
            .collect();
        assert_eq!(
            kinds,
            [("connect", "pending"), ("connect_result", "established")],
            "{events:?}"
        );
        // The outcome came after the drain: more than a second after the SYN.
        assert!(
            mine[1]["latency_ns"].as_u64().unwrap() > 1_000_000_000,
            "{events:?}"
        );
        assert_eq!(mine[1]["pid"], client.pid());
    }
    assert_eq!(events.len(), 4, "{events:?}");
    client.finish();
    server.finish();
}

#[test]
fn filters_cut_exactly() {
    let Some(mut w) = World::start("tcpconnect-f") else {
        return;
    };
    let client = w.client.pid().to_string();
    let port4 = w.port("127.0.0.1").to_string();
    type Keep = fn(&common::net::Conn, &World) -> bool;
    let cases: [(Vec<&str>, Keep); 5] = [
        (vec!["-p", &client], |c, w| c.client_pid == w.client.pid()),
        (vec!["-u", "65534"], |c, w| c.client_pid == w.nobody.pid()),
        (vec!["-P", &port4], |c, _| c.server_addr == "127.0.0.1"),
        (vec!["-4"], |c, _| c.family == "ipv4"),
        (vec!["-6"], |c, _| c.family == "ipv6"),
    ];
    let pids = [w.client.pid(), w.nobody.pid(), w.ns_client.pid()];
    for (args, keep) in cases {
        let (events, (conns, refused)) = traced(&args, || w.run());
        // Only the workload's own connects count (other tests may run at the same time).
        let ours: Vec<&Value> = events
            .iter()
            .filter(|e| pids.contains(&(e["pid"].as_u64().unwrap() as u32)))
            .collect();
        let want: Vec<u16> = conns
            .iter()
            .filter(|c| keep(c, &w))
            .map(|c| c.client_port)
            .collect();
        let got: Vec<u16> = ours
            .iter()
            .filter(|e| e["result"] == "established")
            .map(|e| e["lport"].as_u64().unwrap() as u16)
            .collect();
        assert_same(got, want, format_args!("{args:?}: {ours:?}"));
        let refused_want = refused
            .iter()
            .filter(|r| match args[0] {
                "-p" => true,
                "-4" | "-6" => r.family == if args[0] == "-4" { "ipv4" } else { "ipv6" },
                _ => false,
            })
            .count();
        let refused_got = ours
            .iter()
            .filter(|e| e["result"] == "ECONNREFUSED")
            .count();
        assert_eq!(refused_got, refused_want, "{args:?}: {ours:?}");
    }
    w.finish();
}

#[test]
fn text_columns_and_counts() {
    let Some(mut w) = World::start("tcpconnect-t") else {
        return;
    };
    let client = w.client.pid().to_string();
    let (out, (conns, _)) = trace_text("tcpconnect", &["-U", "-s", "-p", &client], || w.run());
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "UID   PID    COMM             IP SADDR            DADDR            SPORT DPORT"
    );
    for c in conns.iter().filter(|c| c.client_pid == w.client.pid()) {
        let want = format!(
            "{:<6}{:<6} {:<16} {:<2} {:<16} {:<16} {:<5} {:<5}",
            0,
            client,
            "python3",
            if c.family == "ipv6" { 6 } else { 4 },
            c.client_addr,
            c.server_addr,
            c.client_port,
            c.server_port
        );
        assert_one_line(&out, &want);
    }

    // -c: two runs of the workload, counted per local address, remote address and port.
    let (v, _) = trace("tcpconnect", &["-c", "-p", &client], || {
        w.run();
        w.run();
    });
    assert_eq!(v.len(), 1, "{v:?}");
    common::check_schema(&v[0], COUNTS_REQUIRED, &[]);
    let rows = v[0]["rows"].as_array().unwrap();
    for r in rows {
        common::check_schema(r, COUNT_ROW_REQUIRED, COUNT_ROW_OPTIONAL);
    }
    // The client's connects: 127.0.0.1 and ::1, twice each; the refused ones too.
    let count = |raddr: &str, rport: u16| {
        rows.iter()
            .find(|r| r["raddr"] == raddr && r["rport"] == rport)
            .map(|r| r["count"].as_u64().unwrap())
    };
    assert_eq!(count("127.0.0.1", w.port("127.0.0.1")), Some(2), "{v:?}");
    assert_eq!(count("::1", w.port("::1")), Some(2), "{v:?}");
    for (addr, port) in &w.closed {
        assert_eq!(count(addr, *port), Some(2), "{v:?}");
    }
    assert_eq!(rows.len(), 4, "{v:?}");
    w.finish();
}

/// Connections as fast as a process makes them: each one seen, or counted as lost.
#[test]
fn storm_every_connect_seen_or_counted() {
    let _traffic = common::net::exclusive();
    if agent_bin().is_none() {
        return;
    }
    let mut server = Peer::spawn();
    let port = server.acceptor("127.0.0.1");
    let mut client = Peer::spawn();
    let (events, made) = traced(&["-p", &client.pid().to_string()], || {
        let made = client.storm("127.0.0.1", port, 2.0);
        std::thread::sleep(std::time::Duration::from_millis(500));
        made
    });
    let count = |ty: &str| events.iter().filter(|e| e["type"] == ty).count() as u64;
    let (seen, results) = (count("connect"), count("connect_result"));
    let lost = lost(&events);
    assert!(made > 1000, "only {made} connects");
    // Every attempt once; a record the ring could not take (an attempt, or the outcome of
    // one that had to wait for a SYN retransmission) is counted.
    let why = format!("seen {seen} (+{results} outcomes), lost {lost}, made {made}");
    assert!(seen <= made && seen + lost >= made, "{why}");
    if lost == 0 {
        assert_eq!(seen, made, "{why}");
    }
    eprintln!("{why}");
    client.finish();
    server.finish();
}

#[test]
fn bad_input_is_refused_with_a_reason() {
    let Some(bin) = agent_bin() else { return };
    assert_refusals(
        &bin,
        "tcpconnect",
        &[
            (&["-P", "80,abc"][..], "\"abc\""),
            (&["-P", "65536"], "1 to 65535"),
            (&["-u", "nobody"], "-u/--uid"),
        ],
    );
}
