//! tcpconnect: trace active TCP connects (BCC/libbpf-tools compatible), IPv4 and IPv6.
//!
//! BPF side: `bpf/tcpconnect.bpf.c`. The tracepoint `sock:inet_sock_set_state` (a socket
//! entering SYN_SENT, in the connecting process), reported once the local port is known:
//! at the answer, at connect()'s return, or at the first SYN retransmission. libbpf-tools'
//! tcpconnect needs kprobes on tcp_v4_connect/tcp_v6_connect; this one runs without.

use agent_core::net::{self, family_filter, parse_ports, PortList, Ports, Tuple};
use agent_core::prelude::*;

pub const TOOL: Spec = Spec {
    name: "tcpconnect",
    about: "trace active TCP connects: who connects where, and the result",
    hooks: &[
        Group::all(
            "",
            &[tracepoint(
                "tp_inet_sock_set_state",
                "sock",
                "inet_sock_set_state",
            )],
        ),
        // Without it (no syscall tracepoints), an attempt is reported when it is answered
        // or its SYN is sent again.
        Group::first_of(
            "connect",
            &[
                Group::syscalls(
                    "exit",
                    &["connect"],
                    Required::All(&["connect"]),
                    Exit::Only("tp_exit_connect"),
                ),
                Group::optional("none", &[]),
            ],
        ),
        Group::optional(
            "tcp",
            &[
                Attach::new(
                    "raw_tcp_retransmit_skb",
                    Hook::RawTp("tcp", "tcp_retransmit_skb"),
                ),
                Attach::new("raw_tcp_destroy_sock", Hook::RawTp("tcp", "tcp_destroy_sock")),
            ],
        ),
    ],
    dynamic: &[],
    structs: &[Event::LAYOUT, Tuple::LAYOUT, Config::LAYOUT],
    start: tool::start::<Tcpconnect>,
    selftest: SelfTest {
        args: |_| vec!["-p".into(), std::process::id().to_string()],
        workload: selftest_workload,
        storm: Some(storm),
    },
};

/// A connection to a listener of our own on 127.0.0.1 and a connect to a closed port: the
/// first established, the second refused, both by this process.
fn selftest_workload(_marker: &str) -> std::io::Result<Vec<String>> {
    let lo = std::net::IpAddr::from([127, 0, 0, 1]);
    let x = net::exchange(lo, 0, 0)?;
    let closed = net::closed_port(lo)?;
    if std::net::TcpStream::connect((lo, closed)).is_ok() {
        return Err(std::io::Error::other(format!("port {closed} was not closed")));
    }
    let pid = std::process::id();
    Ok(vec![
        format!(
            "\"pid\":{pid},\"tid\":{pid},\"uid\":{uid},\"comm\":\"ebpf-agent\",\
             \"family\":\"ipv4\",\"laddr\":\"127.0.0.1\",\"lport\":{},\"raddr\":\"127.0.0.1\",\
             \"rport\":{},\"result\":\"established\",\"latency_ns\":",
            x.client.port(),
            x.server.port(),
            uid = nix::unistd::getuid()
        ),
        format!(
            "\"raddr\":\"127.0.0.1\",\"rport\":{closed},\"result\":\"ECONNREFUSED\",\"latency_ns\":"
        ),
    ])
}

/// Connections over loopback as fast as they go, each closed with a reset (no TIME_WAIT to
/// run out of ports with).
fn storm(_marker: &str, until: std::time::Instant) -> std::io::Result<u64> {
    use std::os::fd::AsRawFd;
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    let addr = listener.local_addr()?;
    let mut n = 0;
    while std::time::Instant::now() < until {
        let c = std::net::TcpStream::connect(addr)?;
        let (s, _) = listener.accept()?;
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: a valid socket and a linger struct of the size given.
        unsafe {
            libc::setsockopt(
                c.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                &linger as *const libc::linger as *const libc::c_void,
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            )
        };
        drop(c);
        drop(s);
        n += 1;
    }
    Ok(n)
}

agent_core::pod! {
    /// `struct tcpconnect_event`.
    pub struct Event = "tcpconnect_event" {
        time_ns: u64,
        done_ns: u64,
        tuple: Tuple,
        pid: u32,
        tid: u32,
        uid: u32,
        error: i32,
        result: u32,
        followup: u32,
        comm: [u8; 16],
    }

    /// `struct tcpconnect_config`, the options in .rodata.
    pub struct Config = "tcpconnect_config" {
        target_pid: u32,
        target_uid: u32,
        family: u16,
        filter_pid: u8,
        filter_uid: u8,
        filter_ports: u8,
        pad: [u8; 3],
        ports: Ports,
    }
}

/// The `result` of an event (enum tcpconnect_result) as JSON says it.
fn result_name(e: &Event) -> std::borrow::Cow<'static, str> {
    match e.result {
        1 => "established".into(),
        2 => match net::errno_name(e.error) {
            Some(n) => n.into(),
            None => format!("errno {}", e.error).into(),
        },
        3 => "closed".into(),
        _ => "pending".into(),
    }
}

#[derive(FromArgs, Debug)]
/// Trace active TCP connects (IPv4 and IPv6): one line per attempt, with its process, its
/// addresses and ports (and, in JSON, its result: later, in a line of its own, for an attempt
/// still pending when reported). -c counts them instead.
pub struct Args {
    /// include a timestamp column (seconds since the tool started)
    #[argh(switch, short = 't')]
    pub timestamp: bool,
    /// include a UID column
    #[argh(switch, short = 'U')]
    pub print_uid: bool,
    /// trace this user id only
    #[argh(option, short = 'u')]
    pub uid: Option<u32>,
    /// trace this process only
    #[argh(option, short = 'p', from_str_fn(parse_pid))]
    pub pid: Option<u32>,
    /// trace these remote ports only (comma-separated: 80,443)
    #[argh(option, short = 'P', from_str_fn(parse_ports))]
    pub port: Option<PortList>,
    /// trace IPv4 only
    #[argh(switch, short = '4')]
    pub ipv4: bool,
    /// trace IPv6 only
    #[argh(switch, short = '6')]
    pub ipv6: bool,
    /// count connects per local address, remote address and port, printed at the end
    #[argh(switch, short = 'c')]
    pub count: bool,
    /// include the local port (libbpf-tools' -s; with -c: count per local port too)
    #[argh(switch, short = 's')]
    pub source_port: bool,
    /// the same as -s (BCC's name)
    #[argh(switch, short = 'L')]
    pub lport: bool,
}

/// What -c counts by.
type CountKey = (u16, [u8; 16], [u8; 16], u16, u16);

pub struct Tcpconnect {
    args: Args,
    family: u16,
    lport: bool,
    /// -c: a row per key (few: connects go to few places; a linear search is smallest).
    counts: Vec<(CountKey, u64)>,
}

impl Tool for Tcpconnect {
    type Args = Args;
    fn new(args: Args, _: &Common) -> Result<Self> {
        let family = family_filter(args.ipv4, args.ipv6)?;
        let lport = args.source_port || args.lport;
        Ok(Tcpconnect {
            args,
            family,
            lport,
            counts: Vec::new(),
        })
    }
}

impl Handler for Tcpconnect {
    fn configure(&mut self, obj: &mut Object, _: &Plan) -> Result<()> {
        let a = &self.args;
        let (target_pid, filter_pid) = pid_filter(a.pid);
        let (filter_ports, ports) = Ports::filter(&a.port);
        let c = Config {
            target_pid,
            target_uid: a.uid.unwrap_or(0),
            family: self.family,
            filter_pid,
            filter_uid: a.uid.is_some() as u8,
            filter_ports,
            ports,
            ..Default::default()
        };
        obj.set_rodata("config", &c)
    }

    fn header(&mut self, out: &mut Out) {
        if self.args.count {
            return;
        }
        out.columns(&[
            (self.args.timestamp, "TIME(s)  "),
            (self.args.print_uid, "UID   "),
            (true, "PID    COMM             IP SADDR            DADDR           "),
            (self.lport, " SPORT"),
            (true, " DPORT\n"),
        ]);
    }

    fn record(&mut self, _: usize, data: &[u8], out: &mut Out) {
        let Some(e) = pod::read::<Event>(data) else {
            return;
        };
        let t = &e.tuple;
        if e.followup != 0 {
            // The outcome of an attempt reported as pending: JSON only (BCC's lines have no
            // result column), not counted again.
            if out.json() && !self.args.count {
                let mut o = out.event("connect_result", e.done_ns);
                o.u64("pid", e.pid.into())
                    .u64("tid", e.tid.into())
                    .u64("uid", e.uid.into())
                    .bytes("comm", cstr(&e.comm));
                t.json(&mut o);
                o.str("result", &result_name(&e))
                    .u64("latency_ns", e.done_ns.saturating_sub(e.time_ns))
                    .end();
            }
            return;
        }
        if self.args.count {
            let key = (
                t.family,
                t.laddr,
                t.raddr,
                t.rport,
                if self.lport { t.lport } else { 0 },
            );
            match self.counts.iter_mut().find(|(k, _)| *k == key) {
                Some((_, n)) => *n += 1,
                None => self.counts.push((key, 1)),
            }
            return;
        }
        if out.json() {
            let mut o = out.event("connect", e.time_ns);
            o.u64("pid", e.pid.into())
                .u64("tid", e.tid.into())
                .u64("uid", e.uid.into())
                .bytes("comm", cstr(&e.comm));
            t.json(&mut o);
            o.str("result", &result_name(&e));
            if e.done_ns != 0 {
                o.u64("latency_ns", e.done_ns.saturating_sub(e.time_ns));
            }
            o.end();
            return;
        }
        let mut s = out.take_line();
        if self.args.timestamp {
            let _ = write!(s, "{:<9}", out.clock().since_start(e.time_ns, 3));
        }
        if self.args.print_uid {
            let _ = write!(s, "{:<6}", e.uid);
        }
        let _ = write!(s, "{:<6} ", e.pid);
        push_escaped_left(&mut s, cstr(&e.comm), 16);
        let _ = write!(s, " {:<2} ", t.ip_version());
        push_left(&mut s, t.laddr_text().as_str(), 16);
        s.push(' ');
        push_left(&mut s, t.raddr_text().as_str(), 16);
        if self.lport {
            let _ = write!(s, " {:<5}", t.lport);
        }
        let _ = writeln!(s, " {:<5}", t.rport);
        out.put_line(s);
    }

    fn finish(&mut self, out: &mut Out) {
        if !self.args.count {
            return;
        }
        let mut rows = std::mem::take(&mut self.counts);
        // IPv4 first, then by count, largest first (then the key, for a stable order).
        agent_core::sort::sort_by(&mut rows, |a, b| {
            a.0 .0
                .cmp(&b.0 .0)
                .then(b.1.cmp(&a.1))
                .then(a.0.cmp(&b.0))
        });
        if out.json() {
            let now = agent_core::time::boot_now_ns();
            let lport = self.lport;
            out.event("counts", now)
                .objects("rows", &rows, |o, ((family, laddr, raddr, rport, lp), n)| {
                    o.str("family", net::family_name(*family))
                        .str("laddr", net::addr_text(*family, laddr).as_str())
                        .str("raddr", net::addr_text(*family, raddr).as_str());
                    if lport {
                        o.u64("lport", (*lp).into());
                    }
                    o.u64("rport", (*rport).into()).u64("count", *n);
                })
                .u64("total_rows", rows.len() as u64)
                .end();
            return;
        }
        let mut s = format!("\n{:<25} {:<25}", "LADDR", "RADDR");
        if self.lport {
            let _ = write!(s, " {:<20}", "LPORT");
        }
        let _ = writeln!(s, " {:<20} {:<10}", "RPORT", "CONNECTS");
        for ((family, laddr, raddr, rport, lp), n) in &rows {
            let _ = write!(
                s,
                "{:<25} {:<25}",
                net::addr_text(*family, laddr).as_str(),
                net::addr_text(*family, raddr).as_str()
            );
            if self.lport {
                let _ = write!(s, " {lp:<20}");
            }
            let _ = writeln!(s, " {rport:<20} {n:<10}");
        }
        out.push(&s);
    }
}

#[cfg(test)]
mod tests;
