//! filewatch: alerts when watched paths are opened, unlinked or renamed.
//!
//! BPF side: `bpf/filewatch.bpf.c`. Matching happens in the kernel (a hash of each absolute
//! path, looked up at the lengths the watch list has), so the many opens of unwatched files
//! never reach user space. The agent only confirms the bytes of the match and prints it.
//!
//! Built to run for weeks as a service: the watch list is fixed at start, kernel maps are
//! preallocated, and printing an event reuses the same buffers (no growth per event).

use agent_core::error::EXIT_USAGE;
use agent_core::openflags::push_open_flags;
use agent_core::prelude::*;

pub const TOOL: Spec = Spec {
    name: "filewatch",
    about: "alert when watched files are opened, unlinked or renamed (/etc/shadow, ...)",
    hooks: &[Group::syscalls(
        "",
        SYSCALLS,
        Required::All(&["openat"]),
        Exit::Shared("tp_exit"),
    )],
    dynamic: &[],
    structs: &[EventHead::LAYOUT, Key::LAYOUT, Config::LAYOUT],
    start: tool::start::<Filewatch>,
    selftest: SelfTest::new(selftest_workload)
        .args(|marker| vec![selftest_path(marker)])
        .storm(storm),
};

/// Opens of the watched file, as fast as they go: each one an alert.
fn storm(marker: &str, until: std::time::Instant) -> std::io::Result<u64> {
    let path = selftest_path(marker);
    std::fs::write(&path, b"")?;
    let mut n = 0u64;
    let result = (|| {
        while std::time::Instant::now() < until {
            for _ in 0..100 {
                std::fs::File::open(&path)?;
            }
            n += 100;
        }
        Ok(n)
    })();
    let _ = std::fs::remove_file(&path);
    result
}

fn selftest_path(marker: &str) -> String {
    format!("/tmp/.{marker}.filewatch")
}

/// Creates the watched file and removes it: an open and an unlink alert, nothing left behind.
fn selftest_workload(marker: &str) -> std::io::Result<Vec<String>> {
    let path = selftest_path(marker);
    std::fs::write(&path, b"")?;
    std::fs::remove_file(&path)?;
    Ok(vec![path])
}

/// Syscalls watched, where the kernel has them (arm64 has only the *at() forms).
const SYSCALLS: &[&str] = &[
    "open",
    "openat",
    "openat2",
    "unlink",
    "unlinkat",
    "rmdir",
    "rename",
    "renameat",
    "renameat2",
];

/// What is watched when no path is given: where credentials live.
pub const DEFAULT_WATCHES: &[&str] = &[
    "/etc/shadow",
    "/etc/gshadow",
    "/etc/sudoers",
    "/etc/sudoers.d/",
    "/etc/ssh/ssh_host_*",
];

/// Mirror bpf/filewatch.h.
pub const MAX_WATCHES: usize = 64;
pub const WATCH_LEN: usize = 255;
pub const PATH_BUF: usize = 8192;
const EXACT: u32 = 1;
const PREFIX: u32 = 2;
const FNV_OFFSET: u64 = 0xcbf29ce484222325;
const FNV_PRIME: u64 = 0x100000001b3;
const P_FILE: u16 = 1;
const P_NEW: u16 = 2;
const P_CUT: u16 = 4;
const P_OTHER_CUT: u16 = 8;

agent_core::pod! {
    /// `struct filewatch_event` without its path buffers (which follow it).
    pub struct EventHead = "filewatch_event", tail { paths: 2 * PATH_BUF } {
        time_ns: u64, flags: u64,
        pid: u32, tid: u32, ppid: u32, uid: u32, ret: i32, watch_id: u32,
        op: u16, syscall: u16, path_flags: u16, pad: u16,
        path_len: u32, other_len: u32,
        comm: [u8; 16],
    }

    /// `struct filewatch_key`.
    pub struct Key = "filewatch_key" {
        hash: u64,
        len: u32, kind: u32,
    }

    /// The program's options in .rodata.
    pub struct Config = "filewatch_config" {
        prefix_lens: [u64; 4],
        max_len: u32, pad: u32,
    }
}

/// FNV-1a, 64-bit: the hash the BPF side computes over a path.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(FNV_OFFSET, |h, &b| (h ^ b as u64).wrapping_mul(FNV_PRIME))
}

/// One entry of the watch list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watch {
    /// As the user wrote it (shown in alerts).
    pub text: Vec<u8>,
    /// The bytes a path must equal or start with.
    pub bytes: Vec<u8>,
    pub prefix: bool,
}

impl Watch {
    /// `/etc/shadow` (exact), `/etc/ssh/` (the directory and everything under it) or
    /// `/etc/ssh/ssh_host_*` (every path that starts with `/etc/ssh/ssh_host_`).
    pub fn parse(text: &[u8]) -> std::result::Result<Watch, String> {
        let show = String::from_utf8_lossy(text);
        if text.first() != Some(&b'/') {
            return Err(format!(
                "watched path {show:?} is not absolute (start it with /)"
            ));
        }
        if text.contains(&0) {
            return Err(format!("watched path {show:?} holds a NUL byte"));
        }
        let (bytes, prefix) = match text.strip_suffix(b"*") {
            Some(head) => (head.to_vec(), true),
            None => (text.to_vec(), text.ends_with(b"/")),
        };
        if bytes.contains(&b'*') {
            return Err(format!(
                "watched path {show:?}: `*` may only end an entry (a prefix)"
            ));
        }
        if bytes.len() > WATCH_LEN {
            return Err(format!(
                "watched path {show:?} is {} bytes, more than {WATCH_LEN}",
                bytes.len()
            ));
        }
        Ok(Watch {
            text: text.to_vec(),
            bytes,
            prefix,
        })
    }

    /// The keys of the kernel's table: a directory entry `D/` also matches `D` itself.
    pub fn keys(&self) -> Vec<Key> {
        let key = |b: &[u8], kind| Key {
            hash: fnv1a(b),
            len: b.len() as u32,
            kind,
        };
        if !self.prefix {
            return vec![key(&self.bytes, EXACT)];
        }
        let mut keys = vec![key(&self.bytes, PREFIX)];
        if let Some(dir) = self.bytes.strip_suffix(b"/").filter(|d| !d.is_empty()) {
            keys.push(key(dir, EXACT));
        }
        keys
    }

    /// The exact check behind a kernel match (which a hash collision could fake).
    pub fn matches(&self, path: &[u8]) -> bool {
        if self.prefix {
            path.starts_with(&self.bytes)
                || self.bytes.strip_suffix(b"/").is_some_and(|d| path == d)
        } else {
            path == self.bytes.as_slice()
        }
    }
}

/// The watch list from `paths` and the lines of `files` (blank lines and `#` comments
/// skipped), or the default list when both are empty.
pub fn watch_list(paths: &[String], files: &[String]) -> Result<Vec<Watch>> {
    let mut texts: Vec<Vec<u8>> = paths.iter().map(|p| p.as_bytes().to_vec()).collect();
    for f in files {
        let data = std::fs::read(f).map_err(|e| {
            Error::os(
                format!("cannot read the watch list {f}"),
                e.raw_os_error().unwrap_or(0),
            )
            .code(EXIT_USAGE)
        })?;
        for line in data.split(|&b| b == b'\n') {
            let line = line.trim_ascii();
            if !line.is_empty() && !line.starts_with(b"#") {
                texts.push(line.to_vec());
            }
        }
    }
    if paths.is_empty() && files.is_empty() {
        texts = DEFAULT_WATCHES
            .iter()
            .map(|p| p.as_bytes().to_vec())
            .collect();
    }
    let mut list: Vec<Watch> = Vec::new();
    for t in texts {
        let w = Watch::parse(&t).map_err(Error::usage)?;
        if !list.contains(&w) {
            list.push(w);
        }
    }
    if list.is_empty() {
        return Err(Error::usage("the watch list is empty"));
    }
    if list.len() > MAX_WATCHES {
        return Err(Error::usage(format!(
            "{} paths to watch: at most {MAX_WATCHES}",
            list.len()
        )));
    }
    Ok(list)
}

/// The options the BPF side needs from a watch list.
pub fn config_of(list: &[Watch]) -> Config {
    let mut c = Config::default();
    for k in list.iter().flat_map(Watch::keys) {
        if k.kind == PREFIX {
            c.prefix_lens[k.len as usize / 64] |= 1 << (k.len % 64);
        }
        c.max_len = c.max_len.max(k.len);
    }
    c
}

#[derive(FromArgs, Debug)]
/// Alert when watched paths are opened, unlinked or renamed, by any process, with who did it
/// and the result. PATH is exact (/etc/shadow), a directory and all below it (/etc/ssh/), or a
/// prefix (/etc/ssh/ssh_host_*). Without paths: /etc/shadow, /etc/gshadow, /etc/sudoers,
/// /etc/sudoers.d/ and /etc/ssh/ssh_host_*.
pub struct Args {
    /// read paths to watch from FILE, one per line (# comments); may be repeated
    #[argh(option, short = 'f')]
    pub file: Vec<String>,
    /// paths to watch (at most 64, each at most 255 bytes)
    #[argh(positional)]
    pub paths: Vec<String>,
}

impl Tool for Filewatch {
    type Args = Args;
    const DURATION_SHORT: Option<char> = Some('d');
    fn new(args: Args, _: &Common) -> Result<Self> {
        let list = watch_list(&args.paths, &args.file)?;
        Ok(Filewatch {
            list,
            unconfirmed: 0,
        })
    }
}

impl Handler for Filewatch {
    fn configure(&mut self, obj: &mut Object, _: &Plan) -> Result<()> {
        obj.set_config(&config_of(&self.list))
    }

    fn loaded(&mut self, obj: &mut Object) -> Result<()> {
        for (id, w) in self.list.iter().enumerate() {
            for k in w.keys() {
                obj.map_update("watches", &k, &(id as u32))?;
            }
        }
        Ok(())
    }

    fn note(&self) -> String {
        let names: Vec<String> = self
            .list
            .iter()
            .map(|w| String::from_utf8_lossy(&w.text).into_owned())
            .collect();
        format!("watching {}", names.join(" "))
    }

    fn header(&mut self, out: &mut Out) {
        if !out.json() {
            out.push("TIME     PID     PPID    UID    COMM             OP      RET PATH\n");
        }
    }

    fn record(&mut self, _: usize, data: &[u8], out: &mut Out) {
        self.event(data, out);
    }
}

/// Decodes alerts, confirms them against the list, and prints them.
pub struct Filewatch {
    list: Vec<Watch>,
    /// Kernel matches the bytes did not confirm (hash collisions): dropped.
    pub unconfirmed: u64,
}

fn op_name(op: u16) -> &'static str {
    match op {
        1 => "open",
        2 => "unlink",
        3 => "rmdir",
        4 => "rename",
        _ => "unknown",
    }
}

fn syscall_name(n: u16) -> &'static str {
    match n {
        1 => "open",
        2 => "openat",
        3 => "openat2",
        4 => "unlink",
        5 => "unlinkat",
        6 => "rmdir",
        7 => "rename",
        8 => "renameat",
        9 => "renameat2",
        _ => "unknown",
    }
}

/// The flags of an unlinkat() or renameat2() by name.
fn push_at_flags(out: &mut String, op: u16, flags: u64) {
    let names: &[(u64, &str)] = if op == 4 {
        &[
            (1, "RENAME_NOREPLACE"),
            (2, "RENAME_EXCHANGE"),
            (4, "RENAME_WHITEOUT"),
        ]
    } else {
        &[(0x200, "AT_REMOVEDIR")]
    };
    let mut rest = flags;
    for &(bit, name) in names {
        if rest & bit != 0 {
            if !out.is_empty() {
                out.push('|');
            }
            out.push_str(name);
            rest &= !bit;
        }
    }
    if rest != 0 {
        if !out.is_empty() {
            out.push('|');
        }
        out.push_str(&format!("{rest:#x}"));
    }
}

impl Filewatch {
    fn event(&mut self, data: &[u8], out: &mut Out) {
        let Some(head) = pod::read::<EventHead>(data) else {
            return;
        };
        let start = std::mem::size_of::<EventHead>();
        let slice = |off: usize, len: u32| {
            let a = (start + off).min(data.len());
            let b = (a + (len as usize).min(PATH_BUF)).min(data.len());
            &data[a..b]
        };
        let path = slice(0, head.path_len);
        let other = slice(PATH_BUF, head.other_len);
        let Some(watch) = self.list.get(head.watch_id as usize) else {
            self.unconfirmed += 1;
            log::debug!(
                "dropped a kernel match on entry {} of {}",
                head.watch_id,
                self.list.len()
            );
            return;
        };
        if !watch.matches(path) {
            self.unconfirmed += 1;
            log::debug!(
                "dropped a kernel match of {:?} on {:?} (hash collision)",
                String::from_utf8_lossy(path),
                String::from_utf8_lossy(&watch.text)
            );
            return;
        }
        if out.json() {
            json(&head, path, other, &watch.text, out);
        } else {
            text(&head, path, other, out);
        }
    }
}

fn text(e: &EventHead, path: &[u8], other: &[u8], out: &mut Out) {
    let mut s = out.take_line();
    out.push_hms(&mut s, e.time_ns);
    let _ = write!(s, " {:<7} {:<7} {:<6} ", e.pid, e.ppid, e.uid);
    push_escaped_left(&mut s, cstr(&e.comm), 16);
    let _ = write!(s, " {:<6} {:>4} ", op_name(e.op), e.ret);
    if e.op == 4 && e.path_flags & P_NEW != 0 {
        push_escaped(&mut s, other);
        s.push_str(" -> ");
        push_escaped(&mut s, path);
    } else {
        push_escaped(&mut s, path);
        if e.op == 4 {
            s.push_str(" -> ");
            push_escaped(&mut s, other);
        }
    }
    s.push('\n');
    out.put_line(s);
}

fn json(e: &EventHead, path: &[u8], other: &[u8], watch: &[u8], out: &mut Out) {
    let mut flags_text = out.take_line();
    if e.op == 1 {
        push_open_flags(&mut flags_text, e.flags);
    } else {
        push_at_flags(&mut flags_text, e.op, e.flags);
    }
    let mut o = out.event("alert", e.time_ns);
    o.u64("pid", e.pid.into())
        .u64("tid", e.tid.into())
        .u64("ppid", e.ppid.into())
        .u64("uid", e.uid.into())
        .bytes("comm", cstr(&e.comm))
        .str("op", op_name(e.op))
        .str("syscall", syscall_name(e.syscall))
        .bytes("path", path)
        .bytes("watch", watch)
        .str(
            "matched_by",
            if e.path_flags & P_FILE != 0 {
                "file"
            } else {
                "name"
            },
        )
        .u64("flags", e.flags)
        .str("flags_text", &flags_text)
        .i64("ret", e.ret.into())
        .bool("path_incomplete", e.path_flags & (P_CUT | P_OTHER_CUT) != 0);
    if e.op == 4 {
        let key = if e.path_flags & P_NEW != 0 {
            "renamed_from"
        } else {
            "renamed_to"
        };
        o.bytes(key, other);
    }
    o.end();
    flags_text.clear();
    out.put_line(flags_text);
}

#[cfg(test)]
mod tests;
