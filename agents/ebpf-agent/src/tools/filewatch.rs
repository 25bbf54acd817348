//! filewatch: alerts when watched files are opened, unlinked or renamed, under any name.
//!
//! BPF side: `bpf/filewatch.bpf.c`. Matching happens in the kernel, by identity first: the
//! opened file (or the dentry being removed) against the inodes and dentries of the watched
//! objects, which the agent holds open and keeps up to date ([`objects`]); by name for what
//! failed (the name made absolute and folded in the kernel, hashed, looked up). The many opens
//! of unwatched files never reach user space. The agent confirms name matches byte by byte,
//! composes identity matches' paths, and reports the failures the kernel folded.
//!
//! Built to run for weeks as a service: the watch list is fixed at start, kernel maps are
//! preallocated, and printing an event reuses the same buffers (no growth per event).


use agent_core::openflags::push_open_flags;
use agent_core::prelude::*;

use crate::syscalls;

mod objects;
pub mod watch;

use objects::Objects;
pub use watch::{watch_list, Watch};

pub const TOOL: Spec = Spec {
    name: "filewatch",
    about: "alert when watched files are opened, unlinked or renamed (/etc/shadow, ...)",
    hooks: HOOKS,
    dynamic: &[],
    structs: &[
        EventHead::LAYOUT,
        watch::Key::LAYOUT,
        Config::LAYOUT,
        objects::ObjectValue::LAYOUT,
        objects::Learned::LAYOUT,
        objects::Pin::LAYOUT,
        objects::Pins::LAYOUT,
        objects::Bloom::LAYOUT,
        FailKey::LAYOUT,
        Fail::LAYOUT,
    ],
    start: tool::start::<Filewatch>,
    selftest: SelfTest::new(selftest_workload)
        .args(|marker| vec![selftest_path(marker)])
        .storm(storm),
};

/// Where the kernel's syscall numbers are read (raw tracepoints), one program on every
/// syscall's exit; elsewhere, the syscall tracepoints of each. Both with the io_uring
/// completions, and the dentry hooks where kprobes exist.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
const HOOKS: &[Group] = &[
    Group::all(
        "",
        &[Attach::new(
            "raw_exit",
            Hook::RawTp("raw_syscalls", "sys_exit"),
        )],
    )
    .text("raw tracepoint raw_syscalls:sys_exit"),
    IO_URING,
    VFS,
];
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
const HOOKS: &[Group] = &[
    Group::syscalls("", SYSCALLS, Required::All(&["openat"]), Exit::Shared("tp_exit")),
    IO_URING,
    VFS,
];

const IO_URING: Group = Group::optional(
    "io_uring",
    &[tracepoint(
        "tp_uring_complete",
        "io_uring",
        "io_uring_complete",
    )],
);

/// Removals and renames by the dentry they change, for any caller.
const VFS: Group = Group::optional(
    "vfs",
    &[
        Attach::new("kp_d_delete", Hook::Kprobe("d_delete")),
        Attach::new("kp_d_move", Hook::Kprobe("d_move")),
        Attach::new("kp_d_exchange", Hook::Kprobe("d_exchange")),
    ],
);

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

/// The syscalls, by `enum filewatch_syscall` from 1: where the kernel has them (arm64 has only
/// the `*at` forms). io_uring_enter only tells io_uring's own removals from others.
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
    "creat",
    "open_by_handle_at",
];

/// The names of the two ids that are no syscall of their own.
const IO_URING_ENTER: u16 = 12;
const NOT_SYSCALLS: &[&str] = &["io_uring_enter", "io_uring", "vfs"];

fn table() -> syscalls::Table {
    let mut wanted: Vec<(u8, &[&str])> = SYSCALLS
        .iter()
        .enumerate()
        .map(|(i, n)| (i as u8 + 1, std::slice::from_ref(n)))
        .collect();
    wanted.push((IO_URING_ENTER as u8, &["io_uring_enter"]));
    syscalls::Table::of(&wanted)
}

/// What is watched when no path is given: where credentials live.
pub const DEFAULT_WATCHES: &[&str] = &[
    "/etc/shadow",
    "/etc/gshadow",
    "/etc/sudoers",
    "/etc/sudoers.d/",
    "/etc/ssh/ssh_host_*",
];

/// Mirror bpf/filewatch.h.
pub const PATH_BUF: usize = 8192;
pub const NAME_BUF: usize = 4096;
const P_FILE: u16 = 1;
const P_NEW: u16 = 2;
const P_CUT: u16 = 4;
const P_OTHER_CUT: u16 = 8;
const P_UNDECIDED: u16 = 32;

agent_core::pod! {
    /// `struct filewatch_event` without its path buffers (which follow it).
    pub struct EventHead = "filewatch_event", tail { paths: 2 * PATH_BUF + NAME_BUF } {
        time_ns: u64, flags: u64,
        pid: u32, tid: u32, ppid: u32, uid: u32, ret: i32, watch_id: u32,
        op: u16, syscall: u16, path_flags: u16, compat: u16,
        path_len: u32, other_len: u32, name_len: u32, base: u32, other_base: u32, pad: u32,
        comm: [u8; 16],
    }

    /// The program's options in .rodata.
    pub struct Config = "filewatch_config" {
        prefix_lens: [u64; 4],
        anchor_prefix_lens: [u64; 4],
        max_len: u32, self_tgid: u32,
        vfs_probes: u8, pad: [u8; 7],
        sys: syscalls::Table,
    }

    /// `struct filewatch_fail_key`.
    pub struct FailKey = "filewatch_fail_key" {
        uid: u32, watch_id: u32,
        op: u16, pad: u16,
        ret: i32,
    }

    /// `struct filewatch_fail`.
    pub struct Fail = "filewatch_fail" {
        count: u64, sent: u64, first_ns: u64, last_ns: u64,
        pid: u32, syscall: u32,
        comm: [u8; 16],
    }
}

/// The options the BPF side needs from a watch list: which prefix lengths to look up, in
/// absolute names and below anchors, and the longest key.
pub fn config_of(list: &[Watch]) -> Config {
    let mut c = Config::default();
    let mut keys: Vec<watch::Key> = list.iter().flat_map(Watch::keys).collect();
    for w in list {
        // The anchor is not known yet: any directory above the entry may be one.
        let mut p: &[u8] = &w.bytes;
        loop {
            p = watch::parent(p);
            keys.extend(w.anchor_keys(p, 1));
            if p == b"/" {
                break;
            }
        }
    }
    for k in keys {
        if k.kind == watch::PREFIX {
            let lens = if k.anchor == 0 {
                &mut c.prefix_lens
            } else {
                &mut c.anchor_prefix_lens
            };
            lens[k.len as usize / 64] |= 1 << (k.len % 64);
        }
        c.max_len = c.max_len.max(k.len);
    }
    c.self_tgid = std::process::id();
    c.sys = table();
    c
}

#[derive(FromArgs, Debug)]
/// Alert when watched paths are opened, unlinked or renamed, by any process and under any name,
/// with who did it and the result. PATH is exact (/etc/shadow), a directory and all below it
/// (/etc/ssh/), or a prefix (/etc/ssh/ssh_host_*). Without paths: /etc/shadow, /etc/gshadow,
/// /etc/sudoers, /etc/sudoers.d/ and /etc/ssh/ssh_host_*.
pub struct Args {
    /// read paths to watch from FILE, one per line (# comments; at most 64 KiB and 4096
    /// lines); may be repeated
    #[argh(option, short = 'f')]
    pub file: Vec<String>,
    /// paths to watch (at most 64, each at most 255 bytes once canonical)
    #[argh(positional)]
    pub paths: Vec<String>,
}

/// Decodes alerts, confirms them against the list, and prints them.
pub struct Filewatch {
    list: Vec<Watch>,
    objects: Objects,
    /// Kernel matches the bytes did not confirm (hash collisions): dropped.
    pub unconfirmed: u64,
    /// The hooks picked: what the `-v` line says is watched how.
    io_uring: bool,
    vfs: bool,
    path: Vec<u8>,
    other: Vec<u8>,
}

impl Tool for Filewatch {
    type Args = Args;
    const DURATION_SHORT: Option<char> = Some('d');
    fn new(args: Args, _: &Common) -> Result<Self> {
        let list = watch_list(&args.paths, &args.file, DEFAULT_WATCHES)?;
        Ok(Filewatch::with_list(list))
    }
}

impl Filewatch {
    pub fn with_list(list: Vec<Watch>) -> Filewatch {
        Filewatch {
            list,
            objects: Objects::default(),
            unconfirmed: 0,
            io_uring: false,
            vfs: false,
            path: Vec::with_capacity(512),
            other: Vec::with_capacity(512),
        }
    }
}

impl Handler for Filewatch {
    fn configure(&mut self, obj: &mut Object, plan: &Plan) -> Result<()> {
        self.io_uring = plan.programs().any(|p| p == "tp_uring_complete");
        // Unlinks and renames by dentry only when both hooks are there.
        self.vfs = plan.programs().any(|p| p == "kp_d_delete")
            && plan.programs().any(|p| p == "kp_d_move");
        let mut c = config_of(&self.list);
        c.vfs_probes = self.vfs as u8;
        obj.set_config(&c)
    }

    fn attached(&mut self, obj: &mut Object) -> Result<()> {
        self.objects.sync(obj, &self.list)?;
        Ok(())
    }

    fn note(&self) -> String {
        let names: Vec<String> = self
            .list
            .iter()
            .map(|w| String::from_utf8_lossy(&w.text).into_owned())
            .collect();
        let mut s = format!("watching {}; {}", names.join(" "), self.objects.describe());
        if !self.io_uring {
            s.push_str("; io_uring requests not watched (no io_uring_complete tracepoint here)");
        }
        if !self.vfs {
            s.push_str("; removals and renames by the watched files' dentries and by name");
        }
        if let Some(note) = table().note() {
            let _ = write!(s, "; {note}");
        }
        s
    }

    fn header(&mut self, out: &mut Out) {
        if !out.json() {
            out.push("TIME     PID     PPID    UID    COMM             OP      RET PATH\n");
        }
    }

    fn rings(&self) -> Vec<String> {
        vec!["events".to_string(), "failures".to_string()]
    }

    fn record(&mut self, _: usize, data: &[u8], out: &mut Out) {
        self.event(data, out);
    }

    fn schedule(&self) -> Option<IntervalOptions> {
        // Not an interval tool: the ticks report folded failures and follow the files.
        Some(IntervalOptions::every_second_or(None, None))
    }

    fn report(&mut self, obj: &Object, tick: &Tick, out: &mut Out) -> Result<()> {
        self.failures(obj, tick, out)?;
        if !tick.last {
            self.objects.sync(obj, &self.list)?;
        }
        Ok(())
    }

    fn lost_reason(&self) -> &'static str {
        "ring buffer full"
    }
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
    let i = (n as usize).wrapping_sub(1);
    SYSCALLS
        .get(i)
        .or_else(|| NOT_SYSCALLS.get(i.wrapping_sub(SYSCALLS.len())))
        .unwrap_or(&"unknown")
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

/// `head` and the path below it (`tail`, from the kernel: `/a/b`, or empty) into `out`.
fn compose(out: &mut Vec<u8>, head: &[u8], tail: &[u8]) {
    out.clear();
    if head != b"/" || tail.is_empty() {
        out.extend_from_slice(head);
    }
    out.extend_from_slice(tail);
}

impl Filewatch {
    fn event(&mut self, data: &[u8], out: &mut Out) {
        let Some(head) = pod::read::<EventHead>(data) else {
            return;
        };
        // Packed one after the other.
        let mut at = std::mem::size_of::<EventHead>();
        let mut take = |len: u32, max: usize| {
            let a = at.min(data.len());
            let b = (a + (len as usize).min(max)).min(data.len());
            at = b;
            &data[a..b]
        };
        let path = take(head.path_len, PATH_BUF);
        let other = take(head.other_len, PATH_BUF);
        let name = take(head.name_len, NAME_BUF);
        let undecided = head.path_flags & P_UNDECIDED != 0 && head.watch_id == u32::MAX;
        let watch = self.list.get(head.watch_id as usize);
        if watch.is_none() && !undecided {
            self.unconfirmed += 1;
            log::debug!(
                "dropped a kernel match on entry {} of {}",
                head.watch_id,
                self.list.len()
            );
            return;
        }
        let mut p = std::mem::take(&mut self.path);
        if head.path_flags & P_FILE != 0 && head.base != 0 {
            let base = self.objects.path_of(head.base).unwrap_or(b"?");
            compose(&mut p, base, path);
        } else {
            compose(&mut p, b"", path);
            // A name match the bytes must confirm (a hash collision could fake it).
            if let Some(w) = watch {
                if !w.matches(&p) {
                    self.unconfirmed += 1;
                    log::debug!(
                        "dropped a kernel match of {:?} on {:?} (hash collision)",
                        String::from_utf8_lossy(&p),
                        String::from_utf8_lossy(&w.text)
                    );
                    self.path = p;
                    return;
                }
            }
        }
        let mut o = std::mem::take(&mut self.other);
        compose(&mut o, b"", other);
        let text: &[u8] = watch.map_or(b"", |w| &w.text);
        if out.json() {
            json(&head, &p, &o, name, text, out);
        } else {
            self.text(&head, &p, &o, out);
        }
        self.path = p;
        self.other = o;
    }

    fn text(&self, e: &EventHead, path: &[u8], other: &[u8], out: &mut Out) {
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
            if e.op == 4 && !other.is_empty() {
                s.push_str(" -> ");
                push_escaped(&mut s, other);
            }
        }
        s.push('\n');
        out.put_line(s);
    }

    /// Failed calls the kernel counted but did not send, since the last report: one line per
    /// kind (uid, entry, operation, error).
    fn failures(&self, obj: &Object, tick: &Tick, out: &mut Out) -> Result<()> {
        let rows = maps::drain_hash::<FailKey, Fail>(obj, "fails")?;
        for (k, v) in rows {
            let folded = v.count.saturating_sub(v.sent);
            if folded == 0 {
                continue;
            }
            let text: &[u8] = self
                .list
                .get(k.watch_id as usize)
                .map_or(b"", |w| &w.text);
            if out.json() {
                out.event("failures", tick.end_ns)
                    .u64("uid", k.uid.into())
                    .bytes("watch", text)
                    .str("op", op_name(k.op))
                    .i64("ret", k.ret.into())
                    .u64("count", folded)
                    .u64("last_pid", v.pid.into())
                    .bytes("last_comm", cstr(&v.comm))
                    .str("last_syscall", syscall_name(v.syscall as u16))
                    .u64("last_ns", v.last_ns)
                    .end();
            } else {
                let mut s = out.take_line();
                out.push_hms(&mut s, tick.end_ns);
                let _ = write!(s, " {:<7} {:<7} {:<6} ", v.pid, "-", k.uid);
                push_escaped_left(&mut s, cstr(&v.comm), 16);
                let _ = write!(s, " {:<6} {:>4} ", op_name(k.op), k.ret);
                push_escaped(&mut s, text);
                let _ = writeln!(s, " (and {folded} more like it, counted)");
                out.put_line(s);
            }
        }
        Ok(())
    }
}

fn json(e: &EventHead, path: &[u8], other: &[u8], name: &[u8], watch: &[u8], out: &mut Out) {
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
        .str("abi", syscalls::abi(e.compat != 0).name)
        .bytes("path", path)
        .bytes("name", name)
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
        .bool(
            "path_incomplete",
            e.path_flags & (P_CUT | P_OTHER_CUT | P_UNDECIDED) != 0,
        );
    if e.op == 4 && !other.is_empty() {
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
