//! tcptop: TCP throughput per process and connection, top-style (BCC/libbpf-tools
//! compatible).
//!
//! BPF side: `bpf/tcptop.bpf.c`. The socket tracepoints sock_send_length/sock_recv_length
//! (6.3) where the kernel has them, else kprobes on tcp_sendmsg and tcp_cleanup_rbuf
//! (libbpf-tools' tcptop needs the kprobes). The kernel counts; every interval the agent
//! drains the map and prints the top rows.

use std::time::Duration;

use agent_core::net::{self, family_filter, Tuple};
use agent_core::prelude::*;

pub const TOOL: Spec = Spec {
    name: "tcptop",
    about: "TCP bytes sent and received per process and connection, top-style",
    hooks: &[Group::first_of(
        "",
        &[
            Group::all(
                "tracepoint",
                &[
                    tracepoint("tp_sock_send_length", "sock", "sock_send_length"),
                    tracepoint("tp_sock_recv_length", "sock", "sock_recv_length"),
                ],
            ),
            Group::all(
                "kprobe",
                &[
                    net::SENDMSG_KPROBES[0],
                    net::SENDMSG_KPROBES[1],
                    Attach::new("kp_tcp_cleanup_rbuf", Hook::Kprobe("tcp_cleanup_rbuf")),
                ],
            )
            .text("kprobes on tcp_sendmsg (entry and return) and tcp_cleanup_rbuf"),
        ],
    )],
    dynamic: &[],
    structs: &[Key::LAYOUT, Value::LAYOUT, Tuple::LAYOUT, Config::LAYOUT],
    start: tool::start::<Tcptop>,
    selftest: SelfTest {
        args: |_| vec!["-C".into(), "-p".into(), std::process::id().to_string()],
        workload: selftest_workload,
        storm: None,
    },
};

/// A connection to a listener of our own on 127.0.0.1: 1000 bytes up, 2000 down, both ends
/// this process's; expects the client's row and the server's.
fn selftest_workload(_marker: &str) -> std::io::Result<Vec<String>> {
    let x = net::exchange(std::net::IpAddr::from([127, 0, 0, 1]), 1000, 2000)?;
    let row = |l: u16, r: u16, rx: u32, tx: u32| {
        format!(
            "\"family\":\"ipv4\",\"laddr\":\"127.0.0.1\",\"lport\":{l},\"raddr\":\"127.0.0.1\",\
             \"rport\":{r},\"rx_bytes\":{rx},\"tx_bytes\":{tx}}}"
        )
    };
    let (c, s) = (x.client.port(), x.server.port());
    Ok(vec![row(c, s, 2000, 1000), row(s, c, 1000, 2000)])
}

/// Mirrors TCPTOP_MAX_ENTRIES: no more rows than the map holds.
pub const ROWS_LIMIT: usize = 10240;

agent_core::pod! {
    /// `struct tcptop_key`.
    pub struct Key = "tcptop_key" {
        tuple: Tuple,
        pid: u32,
        comm: [u8; 16],
    }

    /// `struct tcptop_value`.
    pub struct Value = "tcptop_value" {
        sent: u64,
        received: u64,
    }

    /// `struct tcptop_config`, the options in .rodata.
    pub struct Config = "tcptop_config" {
        target_pid: u32,
        family: u16,
        filter_pid: u8,
        pad: u8,
    }
}

/// `-s`: what the rows are sorted by, largest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sort {
    All,
    Sent,
    Received,
}

fn parse_sort(s: &str) -> std::result::Result<Sort, String> {
    Ok(match s {
        "all" => Sort::All,
        "sent" => Sort::Sent,
        "received" => Sort::Received,
        _ => return Err(format!("bad sort {s:?}: all, sent or received")),
    })
}

#[derive(FromArgs, Debug)]
/// TCP bytes sent and received per process and connection (IPv4 and IPv6), every interval
/// (default 1 s), largest first.
pub struct Args {
    /// don't clear the screen between intervals
    #[argh(switch, short = 'C')]
    pub noclear: bool,
    /// skip the summary line (time and load average)
    #[argh(switch, short = 'S')]
    pub nosummary: bool,
    /// sort by all (the default: sent + received), sent or received
    #[argh(option, short = 's', default = "Sort::All", from_str_fn(parse_sort))]
    pub sort: Sort,
    /// rows to print per interval (default 20)
    #[argh(option, short = 'r', default = "20")]
    pub rows: usize,
    /// trace this process only
    #[argh(option, short = 'p', from_str_fn(parse_pid))]
    pub pid: Option<u32>,
    /// trace IPv4 only
    #[argh(switch, short = '4')]
    pub ipv4: bool,
    /// trace IPv6 only
    #[argh(switch, short = '6')]
    pub ipv6: bool,
    /// hooks: auto (the 6.3 socket tracepoints if the kernel has them, else kprobes), kprobe
    /// or tracepoint
    #[argh(option, default = "HookChoice::Auto", from_str_fn(parse_hook_choice))]
    pub hook: HookChoice,
    /// seconds between reports (default 1; 500ms works too), then the number of reports
    /// (default: until stopped)
    #[argh(positional, arg_name = "interval [count]")]
    pub positional: Vec<String>,
}

pub struct Tcptop {
    args: Args,
    family: u16,
    interval: Option<Duration>,
    count: Option<u64>,
    /// Width of the PID column: the length of the largest pid (pid_max), at least 6.
    pid_width: usize,
}

impl Tool for Tcptop {
    type Args = Args;
    fn new(args: Args, _: &Common) -> Result<Self> {
        let family = family_filter(args.ipv4, args.ipv6)?;
        let (interval, count) = interval_count("tcptop", &args.positional)?;
        if args.rows == 0 || args.rows > ROWS_LIMIT {
            return Err(Error::usage(format!(
                "-r/--rows must be 1..={ROWS_LIMIT}, not {}",
                args.rows
            )));
        }
        let pid_width = std::fs::read_to_string("/proc/sys/kernel/pid_max")
            .map(|s| s.trim().len())
            .unwrap_or(0)
            .max(6);
        Ok(Tcptop {
            args,
            family,
            interval,
            count,
            pid_width,
        })
    }
}

impl Handler for Tcptop {
    fn hook(&self) -> Option<&dyn ForcedHook> {
        Some(&self.args.hook)
    }

    fn configure(&mut self, obj: &mut Object, _: &Plan) -> Result<()> {
        let (target_pid, filter_pid) = pid_filter(self.args.pid);
        let c = Config {
            target_pid,
            family: self.family,
            filter_pid,
            pad: 0,
        };
        obj.set_rodata("config", &c)
    }

    fn schedule(&self) -> Option<IntervalOptions> {
        Some(IntervalOptions::every_second_or(self.interval, self.count))
    }

    fn report(&mut self, obj: &Object, tick: &Tick, out: &mut Out) -> Result<()> {
        let rows = maps::drain_hash::<Key, Value>(obj, "rows")?;
        self.interval(tick, rows, &agent_core::interval::loadavg(), out);
        Ok(())
    }
}

impl Tcptop {
    fn sort_value(&self, v: &Value) -> u64 {
        match self.args.sort {
            Sort::All => v.sent + v.received,
            Sort::Sent => v.sent,
            Sort::Received => v.received,
        }
    }

    /// The report of one interval: `rows` as drained from the kernel, in any order.
    pub fn interval(
        &mut self,
        tick: &Tick,
        mut rows: Vec<(Key, Value)>,
        loadavg: &str,
        out: &mut Out,
    ) {
        let total_rows = rows.len();
        // IPv4 first (libbpf-tools prints them under their own header), then the largest.
        agent_core::sort::sort_by(&mut rows, |a, b| {
            a.0.tuple
                .family
                .cmp(&b.0.tuple.family)
                .then(self.sort_value(&b.1).cmp(&self.sort_value(&a.1)))
                .then(a.0.pid.cmp(&b.0.pid))
                .then(a.0.tuple.lport.cmp(&b.0.tuple.lport))
                .then(a.0.tuple.rport.cmp(&b.0.tuple.rport))
        });
        rows.truncate(self.args.rows);
        if out.json() {
            out.interval(tick)
                .objects("rows", &rows, |o, (k, v)| {
                    o.u64("pid", k.pid.into()).bytes("comm", cstr(&k.comm));
                    k.tuple.json(o);
                    o.u64("rx_bytes", v.received).u64("tx_bytes", v.sent);
                })
                .u64("total_rows", total_rows as u64)
                .end();
        } else {
            self.text(tick, &rows, loadavg, out);
        }
    }

    fn text(&self, tick: &Tick, rows: &[(Key, Value)], loadavg: &str, out: &mut Out) {
        let pw = self.pid_width;
        let mut s = String::new();
        if !self.args.noclear {
            s.push_str("\x1b[H\x1b[2J");
        }
        if !self.args.nosummary {
            out.push_hms(&mut s, tick.end_ns);
            // libbpf-tools prints /proc/loadavg with its newline: a blank line follows.
            let _ = write!(s, " loadavg: {loadavg}\n\n");
        }
        let _ = writeln!(
            s,
            "{:<pw$} {:<12} {:<21} {:<21} {:>6} {:>6}",
            "PID", "COMM", "LADDR", "RADDR", "RX_KB", "TX_KB"
        );
        let mut v6_header = false;
        for (k, v) in rows {
            let t = &k.tuple;
            let width = if t.family == net::AF_INET6 {
                if !v6_header {
                    let _ = writeln!(
                        s,
                        "\n{:<pw$} {:<12} {:<51} {:<51} {:>6} {:>6}",
                        "PID", "COMM", "LADDR6", "RADDR6", "RX_KB", "TX_KB"
                    );
                    v6_header = true;
                }
                51
            } else {
                21
            };
            let _ = write!(s, "{:<pw$} ", k.pid);
            let comm = cstr(&k.comm);
            push_escaped_left(&mut s, &comm[..comm.len().min(12)], 12);
            s.push(' ');
            let col = s.len();
            t.push_local(&mut s);
            pad_from(&mut s, col, width);
            s.push(' ');
            let col = s.len();
            t.push_remote(&mut s);
            pad_from(&mut s, col, width);
            let _ = writeln!(s, " {:>6} {:>6}", v.received / 1024, v.sent / 1024);
        }
        s.push('\n');
        out.push(&s);
    }
}

#[cfg(test)]
mod tests;
