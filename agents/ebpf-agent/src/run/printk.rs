//! `bpf_printk()` output: read from tracefs `trace_pipe` while the programs run, kept when it
//! comes from this object's programs, echoed (text) or written as `{"type":"printk",...}`.
//!
//! trace_pipe does not say which program printed a line, so a line is taken as ours when its
//! message fits one of the object's format strings (libbpf's `bpf_printk` keeps each in
//! `.rodata` as a variable `<function>.____fmt`; `%d`, `%s`, ... match anything). An object
//! whose formats are not there (built on the stack) has every `bpf_trace_printk` line taken.
//! Reading trace_pipe consumes it: another reader sees what this one did not take.

use std::io::Read;
use std::os::fd::{AsRawFd, RawFd};

use agent_core::btf::types::Types;
use agent_core::output::Out;
use agent_core::time::boot_now_ns;

/// A format string cut at its conversions: literal parts, and `None` for a conversion.
type Pattern = Vec<Option<String>>;

/// Helper ids of bpf_trace_printk and bpf_trace_vprintk.
pub const HELPERS: &[i32] = &[6, 177];

/// The format strings of the object's `bpf_printk` calls, from `.rodata` (`sections`: each
/// `.rodata*` section's name and initial bytes).
pub fn formats(t: &Types, sections: &[(String, Vec<u8>)]) -> Vec<String> {
    let mut out = Vec::new();
    for (name, data) in sections {
        for v in t.section_vars(name) {
            if !v.name.ends_with(".____fmt") {
                continue;
            }
            let s = data
                .get(v.offset as usize..(v.offset as usize).saturating_add(v.size as usize))
                .unwrap_or(&[]);
            let s = agent_core::output::cstr(s);
            out.push(String::from_utf8_lossy(s).into_owned());
        }
    }
    out
}

/// Cuts a printf format into literal parts and conversions (`%d`, `%llu`, `%pI4`, `%-8s`).
pub fn compile(fmt: &str) -> Pattern {
    let fmt = fmt.trim_end_matches('\n');
    let mut out: Pattern = Vec::new();
    let mut lit = String::new();
    let mut chars = fmt.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            lit.push(c);
            continue;
        }
        if chars.peek() == Some(&'%') {
            chars.next();
            lit.push('%');
            continue;
        }
        while chars
            .peek()
            .is_some_and(|c| "-+ #0123456789.hlzjt".contains(*c))
        {
            chars.next();
        }
        let conv = chars.next();
        if conv == Some('p') {
            // %pI4, %pks, %pB: the pointer's kind letters.
            while chars.peek().is_some_and(|c| c.is_ascii_alphanumeric()) {
                chars.next();
            }
        }
        if !lit.is_empty() {
            out.push(Some(std::mem::take(&mut lit)));
        }
        if out.last() != Some(&None) {
            out.push(None);
        }
    }
    if !lit.is_empty() {
        out.push(Some(lit));
    }
    out
}

/// Does `msg` fit the pattern? Conversions match any text (a wildcard match, linear in the
/// message for each literal part).
pub fn matches(p: &Pattern, msg: &str) -> bool {
    let mut rest = msg;
    let mut wild = false;
    for (i, seg) in p.iter().enumerate() {
        match seg {
            None => wild = true,
            Some(lit) => {
                let last = i + 1 == p.len();
                if !wild {
                    match rest.strip_prefix(lit.as_str()) {
                        Some(r) => rest = r,
                        None => return false,
                    }
                } else if last {
                    return rest.ends_with(lit.as_str());
                } else {
                    match rest.find(lit.as_str()) {
                        Some(at) => rest = &rest[at + lit.len()..],
                        None => return false,
                    }
                }
                wild = false;
            }
        }
    }
    wild || rest.is_empty()
}

/// One trace_pipe line of bpf_trace_printk: `comm-pid [cpu] flags ts: bpf_trace_printk: msg`.
#[derive(Debug, PartialEq, Eq)]
pub struct Line<'a> {
    pub comm: &'a str,
    pub pid: u32,
    pub cpu: u32,
    pub msg: &'a str,
}

pub fn parse_line(line: &str) -> Option<Line<'_>> {
    let (head, msg) = line.split_once(": bpf_trace_printk: ")?;
    let (task, rest) = head.trim_start().split_once(" [")?;
    let task = task.split(" (").next()?.trim_end();
    let (comm, pid) = task.rsplit_once('-')?;
    let cpu = rest.split(']').next()?.trim().parse().ok()?;
    Some(Line {
        comm,
        pid: pid.parse().ok()?,
        cpu,
        msg,
    })
}

/// tracefs `trace_pipe`, read without blocking.
pub struct TracePipe {
    file: std::fs::File,
    patterns: Vec<Pattern>,
    partial: Vec<u8>,
    /// Lines from other programs, left alone (for -v).
    pub others: u64,
}

/// Bytes of stale lines read at most before the programs attach.
const STALE_MAX: usize = 64 << 20;

impl TracePipe {
    /// Opens trace_pipe and drops what it already holds (lines from before this run).
    pub fn open(formats: &[String]) -> agent_core::Result<TracePipe> {
        use std::os::unix::fs::OpenOptionsExt;
        let root = agent_core::probe::tracefs_root().ok_or_else(|| {
            agent_core::Error::new(
                "no tracefs for bpf_printk output: mount -t tracefs tracefs /sys/kernel/tracing",
            )
            .code(agent_core::error::EXIT_UNSUPPORTED)
        })?;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(root.join("trace_pipe"))
            .map_err(|e| {
                agent_core::Error::new(format!("cannot open {}/trace_pipe: {e}", root.display()))
            })?;
        let mut p = TracePipe {
            file,
            patterns: formats.iter().map(|f| compile(f)).collect(),
            partial: Vec::new(),
            others: 0,
        };
        let mut buf = vec![0u8; 64 * 1024];
        let mut dropped = 0;
        while dropped < STALE_MAX {
            match p.file.read(&mut buf) {
                Ok(n) if n > 0 => dropped += n,
                _ => break,
            }
        }
        if dropped > 0 {
            log::debug!("dropped {dropped} bytes of trace_pipe from before this run");
        }
        Ok(p)
    }

    pub fn fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }

    fn ours(&self, msg: &str) -> bool {
        self.patterns.is_empty() || self.patterns.iter().any(|p| matches(p, msg))
    }

    /// Reads what trace_pipe has and writes our lines to `out`.
    pub fn pump(&mut self, out: &mut Out) {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match self.file.read(&mut buf) {
                Ok(n) if n > 0 => self.partial.extend_from_slice(&buf[..n]),
                _ => break,
            }
            while let Some(nl) = self.partial.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.partial.drain(..=nl).collect();
                self.line(&line[..line.len() - 1], out);
            }
            if self.partial.len() > 1 << 20 {
                self.partial.clear();
            }
        }
    }

    fn line(&mut self, raw: &[u8], out: &mut Out) {
        let text = String::from_utf8_lossy(raw);
        let Some(l) = parse_line(&text) else {
            return;
        };
        if !self.ours(l.msg) {
            self.others += 1;
            return;
        }
        if out.json() {
            // The message's exact bytes (they may not be UTF-8): after the marker in `raw`.
            const MARK: &[u8] = b": bpf_trace_printk: ";
            let msg = raw
                .windows(MARK.len())
                .position(|w| w == MARK)
                .map_or(l.msg.as_bytes(), |at| &raw[at + MARK.len()..]);
            let mut o = out.event("printk", boot_now_ns());
            o.u64("pid", l.pid.into())
                .str("comm", l.comm)
                .u64("cpu", l.cpu.into())
                .bytes("msg", msg)
                .end();
        } else {
            let mut s = out.take_line();
            s.push_str(text.trim_start());
            s.push('\n');
            out.put_line(s);
        }
    }
}
