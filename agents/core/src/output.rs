//! Where a tool's lines go: buffered text or JSON lines, flushed whenever the loop waits,
//! stopped quietly once the reader is gone, with lost events reported in both modes.
//!
//! Every tool prints through an [`Out`]: standard output for a tool run by hand, a file for
//! the collector, memory in tests.

use std::io::Write;

use crate::interval::Tick;
use crate::json::{self, Obj};
use crate::time::{boot_now_ns, Clock, Stamps};

/// Flushed early once this much is buffered, so a burst never holds much memory.
const FLUSH_AT: usize = 256 * 1024;

/// What the loop does after a record or a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// The tool is done (e.g. its output was closed).
    Stop,
}

/// Where the bytes go.
pub enum Sink {
    Stdout,
    /// Kept in memory (tests, and callers that post-process the lines).
    Memory(Vec<u8>),
    Writer(Box<dyn Write + Send>),
}

/// A tool's output: one buffer of lines, its mode, and the clock that turns kernel
/// timestamps into wall-clock time.
pub struct Out {
    buf: Vec<u8>,
    sink: Sink,
    json: bool,
    clock: Clock,
    stamps: Stamps,
    /// The first write error: no more output after it.
    error: Option<std::io::Error>,
    /// A line a tool builds in text mode, reused.
    line: String,
    /// Put before the warnings it logs (`name: `) where one process runs several tools.
    label: String,
}

impl Out {
    pub fn new(sink: Sink, json: bool) -> Out {
        Out {
            buf: Vec::with_capacity(64 * 1024),
            sink,
            json,
            clock: Clock::new(),
            stamps: Stamps::default(),
            error: None,
            line: String::with_capacity(256),
            label: String::new(),
        }
    }

    /// Names the tool in the warnings this output logs (lost events), for a process that
    /// runs several tools: the collector.
    pub fn with_label(mut self, name: &str) -> Out {
        self.label = format!("{name}: ");
        self
    }

    /// `name: ` as given to [`Out::with_label`], or nothing.
    pub fn label(&self) -> &str {
        &self.label
    }

    pub fn stdout(json: bool) -> Out {
        Out::new(Sink::Stdout, json)
    }

    pub fn memory(json: bool) -> Out {
        Out::new(Sink::Memory(Vec::new()), json)
    }

    /// JSON Lines (`--json`) rather than text.
    pub fn json(&self) -> bool {
        self.json
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The buffer the next line is appended to.
    pub fn buf(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    /// Appends text.
    pub fn push(&mut self, s: &str) {
        json::put(&mut self.buf, s.as_bytes());
    }

    /// The column header of text mode (nothing in JSON mode): each piece whose flag is set,
    /// in order.
    pub fn columns(&mut self, pieces: &[(bool, &str)]) {
        if self.json() {
            return;
        }
        for (on, piece) in pieces {
            if *on {
                self.push(piece);
            }
        }
    }

    /// A scratch line for text mode, empty; hand it back with [`Out::put_line`].
    pub fn take_line(&mut self) -> String {
        let mut l = std::mem::take(&mut self.line);
        l.clear();
        l
    }

    /// Appends `line` (which should end with a newline) and keeps its allocation.
    pub fn put_line(&mut self, line: String) {
        json::put(&mut self.buf, line.as_bytes());
        self.line = line;
    }

    /// `HH:MM:SS` local time of a kernel timestamp (BCC's TIME column), into `s`.
    pub fn push_hms(&mut self, s: &mut String, boot_ns: u64) {
        let mut b = Vec::with_capacity(8);
        self.stamps
            .push_hms_local(&mut b, self.clock.wall_ns(boot_ns));
        s.push_str(std::str::from_utf8(&b).unwrap_or("??:??:??"));
    }

    /// Starts the JSON line of an event: `{"type":ty,"ts":...,"time_ns":boot_ns`, with the
    /// fields every event has (docs/json.md). The caller adds its own and calls `end()`.
    pub fn event(&mut self, ty: &str, boot_ns: u64) -> Obj<'_> {
        let wall = self.clock.wall_ns(boot_ns);
        self.begin(ty, wall);
        json::put(&mut self.buf, b",\"time_ns\":");
        json::push_u64(&mut self.buf, boot_ns);
        Obj::resume(&mut self.buf)
    }

    /// Starts the JSON line of an interval report: type, ts, time_ns, interval_ns.
    pub fn interval(&mut self, tick: &Tick) -> Obj<'_> {
        let mut o = self.event("interval", tick.end_ns);
        o.u64("interval_ns", tick.length_ns());
        o
    }

    fn begin(&mut self, ty: &str, wall_ns: i128) {
        json::put(&mut self.buf, b"{\"type\":");
        json::push_str(&mut self.buf, ty);
        json::put(&mut self.buf, b",\"ts\":\"");
        self.stamps.push_rfc3339(&mut self.buf, wall_ns);
        self.buf.push(b'"');
    }

    /// Reports `new` lost events (`total` since start) and why: a warning on stderr and, in
    /// JSON mode, a `{"type":"lost",...}` line (docs/json.md).
    pub fn lost(&mut self, new: u64, total: u64, why: &str) {
        log::warn!("{}{new} events lost ({why}; {total} in all)", self.label);
        if self.json {
            let wall = self.clock.wall_ns(boot_now_ns());
            self.begin("lost", wall);
            Obj::resume(&mut self.buf)
                .u64("lost", new)
                .u64("lost_total", total)
                .end();
        }
    }

    /// Writes out what is buffered. A write error (a closed pipe, a full disk) ends all
    /// output; [`Out::error`] tells which.
    pub fn flush(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        if self.error.is_some() {
            self.buf.clear();
            return;
        }
        let r = match &mut self.sink {
            Sink::Stdout => write_until_stopped(&mut Stdout, &self.buf),
            Sink::Memory(m) => {
                m.extend_from_slice(&self.buf);
                Ok(())
            }
            Sink::Writer(w) => write_until_stopped(w, &self.buf).and_then(|_| w.flush()),
        };
        if let Err(e) = r {
            self.error = Some(e);
        }
        self.buf.clear();
    }

    /// True once output failed (the reader went away, the disk is full).
    pub fn broken(&self) -> bool {
        self.error.is_some()
    }

    /// The write error that ended output, if any.
    pub fn error(&self) -> Option<&std::io::Error> {
        self.error.as_ref()
    }

    /// What the loop does after a record: flush a large buffer, stop once output is closed.
    pub fn flow(&mut self) -> Flow {
        if self.buf.len() > FLUSH_AT {
            self.flush();
        }
        if self.error.is_some() {
            Flow::Stop
        } else {
            Flow::Continue
        }
    }

    /// Everything written to a [`Sink::Memory`] so far (flushed first), as text.
    pub fn memory_text(&mut self) -> String {
        self.flush();
        match &mut self.sink {
            Sink::Memory(m) => String::from_utf8_lossy(&std::mem::take(m)).into_owned(),
            _ => String::new(),
        }
    }
}

/// Standard output without std's own buffering: std retries writes that a signal
/// interrupted, which would keep a tool whose reader stopped reading from ever ending.
/// [`Out`] does the buffering.
pub struct Stdout;

impl Write for Stdout {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        // SAFETY: fd 1 stays open for the life of the process (never closed by us).
        let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(1) };
        nix::unistd::write(fd, bytes).map_err(std::io::Error::from)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `write_all`, except that it gives up once the grace period after a stop request is over
/// (see `evloop::output_abandoned`): a reader that stopped reading (a full pipe) must not keep
/// the tool from ending, while a reader that reads gets every line whole.
fn write_until_stopped(out: &mut impl Write, mut bytes: &[u8]) -> std::io::Result<()> {
    while !bytes.is_empty() {
        match out.write(bytes) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
        if !bytes.is_empty() && crate::evloop::output_abandoned() {
            return Err(std::io::ErrorKind::Interrupted.into());
        }
    }
    Ok(())
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
        let mut text = Out::memory(false);
        text.push("a\n");
        text.lost(3, 3, "ring buffer full");
        assert_eq!(text.flow(), Flow::Continue);
        assert_eq!(text.memory_text(), "a\n", "text mode writes no lost line");

        let mut out = Out::memory(true);
        out.lost(2, 5, "ring buffer full");
        out.event("x", 1_000_000_000).u64("n", 1).end();
        let text = out.memory_text();
        let mut lines = text.lines();
        let v: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
        assert_eq!(v["type"], "lost");
        assert_eq!(
            (v["lost"].as_u64(), v["lost_total"].as_u64()),
            (Some(2), Some(5))
        );
        assert!(v["ts"].as_str().unwrap().ends_with('Z'));
        let v: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
        assert_eq!(v["type"], "x");
        assert_eq!(v["time_ns"], 1_000_000_000u64);
        assert_eq!(v["n"], 1);
        assert_eq!(
            v["ts"].as_str().unwrap(),
            crate::time::rfc3339_utc(out.clock().wall_ns(1_000_000_000))
        );
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
        let mut l = Out::new(Sink::Writer(Box::new(Closed)), false);
        l.push("x\n");
        assert_eq!(l.flow(), Flow::Continue, "small output waits for flush");
        l.flush();
        assert!(l.broken());
        assert_eq!(
            l.error().map(|e| e.kind()),
            Some(std::io::ErrorKind::BrokenPipe)
        );
        l.push("y\n");
        assert_eq!(l.flow(), Flow::Stop);
    }

    #[test]
    fn c_strings() {
        assert_eq!(cstr(b"sh\0\0junk"), b"sh");
        assert_eq!(cstr(b"sixteen-bytes-xx"), b"sixteen-bytes-xx");
    }
}
