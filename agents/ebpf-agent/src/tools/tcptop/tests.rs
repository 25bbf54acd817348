use super::*;
use crate::tools::testutil::{assert_summary, padded, tick, tuple, written};
crate::tools::testutil::tool_tests!(Tcptop, "tcptop");

fn row(local: &str, remote: &str, pid: u32, sent: u64, received: u64) -> (Key, Value) {
    let k = Key {
        tuple: tuple(local, remote),
        pid,
        comm: padded(b"sshd"),
    };
    (k, Value { sent, received })
}

fn report(argv: &[&str], rows: Vec<(Key, Value)>, json: bool) -> String {
    let mut t = tool(argv);
    t.pid_width = 6;
    let tick = tick(1_000_000_000, 2_000_000_000);
    written(json, |out| {
        t.interval(&tick, rows, "0.50 0.40 0.30 1/99 1234", out)
    })
}

#[test]
fn libbpf_tools_flags() {
    let a = parse_args(&["-CS", "-s", "sent", "-r", "5", "-p", "9", "-6", "2", "3"]).unwrap();
    assert!(a.noclear && a.nosummary && a.ipv6);
    assert_eq!((a.sort, a.rows, a.pid), (Sort::Sent, 5, Some(9)));
    assert_eq!(a.positional, ["2", "3"]);
    usage_errors(
        &[
            (&["-s", "bytes"][..], "all, sent or received"),
            (&["-r", "0"], "-r/--rows"),
            (&["-r", "10241"], "-r/--rows"),
            (&["-4", "-6"], "exclude each other"),
            (&["0"], "interval"),
            (&["1", "2", "3"], "unexpected argument"),
        ],
        "--nosummary",
    );
}

/// A line of the text report: PID, COMM, the two addresses (`width` wide), RX_KB and TX_KB.
fn text_row(width: usize, [pid, comm, laddr, raddr, rx, tx]: [&str; 6]) -> String {
    format!("{pid:<6} {comm:<12} {laddr:<width$} {raddr:<width$} {rx:>6} {tx:>6}")
}

#[test]
fn text_like_libbpf_tools_ipv4_then_ipv6() {
    let rows = vec![
        row("[::1]:22", "[::1]:50000", 10, 4096, 0),
        row("127.0.0.1:22", "127.0.0.1:50001", 11, 1024, 2048),
        row("10.0.0.1:443", "10.0.0.2:50002", 12, 100_000, 0),
    ];
    let out = report(&["-C"], rows, false);
    let lines: Vec<&str> = out.lines().collect();
    assert_summary(&lines, "0.50 0.40 0.30 1/99 1234");
    assert_eq!(
        &lines[2..],
        [
            text_row(21, ["PID", "COMM", "LADDR", "RADDR", "RX_KB", "TX_KB"]),
            text_row(
                21,
                ["12", "sshd", "10.0.0.1:443", "10.0.0.2:50002", "0", "97"]
            ),
            text_row(
                21,
                ["11", "sshd", "127.0.0.1:22", "127.0.0.1:50001", "2", "1"]
            ),
            String::new(),
            text_row(51, ["PID", "COMM", "LADDR6", "RADDR6", "RX_KB", "TX_KB"]),
            text_row(51, ["10", "sshd", "::1:22", "::1:50000", "0", "4"]),
            String::new(),
        ]
    );
    // The screen is cleared unless -C; -S drops the summary line.
    let out = report(&["-S"], vec![], false);
    assert!(out.starts_with("\x1b[H\x1b[2JPID "), "{out:?}");
}

#[test]
fn json_rows_sorted_and_cut() {
    let rows = vec![
        row("127.0.0.1:22", "127.0.0.1:50001", 11, 10, 20),
        row("127.0.0.1:22", "127.0.0.1:50002", 11, 1, 2),
        row("127.0.0.1:22", "127.0.0.1:50003", 11, 100, 0),
    ];
    let out = report(&["-r", "2", "-s", "received"], rows, true);
    let v: serde_json::Value = serde_json::from_str(out.trim_end()).unwrap();
    assert_eq!(
        (v["type"].as_str(), v["total_rows"].as_u64()),
        (Some("interval"), Some(3))
    );
    assert_eq!(v["interval_ns"], 1_000_000_000u64);
    let r = v["rows"].as_array().unwrap();
    assert_eq!(r.len(), 2);
    assert_eq!(
        (
            r[0]["rport"].as_u64(),
            r[0]["rx_bytes"].as_u64(),
            r[0]["tx_bytes"].as_u64()
        ),
        (Some(50001), Some(20), Some(10))
    );
    assert_eq!(r[1]["rport"], 50002);
    assert_eq!(
        (
            r[0]["pid"].as_u64(),
            r[0]["comm"].as_str(),
            r[0]["family"].as_str()
        ),
        (Some(11), Some("sshd"), Some("ipv4"))
    );
}

/// A kernel without the 6.3 socket tracepoints and without kprobes: tcptop says why, naming
/// both ways it could have run.
#[test]
fn degrades_with_a_reason_without_the_tracepoints_and_kprobes() {
    struct Old;
    impl agent_core::hooks::Kernel for Old {
        fn missing(&self, h: &agent_core::hooks::HookBuf) -> Option<String> {
            match h {
                Hook::Tracepoint(c, n) if c == "sock" && n.starts_with("sock_") => Some(format!(
                    "no tracepoint {c}:{n}: it came with Linux {}",
                    agent_core::probe::tracepoint_since(c, n).unwrap()
                )),
                Hook::Kprobe(f) | Hook::Kretprobe(f) => {
                    Some(format!("no kprobes for {f}: enable CONFIG_KPROBES"))
                }
                _ => None,
            }
        }
    }
    let why = agent_core::hooks::resolve(TOOL.hooks, &Choices::default(), &Old).unwrap_err();
    assert!(
        why.contains("sock:sock_send_length") && why.contains("Linux 6.3"),
        "{why}"
    );
    assert!(why.contains("CONFIG_KPROBES"), "{why}");
}
