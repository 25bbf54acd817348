//! tcplife: one line per TCP connection when it closes (BCC/libbpf-tools compatible).
//!
//! BPF side: `bpf/tcplife.bpf.c`. `sock:inet_sock_set_state` from the first state change to
//! CLOSE, bytes from the socket's own counters; the process from the connect, the accept
//! (the accept syscalls' exits, else the kretprobe on inet_csk_accept) or the first close.

use agent_core::net::{self, family_filter, parse_ports, Filter, PortList, Tuple};
use agent_core::prelude::*;

pub const TOOL: Spec = Spec {
    name: "tcplife",
    about: "TCP connections as they close: process, addresses, bytes each way, lifespan",
    hooks: &[
        Group::all(
            "",
            &[tracepoint(
                "tp_inet_sock_set_state",
                "sock",
                "inet_sock_set_state",
            )],
        ),
        // Who accepted a passive connection; without either, the first process to close it.
        Group::first_of(
            "accept",
            &[
                net::ACCEPT_SYSCALLS,
                net::ACCEPT_KPROBE,
                Group::optional("none", &[]),
            ],
        ),
    ],
    dynamic: &[],
    structs: &[Event::LAYOUT, Tuple::LAYOUT, Filter::LAYOUT],
    start: tool::start::<Tcplife>,
    selftest: SelfTest {
        args: |_| vec!["-p".into(), std::process::id().to_string()],
        workload: selftest_workload,
        storm: None,
    },
};

/// A connection to a listener of our own on 127.0.0.1: 1000 bytes up, 2000 down. Both ends
/// are ours: the client's line (connect) and the server's (accept).
fn selftest_workload(_marker: &str) -> std::io::Result<Vec<String>> {
    let x = net::exchange(std::net::IpAddr::from([127, 0, 0, 1]), 1000, 2000)?;
    let pid = std::process::id();
    let line = |owner: &str, l: u16, r: u16, tx: u32, rx: u32| {
        format!(
            "\"pid\":{pid},\"comm\":\"ebpf-agent\",\"owner\":\"{owner}\",\"family\":\"ipv4\",\
             \"laddr\":\"127.0.0.1\",\"lport\":{l},\"raddr\":\"127.0.0.1\",\"rport\":{r},\
             \"tx_bytes\":{tx},\"rx_bytes\":{rx},"
        )
    };
    let (c, s) = (x.client.port(), x.server.port());
    Ok(vec![
        line("connect", c, s, 1000, 2000),
        line("accept", s, c, 2000, 1000),
    ])
}

agent_core::pod! {
    /// `struct tcplife_event`.
    pub struct Event = "tcplife_event" {
        time_ns: u64,
        span_ns: u64,
        tx_bytes: u64,
        rx_bytes: u64,
        tuple: Tuple,
        pid: u32,
        owner: u32,
        comm: [u8; 16],
    }
}

/// `owner` (enum tcplife_owner) as JSON names it.
fn owner_name(o: u32) -> &'static str {
    match o {
        1 => "connect",
        2 => "accept",
        3 => "close",
        _ => "unknown",
    }
}

#[derive(FromArgs, Debug)]
/// Trace the lifespan of TCP connections (IPv4 and IPv6): one line per connection when it
/// closes, with its process, addresses, ports, kilobytes sent and received, and duration.
pub struct Args {
    /// trace this process only (the one that connected or accepted)
    #[argh(option, short = 'p', from_str_fn(parse_pid))]
    pub pid: Option<u32>,
    /// trace IPv4 only
    #[argh(switch, short = '4')]
    pub ipv4: bool,
    /// trace IPv6 only
    #[argh(switch, short = '6')]
    pub ipv6: bool,
    /// wide columns (fit IPv6 addresses)
    #[argh(switch, short = 'w')]
    pub wide: bool,
    /// include a time column (HH:MM:SS, local time)
    #[argh(switch, short = 'T')]
    pub time: bool,
    /// trace these local ports only (comma-separated: 80,443)
    #[argh(option, short = 'L', from_str_fn(parse_ports))]
    pub localport: Option<PortList>,
    /// trace these remote ports only (comma-separated)
    #[argh(option, short = 'D', from_str_fn(parse_ports))]
    pub remoteport: Option<PortList>,
    /// hooks for the accepting process: auto (kretprobe if the kernel has kprobes), kprobe or
    /// tracepoint
    #[argh(option, default = "HookChoice::Auto", from_str_fn(parse_hook_choice))]
    pub hook: HookChoice,
}

pub struct Tcplife {
    args: Args,
    family: u16,
    width: usize,
}

impl Tool for Tcplife {
    type Args = Args;
    fn new(args: Args, _: &Common) -> Result<Self> {
        let family = family_filter(args.ipv4, args.ipv6)?;
        let width = if args.wide { 39 } else { 15 };
        Ok(Tcplife {
            args,
            family,
            width,
        })
    }
}

impl Handler for Tcplife {
    fn hook(&self) -> Option<&dyn ForcedHook> {
        Some(&self.args.hook)
    }

    fn configure(&mut self, obj: &mut Object, _: &Plan) -> Result<()> {
        let a = &self.args;
        let filter = Filter::new(a.pid, self.family, &a.localport, &a.remoteport);
        obj.set_rodata("config", &filter)
    }

    fn header(&mut self, out: &mut Out) {
        if out.json() {
            return;
        }
        let w = self.width;
        let mut h = String::new();
        if self.args.time {
            h.push_str("TIME     ");
        }
        let _ = writeln!(
            h,
            "{:<7} {:<16} {:<w$} {:<5} {:<w$} {:<5} {:<6} {:<6} MS",
            "PID", "COMM", "LADDR", "LPORT", "RADDR", "RPORT", "TX_KB", "RX_KB"
        );
        out.push(&h);
    }

    fn record(&mut self, _: usize, data: &[u8], out: &mut Out) {
        let Some(e) = pod::read::<Event>(data) else {
            return;
        };
        let t = &e.tuple;
        if out.json() {
            let mut o = out.event("close", e.time_ns);
            o.u64("pid", e.pid.into())
                .bytes("comm", cstr(&e.comm))
                .str("owner", owner_name(e.owner));
            t.json(&mut o);
            o.u64("tx_bytes", e.tx_bytes)
                .u64("rx_bytes", e.rx_bytes)
                .u64("span_ns", e.span_ns)
                .end();
            return;
        }
        let w = self.width;
        let mut s = out.take_line();
        if self.args.time {
            out.push_hms(&mut s, e.time_ns);
            s.push(' ');
        }
        let _ = write!(s, "{:<7} ", e.pid);
        push_escaped_left(&mut s, cstr(&e.comm), 16);
        s.push(' ');
        push_left(&mut s, t.laddr_text().as_str(), w);
        let _ = write!(s, " {:<5} ", t.lport);
        push_left(&mut s, t.raddr_text().as_str(), w);
        let _ = writeln!(
            s,
            " {:<5} {:<6} {:<6} {}",
            t.rport,
            Fixed::ratio(e.tx_bytes.into(), 1024, 2),
            Fixed::ratio(e.rx_bytes.into(), 1024, 2),
            Fixed::ratio(e.span_ns.into(), 1_000_000, 2)
        );
        out.put_line(s);
    }
}

#[cfg(test)]
mod tests;
