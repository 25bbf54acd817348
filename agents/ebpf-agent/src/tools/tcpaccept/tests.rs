use super::*;
use crate::tools::testutil::{parse, rejected};

fn event(local: &str, remote: &str, pid: u32, comm: &[u8]) -> Vec<u8> {
    let mut e = Event {
        time_ns: 5_000_000_000,
        tuple: Tuple::of(local.parse().unwrap(), remote.parse().unwrap()),
        pid,
        tid: pid,
        uid: 33,
        ..Default::default()
    };
    e.comm[..comm.len()].copy_from_slice(comm);
    pod::bytes_of(&e).to_vec()
}

fn run(flags: &[&str], records: &[Vec<u8>]) -> String {
    let records: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
    tool::feed::<Tcpaccept>("tcpaccept", flags, &records).unwrap()
}

#[test]
fn bcc_flags() {
    let (c, a) =
        parse::<Tcpaccept>("tcpaccept", &["-Tt", "-p", "42", "-P80,8080", "-6", "--hook", "tracepoint", "--json"]).unwrap();
    assert!(a.time && a.timestamp && a.ipv6 && !a.ipv4 && c.json);
    assert_eq!((a.pid, a.port), (Some(42), Some(PortList(vec![80, 8080]))));
    assert_eq!(a.hook, HookChoice::Tracepoint);
    for (argv, says) in [
        (&["-P", "80,abc"][..], "\"abc\""),
        (&["-P", "100000"], "1 to 65535"),
        (&["-4", "-6"], "exclude each other"),
        (&["--hook", "fentry"], "auto, kprobe or tracepoint"),
    ] {
        let e = rejected::<Tcpaccept>("tcpaccept", argv);
        assert_eq!(e.exit_code, 2, "{argv:?}");
        assert!(e.message().contains(says), "{argv:?}: {}", e.message());
    }
}

#[test]
fn text_columns_like_bcc() {
    let out = run(
        &[],
        &[
            event("127.0.0.1:8080", "127.0.0.1:51234", 1000, b"a-very-long-name"),
            event("[::1]:22", "[fe80::1]:40000", 12, b"sshd"),
        ],
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "PID     COMM         IP RADDR            RPORT LADDR            LPORT",
            "1000    a-very-long- 4  127.0.0.1        51234 127.0.0.1        8080 ",
            "12      sshd         6  fe80::1          40000 ::1              22   ",
        ]
    );
}

#[test]
fn json_has_the_accepting_process_and_both_ends() {
    let out = run(&["--json"], &[event("[::1]:22", "[::1]:40000", 12, b"sshd")]);
    let v: serde_json::Value = serde_json::from_str(out.trim_end()).unwrap();
    assert_eq!(v["type"], "accept");
    assert_eq!((v["pid"].as_u64(), v["uid"].as_u64()), (Some(12), Some(33)));
    assert_eq!((v["laddr"].as_str(), v["lport"].as_u64()), (Some("::1"), Some(22)));
    assert_eq!((v["raddr"].as_str(), v["rport"].as_u64()), (Some("::1"), Some(40000)));
    assert_eq!(v["family"], "ipv6");
}
