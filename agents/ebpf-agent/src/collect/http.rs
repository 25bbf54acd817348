//! A minimal HTTP/1.1 responder for `GET /metrics`, driven by the collector's event loop: the
//! listener and its connections sit in an epoll set of their own, whose descriptor the loop
//! watches (as it watches a ring buffer's). Nothing blocks: a client that sends slowly or reads
//! slowly only holds its own connection, which is closed after [`IDLE`]. One request per
//! connection (`Connection: close`), as Prometheus scrapes.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

/// Connections served at once; more are closed at once.
const MAX_CONNS: usize = 16;
/// A connection that has not finished within this is closed.
const IDLE: Duration = Duration::from_secs(10);
/// Request heads longer than this are refused.
const MAX_REQUEST: usize = 16 * 1024;

struct Conn {
    stream: TcpStream,
    req: Vec<u8>,
    resp: Vec<u8>,
    sent: usize,
    deadline: Instant,
}

pub struct Server {
    listener: TcpListener,
    ep: OwnedFd,
    conns: Vec<Conn>,
    pub requests: u64,
}

/// What a request gets: status line, content type, body.
pub struct Reply {
    pub status: &'static str,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

fn epoll_ctl(ep: RawFd, op: i32, fd: RawFd, events: u32) -> io::Result<()> {
    let mut ev = libc::epoll_event {
        events,
        u64: fd as u64,
    };
    // SAFETY: a valid epoll descriptor and event.
    if unsafe { libc::epoll_ctl(ep, op, fd, &mut ev) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

impl Server {
    pub fn bind(addr: SocketAddr) -> io::Result<Server> {
        let listener = TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        // SAFETY: no pointers; returns a new descriptor or -1.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a descriptor we just created and own.
        let ep = unsafe { OwnedFd::from_raw_fd(fd) };
        epoll_ctl(
            ep.as_raw_fd(),
            libc::EPOLL_CTL_ADD,
            listener.as_raw_fd(),
            libc::EPOLLIN as u32,
        )?;
        Ok(Server {
            listener,
            ep,
            conns: Vec::new(),
            requests: 0,
        })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The descriptor the event loop watches.
    pub fn fd(&self) -> RawFd {
        self.ep.as_raw_fd()
    }

    /// When the oldest connection times out.
    pub fn wake_at(&self) -> Option<Instant> {
        self.conns.iter().map(|c| c.deadline).min()
    }

    /// Accepts, reads, answers and writes whatever is ready; `answer` makes the reply for a
    /// `GET` of a path.
    pub fn run(&mut self, now: Instant, answer: &mut dyn FnMut(&str) -> Reply) {
        // Empty the ready list (level-triggered: whatever is still ready is found below).
        let mut evs = [libc::epoll_event { events: 0, u64: 0 }; 32];
        // SAFETY: `evs` has room for evs.len() events; timeout 0.
        unsafe { libc::epoll_wait(self.ep.as_raw_fd(), evs.as_mut_ptr(), evs.len() as i32, 0) };
        loop {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    if self.conns.len() >= MAX_CONNS || stream.set_nonblocking(true).is_err() {
                        continue;
                    }
                    let fd = stream.as_raw_fd();
                    if epoll_ctl(self.fd(), libc::EPOLL_CTL_ADD, fd, libc::EPOLLIN as u32).is_ok() {
                        self.conns.push(Conn {
                            stream,
                            req: Vec::new(),
                            resp: Vec::new(),
                            sent: 0,
                            deadline: now + IDLE,
                        });
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        let ep = self.fd();
        let mut served = 0;
        self.conns.retain_mut(|c| {
            let keep = c.step(now, ep, answer, &mut served);
            if !keep {
                let _ = epoll_ctl(ep, libc::EPOLL_CTL_DEL, c.stream.as_raw_fd(), 0);
            }
            keep
        });
        self.requests += served;
    }
}

impl Conn {
    /// Moves the connection on; false when it is done (or timed out).
    fn step(
        &mut self,
        now: Instant,
        ep: RawFd,
        answer: &mut dyn FnMut(&str) -> Reply,
        served: &mut u64,
    ) -> bool {
        if now >= self.deadline {
            return false;
        }
        if self.resp.is_empty() {
            let mut buf = [0u8; 4096];
            loop {
                match self.stream.read(&mut buf) {
                    Ok(0) => return false,
                    Ok(n) => {
                        self.req.extend_from_slice(&buf[..n]);
                        if self.req.len() > MAX_REQUEST {
                            self.resp = response(
                                &Reply {
                                    status: "431 Request Header Fields Too Large",
                                    content_type: "text/plain",
                                    body: b"request too large\n".to_vec(),
                                },
                                false,
                            );
                            break;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(_) => return false,
                }
            }
            if self.resp.is_empty() {
                let Some(end) = head_end(&self.req) else {
                    return true;
                };
                self.resp = handle(&self.req[..end], answer);
                *served += 1;
            }
            let _ = epoll_ctl(
                ep,
                libc::EPOLL_CTL_MOD,
                self.stream.as_raw_fd(),
                libc::EPOLLOUT as u32,
            );
        }
        while self.sent < self.resp.len() {
            match self.stream.write(&self.resp[self.sent..]) {
                Ok(0) => return false,
                Ok(n) => self.sent += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
                Err(_) => return false,
            }
        }
        let _ = self.stream.shutdown(std::net::Shutdown::Write);
        false
    }
}

/// Where the request head ends (after its blank line).
fn head_end(req: &[u8]) -> Option<usize> {
    req.windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4)
        .or_else(|| req.windows(2).position(|w| w == b"\n\n").map(|i| i + 2))
}

/// The response to one request head.
fn handle(head: &[u8], answer: &mut dyn FnMut(&str) -> Reply) -> Vec<u8> {
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    let reply = match method {
        "GET" | "HEAD" => answer(path),
        _ => Reply {
            status: "405 Method Not Allowed",
            content_type: "text/plain",
            body: b"only GET\n".to_vec(),
        },
    };
    response(&reply, method != "HEAD")
}

fn response(r: &Reply, with_body: bool) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        r.status,
        r.content_type,
        r.body.len()
    )
    .into_bytes();
    if with_body {
        out.extend_from_slice(&r.body);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(path: &str) -> Reply {
        match path {
            "/metrics" => Reply {
                status: "200 OK",
                content_type: "text/plain; version=0.0.4; charset=utf-8",
                body: b"x 1\n".to_vec(),
            },
            _ => Reply {
                status: "404 Not Found",
                content_type: "text/plain",
                body: b"no\n".to_vec(),
            },
        }
    }

    /// Requests answered through the server's own epoll set, as the event loop would drive it.
    #[test]
    fn answers_requests_without_blocking() {
        let mut s = Server::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = s.local_addr().unwrap();
        let ask = |s: &mut Server, req: &[u8]| {
            let mut c = TcpStream::connect(addr).unwrap();
            c.write_all(req).unwrap();
            c.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
            let mut got = Vec::new();
            for _ in 0..200 {
                s.run(Instant::now(), &mut answer);
                let mut b = [0u8; 1024];
                match c.read(&mut b) {
                    Ok(0) => break,
                    Ok(n) => got.extend_from_slice(&b[..n]),
                    Err(_) => {}
                }
            }
            String::from_utf8(got).unwrap()
        };
        let r = ask(&mut s, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{r}");
        assert!(r.contains("Content-Type: text/plain; version=0.0.4"), "{r}");
        assert!(r.ends_with("\r\n\r\nx 1\n"), "{r}");
        assert!(ask(&mut s, b"GET /nope HTTP/1.0\r\n\r\n").starts_with("HTTP/1.1 404"));
        assert!(ask(&mut s, b"POST /metrics HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 405"));
        let head = ask(&mut s, b"HEAD /metrics HTTP/1.1\r\n\r\n");
        assert!(head.ends_with("\r\n\r\n"), "{head}");
        assert_eq!(s.requests, 4);
        // A client that connects and says nothing is closed when its time is up.
        let _idle = TcpStream::connect(addr).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        s.run(Instant::now(), &mut answer);
        assert_eq!(s.conns.len(), 1);
        s.run(Instant::now() + IDLE, &mut answer);
        assert_eq!(s.conns.len(), 0);
    }
}
