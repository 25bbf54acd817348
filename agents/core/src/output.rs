//! What every streaming tool does with its output: decode fixed records from the ring buffer,
//! buffer text or JSON lines, flush them whenever the loop waits, stop quietly once the reader
//! is gone, and report lost events in both modes.
//!
//! A tool's [`Consumer`](crate::run::Consumer) keeps a [`Lines`] and forwards `flush` and `lost`
//! to it; each record ends with `lines.flow()`.

use std::io::Write;

use crate::json::Obj;
use crate::run::Flow;
use crate::time::{self, Clock};

/// Flushed early once this much is buffered, so a burst never holds much memory.
const FLUSH_AT: usize = 256 * 1024;

/// Buffered output lines for one writer (stdout in the tools, a Vec in tests).
pub struct Lines<W: Write> {
    out: W,
    buf: Vec<u8>,
    broken: bool,
}

impl<W: Write> Lines<W> {
    pub fn new(out: W) -> Self {
        Lines {
            out,
            buf: Vec::with_capacity(64 * 1024),
            broken: false,
        }
    }

    /// The buffer the next line is appended to (by `json::Obj::new` or as text).
    pub fn buf(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    /// Writes out what is buffered. A write error (a closed pipe) ends all output.
    pub fn flush(&mut self) {
        if self.buf.is_empty() || self.broken {
            self.buf.clear();
            return;
        }
        if write_until_stopped(&mut self.out, &self.buf)
            .and_then(|_| self.out.flush())
            .is_err()
        {
            self.broken = true;
        }
        self.buf.clear();
    }

    /// True once the reader went away.
    pub fn broken(&self) -> bool {
        self.broken
    }

    /// What the loop does after a record: flush a large buffer, stop once output is closed.
    pub fn flow(&mut self) -> Flow {
        if self.buf.len() > FLUSH_AT {
            self.flush();
        }
        if self.broken {
            Flow::Stop
        } else {
            Flow::Continue
        }
    }

    /// Reports `new` lost events (`total` since start): a warning on stderr and, in JSON mode,
    /// a `{"type":"lost",...}` line (docs/json.md).
    pub fn lost(&mut self, json: bool, clock: &Clock, new: u64, total: u64) {
        self.lost_because(json, clock, new, total, "ring buffer full");
    }

    /// [`Lines::lost`] with the reason the warning gives: interval tools lose counts to a full
    /// map, not to a full ring buffer.
    pub fn lost_because(&mut self, json: bool, clock: &Clock, new: u64, total: u64, why: &str) {
        log::warn!("{new} events lost ({why}; {total} in all)");
        if json {
            let ts = time::rfc3339_utc(clock.wall_ns(time::boot_now_ns()));
            Obj::new(&mut self.buf)
                .str("type", "lost")
                .str("ts", &ts)
                .u64("lost", new)
                .u64("lost_total", total)
                .end();
        }
    }
}

/// Standard output without std's own buffering, for [`Lines`]: std retries writes that a
/// signal interrupted, which would keep a tool whose reader stopped reading from ever ending.
/// [`Lines`] does the buffering.
pub struct Stdout;

impl Write for Stdout {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(1) };
        nix::unistd::write(fd, bytes).map_err(std::io::Error::from)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `write_all`, except that it gives up once the grace period after a stop request is over
/// (see `run::output_abandoned`): a reader that stopped reading (a full pipe) must not keep
/// the tool from ending, while a reader that reads gets every line whole.
fn write_until_stopped(out: &mut impl Write, mut bytes: &[u8]) -> std::io::Result<()> {
    while !bytes.is_empty() {
        match out.write(bytes) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
        if !bytes.is_empty() && crate::run::output_abandoned() {
            return Err(std::io::ErrorKind::Interrupted.into());
        }
    }
    Ok(())
}

/// Reads a `#[repr(C)]` record from the start of `data`; None if `data` is too short.
///
/// Ring buffer records are 8-byte aligned, but the read does not rely on it.
pub fn read_record<T: Copy>(data: &[u8]) -> Option<T> {
    (data.len() >= std::mem::size_of::<T>())
        .then(|| unsafe { std::ptr::read_unaligned(data.as_ptr() as *const T) })
}

/// The bytes of a C string buffer before its first NUL (all of it if there is none).
pub fn cstr(b: &[u8]) -> &[u8] {
    &b[..b.iter().position(|&c| c == 0).unwrap_or(b.len())]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_flush_and_lost_lines() {
        let mut out = Vec::new();
        let clock = Clock::new();
        {
            let mut l = Lines::new(&mut out);
            l.buf().extend_from_slice(b"a\n");
            l.lost(false, &clock, 3, 3);
            assert!(matches!(l.flow(), Flow::Continue));
            l.flush();
            l.lost(true, &clock, 2, 5);
            l.flush();
        }
        let text = String::from_utf8(out).unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("a"), "text mode writes no lost line");
        let v: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
        assert_eq!(v["type"], "lost");
        assert_eq!(
            (v["lost"].as_u64(), v["lost_total"].as_u64()),
            (Some(2), Some(5))
        );
        assert!(v["ts"].as_str().unwrap().ends_with('Z'));
        assert_eq!(lines.next(), None);
    }

    /// A writer whose reader went away.
    struct Closed;
    impl Write for Closed {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_closed_reader_stops_the_loop() {
        let mut l = Lines::new(Closed);
        l.buf().extend_from_slice(b"x\n");
        assert!(
            matches!(l.flow(), Flow::Continue),
            "small output waits for flush"
        );
        l.flush();
        assert!(l.broken());
        l.buf().extend_from_slice(b"y\n");
        assert!(matches!(l.flow(), Flow::Stop));
    }

    #[test]
    fn records_and_c_strings() {
        #[repr(C)]
        #[derive(Clone, Copy)]
        struct R {
            a: u32,
            b: u64,
        }
        let mut bytes = vec![0u8; 1];
        bytes.extend_from_slice(&7u32.to_ne_bytes());
        bytes.extend_from_slice(&[0; 4]);
        bytes.extend_from_slice(&9u64.to_ne_bytes());
        // Deliberately misaligned by one byte.
        let r: R = read_record(&bytes[1..]).unwrap();
        assert_eq!((r.a, r.b), (7, 9));
        assert!(read_record::<R>(&bytes[1..15]).is_none());
        assert_eq!(cstr(b"sh\0\0junk"), b"sh");
        assert_eq!(cstr(b"sixteen-bytes-xx"), b"sixteen-bytes-xx");
    }
}
