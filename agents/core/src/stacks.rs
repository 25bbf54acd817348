//! Stack reports, shared by the stack tools (profile, offcputime): stacks read from a
//! `BPF_MAP_TYPE_STACK_TRACE` map (`bpf/stacks.h`), named by the [`Symbolizer`], and printed
//! the way BCC prints them (frames leaf first, then `-  comm (pid)` and the value), folded
//! for flame graphs (`comm;user root..leaf;kernel root..leaf value`, what flamegraph.pl and
//! inferno read), or as JSON (docs/json.md, "Stacks").

use std::collections::HashMap;
use std::time::Duration;

use libbpf_sys as sys;

use crate::bpf::Object;
use crate::error::Result;
use crate::interval::Tick;
use crate::json::Obj;
use crate::output::{cstr, Out};
use crate::symbolize::{build_id_hex, Symbolizer};
use crate::text::push_escaped;

/// Frames per stack: STACK_MAX_DEPTH in bpf/stacks.h.
pub const MAX_DEPTH: usize = 127;
/// The stack id of a thread without a user stack (a kernel thread): no error.
pub const NO_STACK: i32 = -14;

/// `struct stack_pid_event` (bpf/stacks.h): a process seen for the first time under a name.
/// Its mappings are read now, while it lives.
pub fn on_pid_event(sym: &mut Symbolizer, data: &[u8]) {
    if let (Some(p), Some(c)) = (data.get(..4), data.get(4..20)) {
        sym.snapshot(u32::from_ne_bytes([p[0], p[1], p[2], p[3]]), cstr(c));
    }
}

/// One aggregated stack: who, which stacks, how much.
#[derive(Debug, Clone, Copy)]
pub struct Row {
    /// Process (thread group) id.
    pub pid: u32,
    /// Thread id, where the tool keys by thread.
    pub tid: Option<u32>,
    pub comm: [u8; 16],
    pub user_id: i32,
    pub kernel_id: i32,
    /// What the text and folded lines show (a count, microseconds).
    pub value: u64,
    /// What the JSON shows under [`Style::json_key`].
    pub json_value: u64,
}

/// How a report looks.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub user: bool,
    pub kernel: bool,
    pub folded: bool,
    /// A `--` (text) or `-` (folded) between the user and the kernel frames.
    pub delimited: bool,
    /// `_[k]` after kernel frames in folded output.
    pub annotate: bool,
    /// The JSON name of the value (`count`, `total_ns`).
    pub json_key: &'static str,
}

/// Reads stack `id` of the stack map `fd`: addresses, leaf first. Empty when it is gone.
fn read_stack(fd: i32, id: i32) -> Vec<u64> {
    let mut buf = [0u64; MAX_DEPTH];
    let key = id as u32;
    // SAFETY: the key is a u32 and `buf` has room for MAX_DEPTH u64, the map's value size.
    let rc = unsafe {
        sys::bpf_map_lookup_elem(
            fd,
            &key as *const u32 as *const libc::c_void,
            buf.as_mut_ptr() as *mut libc::c_void,
        )
    };
    if rc != 0 {
        return Vec::new();
    }
    buf.iter().copied().take_while(|&a| a != 0).collect()
}

/// Kernel functions of the tracing machinery that a tracepoint's stack starts with.
fn plumbing(name: &str) -> bool {
    name.starts_with("bpf_prog_")
        || name.starts_with("bpf_trace_run")
        || name.starts_with("__traceiter_")
        || name.starts_with("__bpf_trace_")
        || name == "bpf_get_stackid_raw_tp"
}

/// A stack id that means "lost", not "none" (a full stack map, a hash collision).
fn missed(id: i32) -> bool {
    id < 0 && id != NO_STACK
}

/// The stacks of `rows`, read from map `map` of `obj` and named.
pub struct Stacks {
    stacks: HashMap<i32, Vec<u64>>,
}

impl Stacks {
    /// Reads every stack the rows name and resolves their addresses in one batch. Stacks
    /// taken at a tracepoint (`at_tracepoint`) lose their leading tracing frames.
    pub fn read(
        obj: &Object,
        map: &str,
        rows: &[Row],
        sym: &mut Symbolizer,
        at_tracepoint: bool,
    ) -> Result<Stacks> {
        let fd = obj.map_fd(map)?;
        let mut stacks: HashMap<i32, Vec<u64>> = HashMap::new();
        let mut user = Vec::new();
        let mut kernel = Vec::new();
        // The processes still alive are read again: what they mapped since they were seen.
        let mut pids: Vec<u32> = rows
            .iter()
            .filter(|r| r.user_id >= 0)
            .map(|r| r.pid)
            .collect();
        crate::sort::sort_by(&mut pids, |a, b| a.cmp(b));
        pids.dedup();
        for p in pids {
            sym.refresh(p);
        }
        for r in rows {
            for (id, is_user) in [(r.user_id, true), (r.kernel_id, false)] {
                if id < 0 {
                    continue;
                }
                let s = stacks.entry(id).or_insert_with(|| read_stack(fd, id));
                if is_user {
                    user.extend(s.iter().map(|&a| (r.pid, r.comm, a)));
                } else {
                    kernel.extend(s.iter().copied());
                }
            }
        }
        sym.resolve(kernel, user);
        // A stack taken at a tracepoint starts in the tracing itself (the BPF program,
        // bpf_trace_run2, __traceiter_*): what is traced starts below.
        let kernel_ids: Vec<i32> = rows
            .iter()
            .map(|r| r.kernel_id)
            .filter(|&i| i >= 0 && at_tracepoint)
            .collect();
        for id in kernel_ids {
            if let Some(s) = stacks.get_mut(&id) {
                let skip = s
                    .iter()
                    .take_while(|&&a| sym.kernel_frame(a).symbol.is_some_and(plumbing))
                    .count();
                s.drain(..skip);
            }
        }
        Ok(Stacks { stacks })
    }

    fn get(&self, id: i32) -> &[u64] {
        self.stacks.get(&id).map_or(&[], Vec::as_slice)
    }

    /// Prints `rows` (sorted here, smallest value first as BCC does, so the largest ends up
    /// last, next to the prompt). `extra` adds the tool's fields to the JSON report.
    pub fn print(
        &self,
        rows: &mut [Row],
        sym: &Symbolizer,
        style: &Style,
        tick: &Tick,
        out: &mut Out,
        extra: impl FnOnce(&mut Obj),
    ) {
        crate::sort::sort_by(rows, |a, b| {
            a.value
                .cmp(&b.value)
                .then(a.pid.cmp(&b.pid))
                .then(a.user_id.cmp(&b.user_id))
                .then(a.kernel_id.cmp(&b.kernel_id))
        });
        if out.json() {
            self.json(rows, sym, style, tick, out, extra);
            return;
        }
        for r in rows.iter() {
            let mut s = out.take_line();
            if style.folded {
                self.folded(&mut s, r, sym, style);
            } else {
                self.text(&mut s, r, sym, style);
            }
            out.put_line(s);
            if out.flow() == crate::output::Flow::Stop {
                return;
            }
        }
    }

    fn text(&self, s: &mut String, r: &Row, sym: &Symbolizer, style: &Style) {
        use std::fmt::Write as _;
        let both = style.user && style.kernel;
        if style.kernel {
            if missed(r.kernel_id) {
                s.push_str("    [Missed Kernel Stack]\n");
            } else {
                for &a in self.get(r.kernel_id) {
                    s.push_str("    ");
                    sym.kernel_frame(a).push_text(s);
                    s.push('\n');
                }
            }
        }
        if style.user {
            if style.delimited && both && r.user_id >= 0 && r.kernel_id >= 0 {
                s.push_str("    --\n");
            }
            if missed(r.user_id) {
                s.push_str("    [Missed User Stack]\n");
            } else {
                for &a in self.get(r.user_id) {
                    s.push_str("    ");
                    sym.user_frame(r.pid, a).push_text(s);
                    s.push('\n');
                }
            }
        }
        s.push_str("    -                ");
        push_escaped(s, cstr(&r.comm));
        let _ = writeln!(s, " ({})", r.tid.unwrap_or(r.pid));
        let _ = writeln!(s, "        {}\n", r.value);
    }

    fn folded(&self, s: &mut String, r: &Row, sym: &Symbolizer, style: &Style) {
        use std::fmt::Write as _;
        let both = style.user && style.kernel;
        let comm = cstr(&r.comm);
        // The name is the first frame: no `;` in it, and something even for an empty name.
        if comm.is_empty() {
            s.push_str("[unknown]");
        } else {
            let start = s.len();
            push_escaped(s, comm);
            if s[start..].contains(';') {
                let fixed = s[start..].replace(';', "_");
                s.truncate(start);
                s.push_str(&fixed);
            }
        }
        if style.user {
            if missed(r.user_id) {
                s.push_str(";[Missed User Stack]");
            } else {
                for &a in self.get(r.user_id).iter().rev() {
                    s.push(';');
                    s.push_str(sym.user_frame(r.pid, a).name());
                }
            }
        }
        if style.kernel {
            if style.delimited && both && r.user_id >= 0 && r.kernel_id >= 0 {
                s.push_str(";-");
            }
            if missed(r.kernel_id) {
                s.push_str(";[Missed Kernel Stack]");
            } else {
                for &a in self.get(r.kernel_id).iter().rev() {
                    s.push(';');
                    s.push_str(sym.kernel_frame(a).name());
                    if style.annotate {
                        s.push_str("_[k]");
                    }
                }
            }
        }
        let _ = writeln!(s, " {}", r.value);
    }

    fn json(
        &self,
        rows: &[Row],
        sym: &Symbolizer,
        style: &Style,
        tick: &Tick,
        out: &mut Out,
        extra: impl FnOnce(&mut Obj),
    ) {
        let kstatus = sym.kernel_status();
        let mut o = out.interval(tick);
        extra(&mut o);
        if style.kernel {
            o.str("kernel_symbols", kstatus.word());
        }
        o.objects("rows", rows.iter().rev(), |j, r| {
            j.u64("pid", r.pid.into());
            if let Some(t) = r.tid {
                j.u64("tid", t.into());
            }
            j.bytes("comm", cstr(&r.comm))
                .u64(style.json_key, r.json_value);
            if style.user {
                j.bool("user_stack_missed", missed(r.user_id));
                j.objects("user_stack", self.get(r.user_id).iter(), |f, &a| {
                    sym.user_frame(r.pid, a).json(f)
                });
            }
            if style.kernel {
                j.bool("kernel_stack_missed", missed(r.kernel_id));
                j.objects("kernel_stack", self.get(r.kernel_id).iter(), |f, &a| {
                    sym.kernel_frame(a).json(f)
                });
            }
        });
        o.u64("total_rows", rows.len() as u64);
        o.objects("modules", sym.modules(), |m, module| {
            m.str("path", &module.path);
            match build_id_hex(module) {
                Some(b) => m.str("build_id", &b),
                None => m.null("build_id"),
            };
            m.bool("symtab", module.symtab);
        });
        o.end();
    }
}

/// `--stack-storage-size`: at least one stack, at most what a board can spare (each stack
/// takes 1 KB of kernel memory).
pub fn check_storage_size(n: u32) -> Result<()> {
    if !(1..=262_144).contains(&n) {
        return Err(crate::Error::usage(format!(
            "--stack-storage-size {n}: give 1..262144 stacks (each takes 1 KB of kernel memory)"
        )));
    }
    Ok(())
}

/// The `-v` note of a stack tool: which stacks, and what user stacks need.
pub fn note(style: &Style) -> String {
    match (style.user, style.kernel) {
        (true, true) => "user and kernel stacks (user stacks need frame pointers)".into(),
        (true, false) => "user stacks (they need frame pointers)".into(),
        _ => "kernel stacks".into(),
    }
}

/// The text header of a stack tool: `lead` (what is traced, of whom), which stacks, and for
/// how long, the way BCC's profile and offcputime say it.
pub fn header(lead: &str, style: &Style, duration: Option<Duration>) -> String {
    let by = match (style.user, style.kernel) {
        (true, false) => "user",
        (false, true) => "kernel",
        _ => "user + kernel",
    };
    match duration {
        Some(d) => format!("{lead} by {by} stack for {} secs.\n", d.as_secs().max(1)),
        None => format!("{lead} by {by} stack... Hit Ctrl-C to end.\n"),
    }
}

/// Reads, names and prints the stacks of `rows` from the stack map `map` of `obj`; `at_tracepoint`
/// as [`Stacks::read`], `extra` adds the tool's own fields to the JSON report.
#[allow(clippy::too_many_arguments)]
pub fn report(
    obj: &Object,
    map: &str,
    rows: &mut [Row],
    sym: &mut Symbolizer,
    style: &Style,
    at_tracepoint: bool,
    tick: &Tick,
    out: &mut Out,
    extra: impl FnOnce(&mut Obj),
) -> Result<()> {
    let st = Stacks::read(obj, map, rows, sym, at_tracepoint)?;
    warn_symbols(sym, style);
    st.print(rows, sym, style, tick, out, extra);
    Ok(())
}

/// Warns once when kernel frames could not be named (kptr_restrict, no kallsyms).
fn warn_symbols(sym: &Symbolizer, style: &Style) {
    if style.kernel {
        if let Some(p) = sym.kernel_status().problem() {
            log::warn!("{p}");
        }
    }
}
