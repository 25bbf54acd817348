//! tcpaccept: trace passive TCP connections as processes accept them (BCC compatible).
//!
//! BPF side: `bpf/tcpaccept.bpf.c`. The connection is made in softirq context; the process
//! shown is the one that accepted it: the exits of accept() and accept4(), whose descriptor is
//! resolved to its socket in the kernel, or a kretprobe on inet_csk_accept (every accept, but
//! idle listeners blocked in it hold the kernel's kretprobe instances: docs/tools/tcpaccept.md).
//! (libbpf-tools has no tcpaccept; BCC's needs kprobes.)

use agent_core::net::{self, family_filter, parse_ports, PortList, Ports, Tuple};
use agent_core::prelude::*;

pub const TOOL: Spec = Spec {
    name: "tcpaccept",
    about: "trace accepted TCP connections, with the process that accepted each",
    hooks: &[Group::first_of("", &[net::ACCEPT_SYSCALLS, net::ACCEPT_KPROBE])],
    dynamic: &[],
    structs: &[Event::LAYOUT, Tuple::LAYOUT, Config::LAYOUT],
    start: tool::start::<Tcpaccept>,
    selftest: SelfTest {
        args: |_| vec!["-p".into(), std::process::id().to_string()],
        workload: selftest_workload,
        storm: None,
    },
};

/// A connection to a listener of our own on 127.0.0.1, accepted by this process.
fn selftest_workload(_marker: &str) -> std::io::Result<Vec<String>> {
    let x = net::exchange(std::net::IpAddr::from([127, 0, 0, 1]), 0, 0)?;
    let pid = std::process::id();
    Ok(vec![format!(
        "\"pid\":{pid},\"tid\":{pid},\"uid\":{},\"comm\":\"ebpf-agent\",\"family\":\"ipv4\",\
         \"laddr\":\"127.0.0.1\",\"lport\":{},\"raddr\":\"127.0.0.1\",\"rport\":{}}}",
        nix::unistd::getuid(),
        x.server.port(),
        x.client.port()
    )])
}

agent_core::pod! {
    /// `struct tcpaccept_event`.
    pub struct Event = "tcpaccept_event" {
        time_ns: u64,
        tuple: Tuple,
        pid: u32,
        tid: u32,
        uid: u32,
        pad: u32,
        comm: [u8; 16],
    }

    /// `struct tcpaccept_config`, the options in .rodata.
    pub struct Config = "tcpaccept_config" {
        target_pid: u32,
        family: u16,
        filter_pid: u8,
        filter_ports: u8,
        ports: Ports,
    }
}

#[derive(FromArgs, Debug)]
/// Trace TCP connections accepted by processes (IPv4 and IPv6): one line per accept, with
/// the accepting process, the remote and the local address and port.
pub struct Args {
    /// include a time column (HH:MM:SS, local time)
    #[argh(switch, short = 'T')]
    pub time: bool,
    /// include a timestamp column (seconds since the tool started)
    #[argh(switch, short = 't')]
    pub timestamp: bool,
    /// trace this process only
    #[argh(option, short = 'p', from_str_fn(parse_pid))]
    pub pid: Option<u32>,
    /// trace these local ports only (comma-separated: 80,443)
    #[argh(option, short = 'P', from_str_fn(parse_ports))]
    pub port: Option<PortList>,
    /// trace IPv4 only
    #[argh(switch, short = '4')]
    pub ipv4: bool,
    /// trace IPv6 only
    #[argh(switch, short = '6')]
    pub ipv6: bool,
    /// hooks: auto (the kretprobe if the kernel has kprobes), kprobe or tracepoint
    #[argh(option, default = "HookChoice::Auto", from_str_fn(parse_hook_choice))]
    pub hook: HookChoice,
}

pub struct Tcpaccept {
    args: Args,
    family: u16,
}

impl Tool for Tcpaccept {
    type Args = Args;
    fn new(args: Args, _: &Common) -> Result<Self> {
        let family = family_filter(args.ipv4, args.ipv6)?;
        Ok(Tcpaccept { args, family })
    }
}

impl Handler for Tcpaccept {
    fn hook(&self) -> Option<&dyn ForcedHook> {
        Some(&self.args.hook)
    }

    fn configure(&mut self, obj: &mut Object, _: &Plan) -> Result<()> {
        let (target_pid, filter_pid) = pid_filter(self.args.pid);
        let (filter_ports, ports) = Ports::filter(&self.args.port);
        let c = Config {
            target_pid,
            family: self.family,
            filter_pid,
            filter_ports,
            ports,
        };
        obj.set_rodata("config", &c)
    }

    fn header(&mut self, out: &mut Out) {
        out.columns(&[
            (self.args.time, "TIME     "),
            (self.args.timestamp, "TIME(s)  "),
            (true, "PID     COMM         IP RADDR            RPORT LADDR            LPORT\n"),
        ]);
    }

    fn record(&mut self, _: usize, data: &[u8], out: &mut Out) {
        let Some(e) = pod::read::<Event>(data) else {
            return;
        };
        let t = &e.tuple;
        if out.json() {
            let mut o = out.event("accept", e.time_ns);
            o.u64("pid", e.pid.into())
                .u64("tid", e.tid.into())
                .u64("uid", e.uid.into())
                .bytes("comm", cstr(&e.comm));
            t.json(&mut o);
            o.end();
            return;
        }
        let mut s = out.take_line();
        if self.args.time {
            out.push_hms(&mut s, e.time_ns);
            s.push(' ');
        }
        if self.args.timestamp {
            let _ = write!(s, "{:<9}", out.clock().since_start(e.time_ns, 3));
        }
        let _ = write!(s, "{:<7} ", e.pid);
        // BCC's %-12.12s: the name cut to 12 bytes.
        let comm = cstr(&e.comm);
        push_escaped_left(&mut s, &comm[..comm.len().min(12)], 12);
        let _ = write!(s, " {:<2} ", t.ip_version());
        push_left(&mut s, t.raddr_text().as_str(), 16);
        let _ = write!(s, " {:<5} ", t.rport);
        push_left(&mut s, t.laddr_text().as_str(), 16);
        let _ = writeln!(s, " {:<5}", t.lport);
        out.put_line(s);
    }
}

#[cfg(test)]
mod tests;
