//! tcptop against the host kernel, through the real static binary: the 6.3 socket tracepoints
//! here (no kprobes on this kernel; the VM cases cover them), exact bytes per process and
//! connection.

mod common;

use common::net::{assert_fields, assert_forced_kprobes_fail, assert_refusals, trace, World};
use common::{agent_bin, check_schema, Ty};
use serde_json::{json, Value};

/// docs/tools/tcptop.md.
const INTERVAL_REQUIRED: &[(&str, Ty)] = event_schema![
    interval_ns: Uint, rows: ObjArray, total_rows: Uint
];
const ROW_REQUIRED: &[(&str, Ty)] = schema![
    pid: Uint, comm: Str, family: Str, laddr: Str, lport: Uint, raddr: Str, rport: Uint,
    rx_bytes: Uint, tx_bytes: Uint
];
const ROW_OPTIONAL: &[(&str, Ty)] = schema![comm_hex: Str];

#[test]
fn schema_is_the_documented_one() {
    common::assert_documented("tools/tcptop.md", "JSON", INTERVAL_REQUIRED, &[]);
    common::assert_documented("tools/tcptop.md", "Rows", ROW_REQUIRED, ROW_OPTIONAL);
}

/// Every row of every interval, summed per (pid, lport, rport): (rx, tx).
fn rows(events: &[Value]) -> std::collections::BTreeMap<(u64, u64, u64), (u64, u64, Value)> {
    let mut m = std::collections::BTreeMap::new();
    for e in events {
        match e["type"].as_str() {
            Some("interval") => check_schema(e, INTERVAL_REQUIRED, &[]),
            Some("lost") => panic!("lost: {e}"),
            _ => panic!("unknown type: {e}"),
        }
        for r in e["rows"].as_array().unwrap() {
            check_schema(r, ROW_REQUIRED, ROW_OPTIONAL);
            let k = (
                r["pid"].as_u64().unwrap(),
                r["lport"].as_u64().unwrap(),
                r["rport"].as_u64().unwrap(),
            );
            let v = m.entry(k).or_insert((0, 0, r.clone()));
            v.0 += r["rx_bytes"].as_u64().unwrap();
            v.1 += r["tx_bytes"].as_u64().unwrap();
        }
    }
    m
}

#[test]
fn exact_bytes_per_process_and_connection() {
    let Some(mut w) = World::start("tcptop") else {
        return;
    };
    let (events, (conns, _)) = trace("tcptop", &["-C", "-r", "10240"], || w.run());
    let m = rows(&events);
    for c in &conns {
        for end in c.ends() {
            let (rx, tx, row) = m
                .get(&(end.pid.into(), end.lport.into(), end.rport.into()))
                .unwrap_or_else(|| panic!("{c:?}: no row of {end:?} in {m:?}"));
            assert_eq!((*rx, *tx), (end.rx, end.tx), "{c:?}");
            assert_fields(
                row,
                &[
                    ("laddr", json!(end.laddr)),
                    ("raddr", json!(end.raddr)),
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
    let Some(mut w) = World::start("tcptop-f") else {
        return;
    };
    let server = w.server.pid().to_string();
    let pids = w.pids();
    type Keep = common::net::KeepEnd;
    let cases: [(Vec<&str>, Keep); 3] = [
        (vec!["-p", &server], |c, w, client_end| {
            !client_end && c.server_pid == w.server.pid()
        }),
        (vec!["-4"], |c, _, _| c.family == "ipv4"),
        (vec!["-6", "--hook", "tracepoint"], |c, _, _| {
            c.family == "ipv6"
        }),
    ];
    for (args, keep) in cases {
        let mut argv = vec!["-C", "-r", "10240"];
        argv.extend(&args);
        let (events, (conns, _)) = trace("tcptop", &argv, || w.run());
        let got: Vec<(u64, u64, u64)> = rows(&events)
            .into_keys()
            .filter(|k| pids.contains(&(k.0 as u32)))
            .collect();
        let want: Vec<(u64, u64, u64)> = w
            .ends(&conns, keep)
            .into_iter()
            .map(|(p, l, r)| (p.into(), l.into(), r.into()))
            .collect();
        assert_eq!(got, want, "{args:?}");
    }
    w.finish();
}

#[test]
fn text_like_libbpf_tools_and_a_count_of_reports() {
    let Some(mut w) = World::start("tcptop-t") else {
        return;
    };
    let client = w.client.pid();
    let mut cmd = std::process::Command::new(agent_bin().unwrap());
    cmd.args(["tcptop", "-v", "-C", "-p", &client.to_string(), "1", "3"]);
    let agent = common::start(cmd);
    let (conns, _) = w.run();
    // Three one-second reports, then it ends by itself.
    let out = agent.wait_output(std::time::Duration::from_secs(10));
    let pid_width = std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .unwrap()
        .trim()
        .len()
        .max(6);
    assert_eq!(out.matches(" loadavg: ").count(), 3, "{out}");
    let header = format!(
        "{:<pid_width$} {:<12} {:<21} {:<21} {:>6} {:>6}",
        "PID", "COMM", "LADDR", "RADDR", "RX_KB", "TX_KB"
    );
    assert_eq!(out.matches(&format!("\n{header}\n")).count(), 3, "{out}");
    for c in conns
        .iter()
        .filter(|c| c.client_pid == client && c.family == "ipv4")
    {
        let local = format!("{}:{}", c.client_addr, c.client_port);
        let remote = format!("{}:{}", c.server_addr, c.server_port);
        let row = format!(
            "{client:<pid_width$} {:<12} {local:<21} {remote:<21} {:>6} {:>6}",
            "python3", 1, 0
        );
        common::net::assert_one_line(&out, &row);
    }
    w.finish();
}

#[test]
fn bad_input_and_missing_kprobes() {
    let Some(bin) = agent_bin() else { return };
    assert_refusals(
        &bin,
        "tcptop",
        &[
            (&["-s", "bytes"][..], "all, sent or received"),
            (&["-r", "0"], "-r/--rows"),
            (&["1", "2", "3"], "unexpected argument"),
        ],
    );
    assert_forced_kprobes_fail(&bin, "tcptop", &["tcp_sendmsg", "CONFIG_KPROBES"]);
}
