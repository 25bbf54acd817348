//! What the TCP tools share, decoded once: the connection tuple their records carry
//! (`struct net_tuple` of `bpf/net.h`), addresses as BCC prints them and as JSON strings
//! (IPv6 in RFC 5952 form, std's `Ipv6Addr` display), the port lists users type (`-P 80,443`)
//! as the port set the kernel side tests, `-4`/`-6`, and the names of the errors a connect
//! attempt ends with.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::error::{Error, Result};
use crate::hooks::{Attach, Exit, Group, Hook, Required};
use crate::json::Obj;

pub const AF_INET: u16 = 2;
pub const AF_INET6: u16 = 10;

crate::pod! {
    /// `struct net_tuple`: a connection from our side (local, remote), ports in host order.
    pub struct Tuple = "net_tuple" {
        laddr: [u8; 16],
        raddr: [u8; 16],
        family: u16,
        lport: u16,
        rport: u16,
        pad: u16,
    }

    /// `struct net_ports`: a set of ports, one bit each.
    pub struct Ports = "net_ports" {
        bits: [u8; 8192],
    }

    /// `struct net_filter`: -p, -4/-6, -L and -D of the tools that filter on both ends.
    pub struct Filter = "net_filter" {
        target_pid: u32,
        family: u16,
        filter_pid: u8,
        filter_lports: u8,
        filter_rports: u8,
        pad: [u8; 3],
        lports: Ports,
        rports: Ports,
    }
}

impl Filter {
    /// The kernel side's options from the command line's pid, family (0: both) and port lists.
    pub fn new(
        pid: Option<u32>,
        family: u16,
        local: &Option<PortList>,
        remote: &Option<PortList>,
    ) -> Filter {
        let (target_pid, filter_pid) = crate::tool::pid_filter(pid);
        let (filter_lports, lports) = Ports::filter(local);
        let (filter_rports, rports) = Ports::filter(remote);
        Filter {
            target_pid,
            family,
            filter_pid,
            filter_lports,
            filter_rports,
            lports,
            rports,
            ..Default::default()
        }
    }
}

/// The kretprobe alternative of bpf/net.h's `DEFINE_ACCEPT_PROBES`: every accept, io_uring's
/// and the kernel's own included.
pub const ACCEPT_KPROBE: Group = Group::all(
    "kprobe",
    &[Attach::new(
        "krp_inet_csk_accept",
        Hook::Kretprobe("inet_csk_accept"),
    )],
)
.text("kretprobe inet_csk_accept");

/// The syscall alternative of `DEFINE_ACCEPT_PROBES`: the exits of accept() and accept4().
pub const ACCEPT_SYSCALLS: Group = Group::syscalls(
    "tracepoint",
    &["accept", "accept4"],
    Required::Any(&["accept", "accept4"]),
    Exit::Only("tp_exit_accept"),
)
.text("syscall exit tracepoints of {}");

/// bpf/net.h's `DEFINE_TCP_SENDMSG_PROBES`: kprobe and kretprobe on tcp_sendmsg.
pub const SENDMSG_KPROBES: [Attach; 2] = [
    Attach::new("kp_tcp_sendmsg", Hook::Kprobe("tcp_sendmsg")),
    Attach::new("krp_tcp_sendmsg", Hook::Kretprobe("tcp_sendmsg")),
];

/// An address as text, without allocating: at most 45 bytes (`ffff:...:255.255.255.255`).
pub struct AddrText {
    buf: [u8; 48],
    len: usize,
}

impl AddrText {
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("?")
    }
}

impl std::fmt::Write for AddrText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        if end > self.buf.len() {
            return Err(std::fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// `addr` of `family` as BCC prints it (inet_ntop): dotted quad, or RFC 5952 for IPv6.
pub fn addr_text(family: u16, addr: &[u8; 16]) -> AddrText {
    use std::fmt::Write as _;
    let mut t = AddrText {
        buf: [0; 48],
        len: 0,
    };
    let _ = if family == AF_INET6 {
        write!(t, "{}", Ipv6Addr::from(*addr))
    } else {
        write!(t, "{}", Ipv4Addr::new(addr[0], addr[1], addr[2], addr[3]))
    };
    t
}

/// The JSON name of an address family.
pub fn family_name(family: u16) -> &'static str {
    match family {
        AF_INET => "ipv4",
        AF_INET6 => "ipv6",
        _ => "other",
    }
}

impl Tuple {
    /// The tuple of a local and a remote address (IPv4 or IPv6, as the local one is).
    pub fn of(local: std::net::SocketAddr, remote: std::net::SocketAddr) -> Tuple {
        let bytes = |ip: std::net::IpAddr| match ip {
            std::net::IpAddr::V4(a) => {
                let mut b = [0; 16];
                b[..4].copy_from_slice(&a.octets());
                b
            }
            std::net::IpAddr::V6(a) => a.octets(),
        };
        Tuple {
            laddr: bytes(local.ip()),
            raddr: bytes(remote.ip()),
            family: if local.is_ipv6() { AF_INET6 } else { AF_INET },
            lport: local.port(),
            rport: remote.port(),
            pad: 0,
        }
    }

    pub fn laddr_text(&self) -> AddrText {
        addr_text(self.family, &self.laddr)
    }

    pub fn raddr_text(&self) -> AddrText {
        addr_text(self.family, &self.raddr)
    }

    /// `laddr:lport` as BCC's tcptop prints it (IPv6 without brackets), into `s`.
    pub fn push_local(&self, s: &mut String) {
        use std::fmt::Write as _;
        let _ = write!(s, "{}:{}", self.laddr_text().as_str(), self.lport);
    }

    /// `raddr:rport`, into `s`.
    pub fn push_remote(&self, s: &mut String) {
        use std::fmt::Write as _;
        let _ = write!(s, "{}:{}", self.raddr_text().as_str(), self.rport);
    }

    /// BCC's `IP` column: 4 or 6.
    pub fn ip_version(&self) -> u8 {
        if self.family == AF_INET6 {
            6
        } else {
            4
        }
    }

    /// The tuple's fields in a JSON line: `family`, `laddr`, `lport`, `raddr`, `rport`.
    pub fn json(&self, o: &mut Obj) {
        o.str("family", family_name(self.family))
            .str("laddr", self.laddr_text().as_str())
            .u64("lport", self.lport.into())
            .str("raddr", self.raddr_text().as_str())
            .u64("rport", self.rport.into());
    }
}

/// A port list as typed (`-P 80,443`): every port 1..=65535, in the order given.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PortList(pub Vec<u16>);

/// Parses a comma-separated port list (argh's `from_str_fn`): `80`, `80,443`.
pub fn parse_ports(s: &str) -> std::result::Result<PortList, String> {
    let mut ports = Vec::new();
    for part in s.split(',') {
        let p = part.trim();
        let bad = || {
            format!("bad port {p:?} in {s:?}: ports are numbers from 1 to 65535, comma-separated")
        };
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        match p.parse::<u32>() {
            Ok(n @ 1..=65535) => ports.push(n as u16),
            _ => return Err(bad()),
        }
    }
    Ok(PortList(ports))
}

impl Ports {
    /// The set of `list`'s ports (empty: no port at all; callers test "given" separately).
    pub fn of(list: &PortList) -> Ports {
        let mut set = Ports::default();
        for &p in &list.0 {
            set.bits[usize::from(p >> 3)] |= 1 << (p & 7);
        }
        set
    }

    /// A port option as the kernel side's pair: (1, its set) when given, else (0, empty).
    pub fn filter(list: &Option<PortList>) -> (u8, Ports) {
        match list {
            Some(l) => (1, Ports::of(l)),
            None => (0, Ports::default()),
        }
    }

    pub fn contains(&self, port: u16) -> bool {
        self.bits[usize::from(port >> 3)] & (1 << (port & 7)) != 0
    }
}

/// `-4` and `-6`: the family to trace (0: both). Both at once is a usage error.
pub fn family_filter(ipv4: bool, ipv6: bool) -> Result<u16> {
    match (ipv4, ipv6) {
        (true, true) => Err(Error::usage(
            "-4/--ipv4 and -6/--ipv6 exclude each other: give one of them, or neither for both",
        )),
        (true, false) => Ok(AF_INET),
        (false, true) => Ok(AF_INET6),
        (false, false) => Ok(0),
    }
}

/// The name of an errno a connection ends with (the same numbers on x86_64, arm64 and arm).
pub fn errno_name(errno: i32) -> Option<&'static str> {
    Some(match errno {
        1 => "EPERM",
        4 => "EINTR",
        13 => "EACCES",
        22 => "EINVAL",
        32 => "EPIPE",
        71 => "EPROTO",
        98 => "EADDRINUSE",
        99 => "EADDRNOTAVAIL",
        100 => "ENETDOWN",
        101 => "ENETUNREACH",
        103 => "ECONNABORTED",
        104 => "ECONNRESET",
        110 => "ETIMEDOUT",
        111 => "ECONNREFUSED",
        112 => "EHOSTDOWN",
        113 => "EHOSTUNREACH",
        _ => return None,
    })
}

/// A TCP connection this process made over loopback, for the tools' self-tests (`verify`)
/// and tests: the client's and the server's ends, as each sees its own address.
#[derive(Debug, Clone, Copy)]
pub struct Exchange {
    pub client: std::net::SocketAddr,
    pub server: std::net::SocketAddr,
}

/// Connects to a fresh listener on `ip`, sends `up` bytes from the client in one write,
/// answers `down` bytes from the server in one write, reads both completely, and closes the
/// client first, then the server (each end then reaches CLOSE with every byte acknowledged).
pub fn exchange(ip: std::net::IpAddr, up: usize, down: usize) -> std::io::Result<Exchange> {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind((ip, 0))?;
    let mut client = std::net::TcpStream::connect(listener.local_addr()?)?;
    let (mut server, _) = listener.accept()?;
    let x = Exchange {
        client: client.local_addr()?,
        server: server.local_addr()?,
    };
    client.write_all(&vec![b'u'; up])?;
    server.read_exact(&mut vec![0; up])?;
    server.write_all(&vec![b'd'; down])?;
    client.read_exact(&mut vec![0; down])?;
    client.shutdown(std::net::Shutdown::Both)?;
    // The server sees the client's FIN (end of stream) before it closes in turn.
    let mut rest = Vec::new();
    server.read_to_end(&mut rest)?;
    drop(client);
    drop(server);
    Ok(x)
}

/// A port on `ip` nothing listens on (a listener bound to a free port, closed again): a
/// connect to it is refused.
pub fn closed_port(ip: std::net::IpAddr) -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind((ip, 0))?.local_addr()?.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v6(s: &str) -> [u8; 16] {
        s.parse::<Ipv6Addr>().unwrap().octets()
    }

    #[test]
    fn addresses_as_bcc_prints_them() {
        let mut a = [0u8; 16];
        a[..4].copy_from_slice(&[127, 0, 0, 1]);
        assert_eq!(addr_text(AF_INET, &a).as_str(), "127.0.0.1");
        a[..4].copy_from_slice(&[255, 255, 255, 255]);
        assert_eq!(addr_text(AF_INET, &a).as_str(), "255.255.255.255");
        // RFC 5952: the longest run of zeros shortened, lowercase, v4-mapped in dotted form.
        assert_eq!(addr_text(AF_INET6, &v6("::1")).as_str(), "::1");
        assert_eq!(
            addr_text(AF_INET6, &v6("2001:DB8:0:0:1:0:0:1")).as_str(),
            "2001:db8::1:0:0:1"
        );
        assert_eq!(
            addr_text(AF_INET6, &v6("::ffff:127.0.0.1")).as_str(),
            "::ffff:127.0.0.1"
        );
        assert_eq!(addr_text(AF_INET6, &v6("fe80::1")).as_str(), "fe80::1");
        let long = v6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe");
        assert_eq!(
            addr_text(AF_INET6, &long).as_str(),
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe"
        );
        assert_eq!(addr_text(AF_INET6, &[0; 16]).as_str(), "::");
    }

    #[test]
    fn tuple_json() {
        let mut t = Tuple {
            family: AF_INET6,
            lport: 5000,
            rport: 443,
            ..Default::default()
        };
        t.laddr = v6("::1");
        t.raddr = v6("2001:db8::2");
        let mut buf = Vec::new();
        let mut o = Obj::new(&mut buf);
        t.json(&mut o);
        o.end();
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            "{\"family\":\"ipv6\",\"laddr\":\"::1\",\"lport\":5000,\"raddr\":\"2001:db8::2\",\
             \"rport\":443}\n"
        );
        assert_eq!(t.ip_version(), 6);
    }

    #[test]
    fn port_lists() {
        assert_eq!(parse_ports("80"), Ok(PortList(vec![80])));
        assert_eq!(
            parse_ports("80, 443,65535"),
            Ok(PortList(vec![80, 443, 65535]))
        );
        for bad in [
            "80,abc",
            "",
            "80,",
            ",80",
            "0",
            "65536",
            "99999999999",
            "-1",
            "+80",
            "8 0",
        ] {
            let e = parse_ports(bad).unwrap_err();
            assert!(e.contains("1 to 65535"), "{bad:?}: {e}");
        }
        let set = Ports::of(&parse_ports("1,80,65535").unwrap());
        assert!(set.contains(1) && set.contains(80) && set.contains(65535));
        assert!(!set.contains(0) && !set.contains(81) && !set.contains(65534));
    }

    #[test]
    fn families() {
        assert_eq!(family_filter(false, false).unwrap(), 0);
        assert_eq!(family_filter(true, false).unwrap(), AF_INET);
        assert_eq!(family_filter(false, true).unwrap(), AF_INET6);
        let e = family_filter(true, true).unwrap_err();
        assert_eq!(e.exit_code, 2);
        assert!(e.message().contains("-4") && e.message().contains("-6"));
        assert_eq!(errno_name(111), Some("ECONNREFUSED"));
        assert_eq!(errno_name(12345), None);
    }
}
