//! tcpsend: one line per send on a TCP socket, with the bytes it queued.
//!
//! BPF side: `bpf/tcpsend.bpf.c`. The tracepoint sock:sock_send_length (6.3) where the kernel
//! has it, else a kprobe and kretprobe on tcp_sendmsg (what BCC's examples use).

use agent_core::net::{self, family_filter, parse_ports, Filter, PortList, Tuple};
use agent_core::prelude::*;

pub const TOOL: Spec = Spec {
    name: "tcpsend",
    about: "trace TCP sends: process, connection and bytes of each",
    hooks: &[Group::first_of(
        "",
        &[
            Group::all(
                "tracepoint",
                &[tracepoint("tp_sock_send_length", "sock", "sock_send_length")],
            ),
            Group::all("kprobe", &net::SENDMSG_KPROBES)
                .text("kprobe and kretprobe on tcp_sendmsg"),
        ],
    )],
    dynamic: &[],
    structs: &[Event::LAYOUT, Tuple::LAYOUT, Filter::LAYOUT],
    start: tool::start::<Tcpsend>,
    selftest: SelfTest {
        args: |_| vec!["-p".into(), std::process::id().to_string()],
        workload: selftest_workload,
        storm: Some(storm),
    },
};

/// A connection to a listener of our own on 127.0.0.1: one send of 1000 bytes up, one of
/// 2000 down, both by this process.
fn selftest_workload(_marker: &str) -> std::io::Result<Vec<String>> {
    let x = net::exchange(std::net::IpAddr::from([127, 0, 0, 1]), 1000, 2000)?;
    let line = |l: u16, r: u16, bytes: u32| {
        format!(
            "\"family\":\"ipv4\",\"laddr\":\"127.0.0.1\",\"lport\":{l},\"raddr\":\"127.0.0.1\",\
             \"rport\":{r},\"bytes\":{bytes}}}"
        )
    };
    let (c, s) = (x.client.port(), x.server.port());
    Ok(vec![line(c, s, 1000), line(s, c, 2000)])
}

/// One-byte sends over loopback as fast as they go (a thread of ours reads them).
fn storm(_marker: &str, until: std::time::Instant) -> std::io::Result<u64> {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    let mut client = std::net::TcpStream::connect(listener.local_addr()?)?;
    let (mut server, _) = listener.accept()?;
    let reader = std::thread::spawn(move || {
        let mut buf = vec![0u8; 65536];
        while matches!(server.read(&mut buf), Ok(n) if n > 0) {}
    });
    client.set_nodelay(true)?;
    let mut n = 0;
    while std::time::Instant::now() < until {
        for _ in 0..100 {
            client.write_all(b"x")?;
        }
        n += 100;
    }
    drop(client);
    let _ = reader.join();
    Ok(n)
}

agent_core::pod! {
    /// `struct tcpsend_event`.
    pub struct Event = "tcpsend_event" {
        time_ns: u64,
        tuple: Tuple,
        pid: u32,
        tid: u32,
        bytes: u32,
        pad: u32,
        comm: [u8; 16],
    }
}

#[derive(FromArgs, Debug)]
/// Trace sends on TCP sockets (IPv4 and IPv6): one line per send that queued bytes, with the
/// process, the connection (local -> remote) and the bytes.
pub struct Args {
    /// include a time column (HH:MM:SS, local time)
    #[argh(switch, short = 'T')]
    pub time: bool,
    /// trace this process only
    #[argh(option, short = 'p', from_str_fn(parse_pid))]
    pub pid: Option<u32>,
    /// trace IPv4 only
    #[argh(switch, short = '4')]
    pub ipv4: bool,
    /// trace IPv6 only
    #[argh(switch, short = '6')]
    pub ipv6: bool,
    /// trace these local ports only (comma-separated: 80,443)
    #[argh(option, short = 'L', from_str_fn(parse_ports))]
    pub localport: Option<PortList>,
    /// trace these remote ports only (comma-separated)
    #[argh(option, short = 'D', from_str_fn(parse_ports))]
    pub remoteport: Option<PortList>,
    /// hooks: auto (the 6.3 tracepoint if the kernel has it, else kprobes), kprobe or
    /// tracepoint
    #[argh(option, default = "HookChoice::Auto", from_str_fn(parse_hook_choice))]
    pub hook: HookChoice,
}

pub struct Tcpsend {
    args: Args,
    family: u16,
}

impl Tool for Tcpsend {
    type Args = Args;
    fn new(args: Args, _: &Common) -> Result<Self> {
        let family = family_filter(args.ipv4, args.ipv6)?;
        Ok(Tcpsend { args, family })
    }
}

impl Handler for Tcpsend {
    fn hook(&self) -> Option<&dyn ForcedHook> {
        Some(&self.args.hook)
    }

    fn configure(&mut self, obj: &mut Object, _: &Plan) -> Result<()> {
        let a = &self.args;
        let filter = Filter::new(a.pid, self.family, &a.localport, &a.remoteport);
        obj.set_rodata("config", &filter)
    }

    fn header(&mut self, out: &mut Out) {
        out.columns(&[
            (self.args.time, "TIME     "),
            (true, "PID     COMM             LADDR:LPORT              RADDR:RPORT           BYTES\n"),
        ]);
    }

    fn record(&mut self, _: usize, data: &[u8], out: &mut Out) {
        let Some(e) = pod::read::<Event>(data) else {
            return;
        };
        let t = &e.tuple;
        if out.json() {
            let mut o = out.event("send", e.time_ns);
            o.u64("pid", e.pid.into())
                .u64("tid", e.tid.into())
                .bytes("comm", cstr(&e.comm));
            t.json(&mut o);
            o.u64("bytes", e.bytes.into()).end();
            return;
        }
        let mut s = out.take_line();
        if self.args.time {
            out.push_hms(&mut s, e.time_ns);
            s.push(' ');
        }
        let _ = write!(s, "{:<7} ", e.pid);
        push_escaped_left(&mut s, cstr(&e.comm), 16);
        s.push(' ');
        let col = s.len();
        t.push_local(&mut s);
        pad_from(&mut s, col, 21);
        s.push_str(" -> ");
        let col = s.len();
        t.push_remote(&mut s);
        pad_from(&mut s, col, 21);
        let _ = writeln!(s, " {}", e.bytes);
        out.put_line(s);
    }
}

#[cfg(test)]
mod tests;
