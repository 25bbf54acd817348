//! TCP workloads of known shape for the network tools' host tests: client and server peers in
//! processes of their own (python3, so each has its own pid), on loopback (127.0.0.1, ::1) and
//! across a veth pair between two network namespaces made for the test, with exactly known
//! bytes each way.
//!
//! Every connection: the client connects, sends [`UP`] bytes in one send and shuts its side
//! down; the server (a thread of the server process: another tid, the same pid) reads them,
//! sends [`DOWN`] bytes in one send, waits for the end of the stream and closes; the client
//! reads all of it and closes. When [`Peer::connect`] returns, both ends are closed.

use std::process::Command;

use serde_json::Value;

use super::Phases;

pub const UP: u64 = 1000;
pub const DOWN: u64 = 2000;

const PEER: &str = r#"
import socket, threading
UP, DOWN = 1000, 2000
def fam(a):
    return socket.AF_INET6 if ":" in a else socket.AF_INET
def serve(l):
    while True:
        s, _ = l.accept()
        got = 0
        while got < UP:
            b = s.recv(65536)
            if not b:
                break
            got += len(b)
        s.sendall(b"d" * DOWN)
        while s.recv(65536):
            pass
        s.close()
def bound(addr):
    l = socket.socket(fam(addr))
    l.bind((addr, 0))
    return l
def listener(addr, backlog, handle):
    l = bound(addr)
    l.listen(backlog)
    threading.Thread(target=handle, args=(l,), daemon=True).start()
    return str(l.getsockname()[1])
def phase_listen(addr):
    return listener(addr, 64, serve)
def phase_closed(addr):
    l = bound(addr)
    p = l.getsockname()[1]
    l.close()
    return str(p)
def connected(addr, port):
    c = socket.socket(fam(addr))
    c.connect((addr, int(port)))
    return c
def phase_connect(addr, port):
    c = connected(addr, port)
    lport = c.getsockname()[1]
    c.sendall(b"u" * UP)
    c.shutdown(socket.SHUT_WR)
    got = 0
    while True:
        b = c.recv(65536)
        if not b:
            break
        got += len(b)
    assert got == DOWN, got
    c.close()
    return str(lport)
def phase_refused(addr, port):
    c = socket.socket(fam(addr))
    try:
        c.connect((addr, int(port)))
    except ConnectionRefusedError:
        return "refused"
    return "connected"
def phase_storm(addr, port, secs):
    import struct, time
    end = time.monotonic() + float(secs)
    n = 0
    while time.monotonic() < end:
        c = connected(addr, port)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()
        n += 1
    return str(n)
def drain(s):
    while s.recv(65536):
        pass
    s.close()
def accept_all(l):
    while True:
        s, _ = l.accept()
        threading.Thread(target=drain, args=(s,), daemon=True).start()
def close_all(l):
    while True:
        s, _ = l.accept()
        s.close()
def phase_acceptor(addr):
    return listener(addr, 4096, close_all)
def phase_sink(addr):
    return listener(addr, 4096, accept_all)
full = []
def phase_full(addr):
    l = bound(addr)
    l.listen(0)
    # One connection fills the accept queue of a zero backlog: the next SYNs are dropped.
    f = socket.create_connection((addr, l.getsockname()[1]))
    full.append((l, f))
    return str(l.getsockname()[1])
def phase_drain():
    for l, _ in full:
        threading.Thread(target=accept_all, args=(l,), daemon=True).start()
waiting = []
def phase_connect_nb(addr, port):
    import errno
    c = socket.socket(fam(addr))
    c.setblocking(False)
    assert c.connect_ex((addr, int(port))) == errno.EINPROGRESS
    waiting.append((c, None))
    return str(c.getsockname()[1])
def phase_connect_bg(addr, port):
    import time
    c = socket.socket(fam(addr))
    t = threading.Thread(target=c.connect, args=((addr, int(port)),), daemon=True)
    t.start()
    while c.getsockname()[1] == 0:
        time.sleep(0.001)
    waiting.append((c, t))
    return str(c.getsockname()[1])
def phase_wait_connected():
    import select
    for c, t in waiting:
        if t:
            t.join(20)
        else:
            select.select([], [c], [], 20)
        assert c.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
        c.getpeername()
def phase_sends(addr, port, n):
    c = connected(addr, port)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for _ in range(int(n)):
        c.send(b"x")
    lport = c.getsockname()[1]
    c.close()
    return str(lport)
"#;

/// A client or server process.
pub struct Peer {
    p: Phases,
}

impl Peer {
    /// In the host's network namespace, as root.
    pub fn spawn() -> Peer {
        Peer {
            p: Phases::spawn(PEER),
        }
    }

    /// In network namespace `ns`.
    pub fn spawn_in(ns: &str) -> Peer {
        Peer {
            p: Phases::spawn_with(&["ip", "netns", "exec", ns], PEER),
        }
    }

    /// As user and group `uid` (no capabilities).
    pub fn spawn_as(uid: u32) -> Peer {
        let reuid = format!("--reuid={uid}");
        let regid = format!("--regid={uid}");
        Peer {
            p: Phases::spawn_with(
                &[
                    "setpriv",
                    &reuid,
                    &regid,
                    "--clear-groups",
                    "--inh-caps=-all",
                ],
                PEER,
            ),
        }
    }

    pub fn pid(&self) -> u32 {
        self.p.pid()
    }

    /// Phase `name` of the peer with `args`: its answer, parsed.
    fn ask<T: std::str::FromStr>(&mut self, name: &str, args: &[&dyn std::fmt::Display]) -> T
    where
        T::Err: std::fmt::Debug,
    {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.p.call(name, &args).parse().unwrap()
    }

    /// A listener on `addr` (its port), serving every connection as described above.
    pub fn listen(&mut self, addr: &str) -> u16 {
        self.ask("listen", &[&addr])
    }

    /// A port of `addr` nothing listens on.
    pub fn closed_port(&mut self, addr: &str) -> u16 {
        self.ask("closed", &[&addr])
    }

    /// One whole connection to `addr`:`port`; returns the client's local port.
    pub fn connect(&mut self, addr: &str, port: u16) -> u16 {
        self.ask("connect", &[&addr, &port])
    }

    /// A connect to a closed port, refused.
    pub fn refused(&mut self, addr: &str, port: u16) {
        assert_eq!(self.ask::<String>("refused", &[&addr, &port]), "refused");
    }

    /// Connections (closed with a reset) to `addr`:`port` for `secs`: how many.
    pub fn storm(&mut self, addr: &str, port: u16, secs: f64) -> u64 {
        self.ask("storm", &[&addr, &port, &secs])
    }

    /// A listener that accepts and closes at once, as fast as it can (for [`Peer::storm`]).
    pub fn acceptor(&mut self, addr: &str) -> u16 {
        self.ask("acceptor", &[&addr])
    }

    /// A listener that reads whatever comes and closes at the end (for [`Peer::sends`]).
    pub fn sink(&mut self, addr: &str) -> u16 {
        self.ask("sink", &[&addr])
    }

    /// `n` one-byte sends on one connection; returns the client's local port.
    pub fn sends(&mut self, addr: &str, port: u16, n: u64) -> u16 {
        self.ask("sends", &[&addr, &port, &n])
    }

    /// A listener on `addr` whose accept queue is full: SYNs to it are dropped until
    /// [`Peer::drain`] (its port).
    pub fn full(&mut self, addr: &str) -> u16 {
        self.ask("full", &[&addr])
    }

    /// Accepts everything on the full listeners from now on.
    pub fn drain(&mut self) {
        self.p.run("drain");
    }

    /// A non-blocking connect (returns at once, in progress): its local port.
    pub fn connect_nb(&mut self, addr: &str, port: u16) -> u16 {
        self.ask("connect_nb", &[&addr, &port])
    }

    /// A blocking connect in a thread of its own: its local port.
    pub fn connect_bg(&mut self, addr: &str, port: u16) -> u16 {
        self.ask("connect_bg", &[&addr, &port])
    }

    /// Until every connect of [`Peer::connect_nb`] and [`Peer::connect_bg`] is established.
    pub fn wait_connected(&mut self) {
        self.p.run("wait_connected");
    }

    pub fn finish(self) {
        self.p.finish();
    }
}

fn ip(args: &[&str]) {
    super::run_to_end(std::path::Path::new("ip"), args);
}

/// Two network namespaces joined by a veth pair: `a` has [`Netns::A4`] and [`Netns::A6`],
/// `b` [`Netns::B4`] and [`Netns::B6`]. Removed on drop.
pub struct Netns {
    pub a: String,
    pub b: String,
}

impl Netns {
    pub const A4: &'static str = "10.231.0.1";
    pub const B4: &'static str = "10.231.0.2";
    pub const A6: &'static str = "fd00:231::1";
    pub const B6: &'static str = "fd00:231::2";

    pub fn new(tag: &str) -> Netns {
        let id = std::process::id();
        let n = Netns {
            a: format!("ebpf-{tag}-{id}-a"),
            b: format!("ebpf-{tag}-{id}-b"),
        };
        ip(&["netns", "add", &n.a]);
        ip(&["netns", "add", &n.b]);
        ip(&[
            "link", "add", "veth-a", "netns", &n.a, "type", "veth", "peer", "name", "veth-b",
            "netns", &n.b,
        ]);
        for (ns, dev, v4, v6) in [
            (&n.a, "veth-a", Netns::A4, Netns::A6),
            (&n.b, "veth-b", Netns::B4, Netns::B6),
        ] {
            ip(&["-n", ns, "addr", "add", &format!("{v4}/24"), "dev", dev]);
            // nodad: usable at once, not after duplicate address detection.
            ip(&[
                "-n",
                ns,
                "-6",
                "addr",
                "add",
                &format!("{v6}/64"),
                "dev",
                dev,
                "nodad",
            ]);
            ip(&["-n", ns, "link", "set", dev, "up"]);
            ip(&["-n", ns, "link", "set", "lo", "up"]);
        }
        // Until the link carries packets both ways (the kernel activates a new link's queue
        // within a second) and the neighbours are known: a test's SYNs are then never lost.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        for peer in [Netns::B4, Netns::B6] {
            while !Command::new("ip")
                .args(["netns", "exec", &n.a, "ping", "-c1", "-W1", peer])
                .output()
                .is_ok_and(|o| o.status.success())
            {
                assert!(std::time::Instant::now() < deadline, "{peer} not reachable");
            }
        }
        n
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        for ns in [&self.a, &self.b] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// One connection the workload made: who, from where, to where.
#[derive(Debug, Clone)]
pub struct Conn {
    pub family: &'static str,
    pub client_pid: u32,
    pub client_addr: String,
    pub client_port: u16,
    pub server_pid: u32,
    pub server_addr: String,
    pub server_port: u16,
}

/// One end of a [`Conn`], as its own process sees it: local and remote address and port, and
/// the bytes it sent (`tx`) and received (`rx`).
#[derive(Debug, Clone, Copy)]
pub struct End<'a> {
    pub client: bool,
    pub pid: u32,
    pub laddr: &'a str,
    pub lport: u16,
    pub raddr: &'a str,
    pub rport: u16,
    pub tx: u64,
    pub rx: u64,
}

impl Conn {
    /// The client's end, then the server's.
    pub fn ends(&self) -> [End<'_>; 2] {
        [
            End {
                client: true,
                pid: self.client_pid,
                laddr: &self.client_addr,
                lport: self.client_port,
                raddr: &self.server_addr,
                rport: self.server_port,
                tx: UP,
                rx: DOWN,
            },
            End {
                client: false,
                pid: self.server_pid,
                laddr: &self.server_addr,
                lport: self.server_port,
                raddr: &self.client_addr,
                rport: self.client_port,
                tx: DOWN,
                rx: UP,
            },
        ]
    }
}

/// A refused connect the workload made.
#[derive(Debug, Clone)]
pub struct Refused {
    pub family: &'static str,
    pub pid: u32,
    pub addr: String,
    pub port: u16,
}

impl Refused {
    /// Its one event in `events` (where it went tells it from the others).
    pub fn event<'a>(&self, events: &'a [Value]) -> &'a Value {
        one_matching(
            events,
            &[
                ("raddr", self.addr.clone().into()),
                ("rport", self.port.into()),
            ],
            self,
        )
    }
}

fn family_of(addr: &str) -> &'static str {
    if addr.contains(':') {
        "ipv6"
    } else {
        "ipv4"
    }
}

/// Which ends of a connection a filter keeps: `(conn, world, client_end)`.
pub type KeepEnd = fn(&Conn, &World, bool) -> bool;

/// The standard workload: a server and a client process on loopback (IPv4 and IPv6), a
/// client running as nobody (IPv4), and, across the veth pair, a server in namespace `b`
/// and a client in `a` (IPv4 and IPv6); refused connects on loopback (IPv4 and IPv6). Peers
/// and listeners exist before the tool starts (so that it can be pointed at their pids and
/// ports); [`World::run`] makes the connections.
pub struct World {
    pub server: Peer,
    pub client: Peer,
    pub nobody: Peer,
    pub ns_server: Peer,
    pub ns_client: Peer,
    pub ports: Vec<(String, u16)>,
    pub closed: Vec<(String, u16)>,
    _ns: Netns,
    // The tools of these tests see every process's connections: no storm runs meanwhile.
    _traffic: std::sync::RwLockReadGuard<'static, ()>,
}

impl World {
    /// The workload of a test, or None where the host tests cannot run ([`super::agent_bin`]
    /// says why). It holds [`shared`] until it is finished.
    pub fn start(tag: &str) -> Option<World> {
        let traffic = shared();
        super::agent_bin()?;
        let ns = Netns::new(tag);
        let mut server = Peer::spawn();
        let mut ns_server = Peer::spawn_in(&ns.b);
        let mut ports = Vec::new();
        for a in ["127.0.0.1", "::1"] {
            ports.push((a.to_string(), server.listen(a)));
        }
        for a in [Netns::B4, Netns::B6] {
            ports.push((a.to_string(), ns_server.listen(a)));
        }
        let closed = ["127.0.0.1", "::1"]
            .iter()
            .map(|a| (a.to_string(), server.closed_port(a)))
            .collect();
        Some(World {
            server,
            client: Peer::spawn(),
            nobody: Peer::spawn_as(65534),
            ns_server,
            ns_client: Peer::spawn_in(&ns.a),
            ports,
            closed,
            _ns: ns,
            _traffic: traffic,
        })
    }

    /// The port listening on `addr`.
    pub fn port(&self, addr: &str) -> u16 {
        self.ports.iter().find(|(a, _)| a == addr).unwrap().1
    }

    /// Every process of the workload.
    pub fn pids(&self) -> [u32; 5] {
        [
            self.server.pid(),
            self.client.pid(),
            self.nobody.pid(),
            self.ns_server.pid(),
            self.ns_client.pid(),
        ]
    }

    /// The events of the workload's own processes (other tests may run at the same time).
    pub fn own<'a>(&self, events: &'a [Value]) -> impl Iterator<Item = &'a Value> {
        let pids = self.pids();
        events
            .iter()
            .filter(move |e| pids.contains(&(e["pid"].as_u64().unwrap() as u32)))
    }

    /// The ends of `conns` that `keep` keeps, as `(pid, local port, remote port)`: the
    /// client's end (`keep(conn, world, true)`) and the server's (`false`), sorted.
    pub fn ends(&self, conns: &[Conn], keep: KeepEnd) -> Vec<(u32, u16, u16)> {
        let mut want: Vec<(u32, u16, u16)> = conns
            .iter()
            .flat_map(|c| c.ends().into_iter().filter(|e| keep(c, self, e.client)))
            .map(|e| (e.pid, e.lport, e.rport))
            .collect();
        want.sort_unstable();
        want
    }

    /// The filters of the per-connection tools (tcplife, tcpsend): `-p` the client, `-L`/`-D`
    /// the IPv4 listener's port, `-4`, `-6` (with the tracepoint forced), and which ends each
    /// must show.
    pub fn end_filters(&self) -> Vec<(Vec<String>, KeepEnd)> {
        let client = self.client.pid().to_string();
        let p4 = self.port("127.0.0.1").to_string();
        let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        vec![
            // The client's connections only (the server's ends are another process's).
            (v(&["-p", &client]), |c, w, client_end| {
                client_end && c.client_pid == w.client.pid()
            }),
            // Local port: the listener's end; remote port: the clients' ends.
            (v(&["-L", &p4]), |c, _, client_end| {
                !client_end && c.server_addr == "127.0.0.1"
            }),
            (v(&["-D", &p4]), |c, _, client_end| {
                client_end && c.server_addr == "127.0.0.1"
            }),
            (v(&["-4"]), |c, _, _| c.family == "ipv4"),
            (v(&["-6", "--hook", "tracepoint"]), |c, _, _| {
                c.family == "ipv6"
            }),
        ]
    }

    /// Runs the workload under `tool` with each of [`World::end_filters`]: the ends it reports
    /// (the `lport` and `rport` of each of the workload's events that `counted` keeps) are
    /// exactly those the filter keeps. `check` checks every run's events first.
    pub fn assert_end_filters(
        &mut self,
        tool: &str,
        check: impl Fn(&[Value]),
        counted: impl Fn(&Value) -> bool,
    ) {
        for (args, keep) in self.end_filters() {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let (events, (conns, _)) = trace(tool, &args, || self.run());
            check(&events);
            let got: Vec<(u64, u64)> = self
                .own(&events)
                .filter(|e| counted(e))
                .map(|e| (e["lport"].as_u64().unwrap(), e["rport"].as_u64().unwrap()))
                .collect();
            let want: Vec<(u64, u64)> = self
                .ends(&conns, keep)
                .into_iter()
                .map(|(_, l, r)| (l.into(), r.into()))
                .collect();
            assert_same(got, want, format_args!("{args:?}: {events:?}"));
        }
    }

    /// Makes every connection once; returns them and the refused connects.
    pub fn run(&mut self) -> (Vec<Conn>, Vec<Refused>) {
        let mut conns = Vec::new();
        let plan: [(&str, &str, bool); 5] = [
            ("127.0.0.1", "127.0.0.1", false),
            ("::1", "::1", false),
            ("127.0.0.1", "127.0.0.1", true),
            (Netns::A4, Netns::B4, false),
            (Netns::A6, Netns::B6, false),
        ];
        for (from, to, as_nobody) in plan {
            let port = self.port(to);
            let in_ns = to.starts_with("10.") || to.starts_with("fd00:");
            let (client, server_pid) = if in_ns {
                (&mut self.ns_client, self.ns_server.pid())
            } else if as_nobody {
                (&mut self.nobody, self.server.pid())
            } else {
                (&mut self.client, self.server.pid())
            };
            let lport = client.connect(to, port);
            conns.push(Conn {
                family: family_of(to),
                client_pid: client.pid(),
                client_addr: from.to_string(),
                client_port: lport,
                server_pid,
                server_addr: to.to_string(),
                server_port: port,
            });
        }
        let mut refused = Vec::new();
        for (addr, port) in self.closed.clone() {
            self.client.refused(&addr, port);
            refused.push(Refused {
                family: family_of(&addr),
                pid: self.client.pid(),
                addr,
                port,
            });
        }
        // The kernel is done with both ends; the tool reads its ring at least every 100 ms.
        std::thread::sleep(std::time::Duration::from_millis(300));
        (conns, refused)
    }

    pub fn finish(self) {
        self.server.finish();
        self.client.finish();
        self.nobody.finish();
        self.ns_server.finish();
        self.ns_client.finish();
    }
}

static TRAFFIC: std::sync::RwLock<()> = std::sync::RwLock::new(());

/// Held by a test whose tool sees every process's connections: no storm of this test binary
/// runs meanwhile (its records would crowd the ring buffer).
pub fn shared() -> std::sync::RwLockReadGuard<'static, ()> {
    TRAFFIC.read().unwrap_or_else(|e| e.into_inner())
}

/// Held by a storm: it runs alone among this binary's network tests.
pub fn exclusive() -> std::sync::RwLockWriteGuard<'static, ()> {
    TRAFFIC.write().unwrap_or_else(|e| e.into_inner())
}

/// Runs the agent with `argv` while `work` runs: its stdout.
fn run_while<T>(argv: &[&str], work: impl FnOnce() -> T) -> (String, T) {
    let bin = super::agent_bin().unwrap();
    let mut cmd = Command::new(&bin);
    cmd.args(argv);
    let agent = super::start(cmd);
    let made = work();
    let (out, _) = agent.stop();
    (out, made)
}

/// Runs `tool --json -v ARGS` while `work` runs; returns every JSON line it printed.
pub fn trace<T>(tool: &str, args: &[&str], work: impl FnOnce() -> T) -> (Vec<Value>, T) {
    let argv: Vec<&str> = [tool, "--json", "-v"].iter().chain(args).copied().collect();
    let (out, made) = run_while(&argv, work);
    (super::json_lines(&out), made)
}

/// Runs `tool -v ARGS` while `work` runs; returns its text output.
pub fn trace_text<T>(tool: &str, args: &[&str], work: impl FnOnce() -> T) -> (String, T) {
    let argv: Vec<&str> = [tool, "-v"].iter().chain(args).copied().collect();
    run_while(&argv, work)
}

/// The events of `events` whose fields equal every `(key, value)` of `want`.
pub fn matching<'a>(events: &'a [Value], want: &[(&str, Value)]) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| want.iter().all(|(k, v)| &e[*k] == v))
        .collect()
}

/// The one event of `events` that [`matching`] finds for `want`: there must be exactly one
/// (for `what`, said when there is not).
pub fn one_matching<'a>(
    events: &'a [Value],
    want: &[(&str, Value)],
    what: &dyn std::fmt::Debug,
) -> &'a Value {
    let mine = matching(events, want);
    assert_eq!(mine.len(), 1, "{what:?}: {mine:?}");
    mine[0]
}

/// Asserts that every `(key, value)` of `want` is a field of `e` (for `what`).
pub fn assert_fields(e: &Value, want: &[(&str, Value)], what: &dyn std::fmt::Debug) {
    let got: Vec<(&str, &Value)> = want.iter().map(|(k, _)| (*k, &e[*k])).collect();
    let want: Vec<(&str, &Value)> = want.iter().map(|(k, v)| (*k, v)).collect();
    assert_eq!(got, want, "{what:?}: {e}");
}

/// Asserts that `got` and `want` hold the same items, in whatever order.
pub fn assert_same<T: Ord + std::fmt::Debug>(
    mut got: Vec<T>,
    mut want: Vec<T>,
    what: impl std::fmt::Display,
) {
    got.sort_unstable();
    want.sort_unstable();
    assert_eq!(got, want, "{what}");
}

/// Asserts that exactly one line of the text output `out` is `line`.
pub fn assert_one_line(out: &str, line: &str) {
    assert_eq!(
        out.lines().filter(|l| *l == line).count(),
        1,
        "{line}\n{out}"
    );
}

/// Asserts that exactly one line of the text output `out` starts with `start` (the rest of
/// it is a duration, say).
pub fn assert_one_line_starting(out: &str, start: &str) {
    assert_eq!(
        out.lines().filter(|l| l.starts_with(start)).count(),
        1,
        "{start}\n{out}"
    );
}

/// What every network tool refuses: each of `usage` (arguments, what the message names) is a
/// usage error, and so is -4 with -6; run unprivileged, it names the capabilities it needs.
pub fn assert_refusals(bin: &std::path::Path, tool: &str, usage: &[(&[&str], &str)]) {
    super::assert_usage_errors(bin, tool, usage);
    super::assert_usage_error(bin, tool, &["-4", "-6"], "-4/--ipv4 and -6/--ipv6");
    super::assert_needs_privileges(bin, tool, &[]);
}

/// On a kernel without kprobes, `tool --hook kprobe` fails (exit code 3) with a message that
/// says each of `said` (what is missing, and the fix).
pub fn assert_forced_kprobes_fail(bin: &std::path::Path, tool: &str, said: &[&str]) {
    if std::path::Path::new("/sys/kernel/tracing/kprobe_events").exists() {
        return;
    }
    let (code, err) = super::exit_and_stderr(bin, &[tool, "--hook", "kprobe"]);
    assert_eq!(code, Some(3), "{err}");
    assert!(said.iter().all(|s| err.contains(s)), "{err}");
}

/// How many records the tool's `lost` lines say it lost.
pub fn lost(events: &[Value]) -> u64 {
    events
        .iter()
        .filter(|e| e["type"] == "lost")
        .map(|e| e["lost"].as_u64().unwrap())
        .sum()
}
