//! Addresses to names, for the stack tools: kernel addresses through /proc/kallsyms
//! ([`crate::ksyms`]), user addresses through the process's mappings (/proc/PID/maps) and
//! the symbol tables of each mapped file ([`crate::elf`]).
//!
//! A user address becomes a file offset through its mapping, and a file offset an ELF
//! virtual address through the file's load segments: that covers executables (PIE or not)
//! and shared objects at any load bias alike. A stripped file still has `.dynsym`; an address
//! no symbol holds is `[unknown]`, reported with its module and address in it, and the
//! module's build id goes with the JSON so that a workstation can symbolize it later.
//!
//! Everything is resolved in batches and remembered: every address once per run. A process's
//! mappings are read when the tool first hears of it under a name ([`Symbolizer::snapshot`],
//! from a record the BPF side sends at a process's first sample, and again after an exec
//! renamed it), and once more at the report for the processes still alive: a process that
//! exited before the report is still symbolized, with the mappings it had when first seen
//! (libraries it loaded later, with dlopen(), are then `[unknown]`).

use std::collections::HashMap;
use std::path::Path;

use crate::elf::{self, Elf};
use crate::ksyms::{self, Ksym, Status};

/// One executable mapping of a process.
#[derive(Debug, Clone)]
struct Mapping {
    start: u64,
    end: u64,
    offset: u64,
    module: u32,
}

/// A mapped file, known by its path.
#[derive(Debug, Clone)]
pub struct Module {
    pub path: String,
    pub build_id: Option<Vec<u8>>,
    /// Could it be opened as ELF (once tried)?
    opened: Option<bool>,
    /// Whether it has a full `.symtab` (else only `.dynsym`).
    pub symtab: bool,
}

/// What an address resolved to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Resolved {
    name: Option<String>,
    offset: u64,
    /// User: the module's index; kernel: None (or a module name below).
    module: Option<u32>,
    /// Kernel module name, for kernel addresses in modules.
    kmodule: Option<String>,
    /// User: the address in the module's ELF file (what `addr2line -e MODULE` takes).
    vaddr: Option<u64>,
}

/// One frame, ready to print.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    pub addr: u64,
    /// The function, if known.
    pub symbol: Option<&'a str>,
    /// How far into the function.
    pub offset: u64,
    /// `[kernel]`, a kernel module's name, a file's path, `[vdso]`, `[unknown]`.
    pub module: &'a str,
    /// User frames: the address inside the module's ELF file.
    pub vaddr: Option<u64>,
    pub kernel: bool,
}

/// Names kernel and user addresses, caching every answer.
#[derive(Default)]
pub struct Symbolizer {
    /// Snapshots of each process's mappings, oldest first, with the name it had then.
    procs: HashMap<u32, Vec<Snapshot>>,
    modules: Vec<Module>,
    kernel: HashMap<u64, Resolved>,
    user: HashMap<(u32, u64), Resolved>,
    kstatus: Option<Status>,
}

struct Snapshot {
    comm: Vec<u8>,
    maps: Vec<Mapping>,
}

/// A user address to name: (file offset or ELF address, (pid, address)).
type Query = (u64, (u32, u64));

/// Pseudo modules of mappings without a file.
const UNKNOWN: &str = "[unknown]";

impl Symbolizer {
    pub fn new() -> Symbolizer {
        Symbolizer::default()
    }

    /// Reads the executable mappings of process `pid`, named `comm`, now, unless read under
    /// that name already: call it as soon as the process is heard of, so that it is
    /// symbolized even if it exits.
    pub fn snapshot(&mut self, pid: u32, comm: &[u8]) {
        let known = self
            .procs
            .get(&pid)
            .is_some_and(|v| v.iter().any(|s| s.comm == comm));
        if pid != 0 && !known {
            self.read_maps(pid, comm);
        }
    }

    /// Reads the mappings of `pid` again if it is still alive (at a report).
    pub fn refresh(&mut self, pid: u32) {
        let comm = std::fs::read(format!("/proc/{pid}/comm")).unwrap_or_default();
        let comm = comm.strip_suffix(b"\n").unwrap_or(&comm).to_vec();
        if pid != 0 && !comm.is_empty() {
            self.read_maps(pid, &comm);
        }
    }

    fn read_maps(&mut self, pid: u32, comm: &[u8]) {
        let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/maps")) else {
            log::trace!("mappings of pid {pid}: gone");
            return;
        };
        let maps = self.parse_maps(&text);
        log::trace!("mappings of pid {pid}: {} executable", maps.len());
        self.procs.entry(pid).or_default().push(Snapshot {
            comm: comm.to_vec(),
            maps,
        });
    }

    /// The mapping holding `addr` in process `pid` named `comm`: in a snapshot taken under
    /// that name, newest first, else in any.
    fn mapping(&self, pid: u32, comm: &[u8], addr: u64) -> Option<Mapping> {
        let snaps = self.procs.get(&pid)?;
        let find = |s: &Snapshot| {
            s.maps
                .iter()
                .find(|m| addr >= m.start && addr < m.end)
                .cloned()
        };
        let named = snaps.iter().rev().filter(|s| s.comm == comm);
        named
            .filter_map(find)
            .next()
            .or_else(|| snaps.iter().rev().find_map(find))
    }

    fn module_index(&mut self, path: &str) -> u32 {
        if let Some(i) = self.modules.iter().position(|m| m.path == path) {
            return i as u32;
        }
        self.modules.push(Module {
            path: path.to_string(),
            build_id: None,
            opened: None,
            symtab: false,
        });
        (self.modules.len() - 1) as u32
    }

    fn parse_maps(&mut self, text: &str) -> Vec<Mapping> {
        let mut out = Vec::new();
        for line in text.lines() {
            let mut it = line.split_ascii_whitespace();
            let (Some(range), Some(perms), Some(off)) = (it.next(), it.next(), it.next()) else {
                continue;
            };
            if !perms.contains('x') {
                continue;
            }
            let (_dev, _ino) = (it.next(), it.next());
            let path: String = it.collect::<Vec<_>>().join(" ");
            let Some((a, b)) = range.split_once('-') else {
                continue;
            };
            let (Ok(start), Ok(end), Ok(offset)) = (
                u64::from_str_radix(a, 16),
                u64::from_str_radix(b, 16),
                u64::from_str_radix(off, 16),
            ) else {
                continue;
            };
            let path = if path.is_empty() {
                "[anon]".to_string()
            } else {
                path
            };
            let module = self.module_index(&path);
            out.push(Mapping {
                start,
                end,
                offset,
                module,
            });
        }
        out
    }

    /// Names every address of `kernel` and `user` (pid, address) not named yet: one pass over
    /// kallsyms, one over each module's symbols.
    pub fn resolve(
        &mut self,
        kernel: impl IntoIterator<Item = u64>,
        user: impl IntoIterator<Item = (u32, [u8; 16], u64)>,
    ) {
        let mut k: Vec<u64> = kernel
            .into_iter()
            .filter(|a| !self.kernel.contains_key(a))
            .collect();
        crate::sort::sort_by(&mut k, |a, b| a.cmp(b));
        k.dedup();
        if !k.is_empty() {
            match ksyms::resolve(&k) {
                Ok(r) => {
                    self.kstatus = Some(Status::Available);
                    for (a, s) in k.iter().zip(r) {
                        self.kernel.insert(*a, kernel_resolved(s));
                    }
                }
                Err(status) => {
                    for a in &k {
                        self.kernel.insert(*a, Resolved::default());
                    }
                    self.kstatus = Some(status);
                }
            }
        }
        // User addresses, grouped by module as ELF addresses.
        let mut by_module: HashMap<u32, Vec<Query>> = HashMap::new();
        for (pid, comm, addr) in user {
            if self.user.contains_key(&(pid, addr)) {
                continue;
            }
            let comm = crate::output::cstr(&comm);
            if !self.procs.contains_key(&pid) {
                self.snapshot(pid, comm);
            }
            let Some(m) = self.mapping(pid, comm, addr) else {
                self.user.insert((pid, addr), Resolved::default());
                continue;
            };
            let file_off = addr - m.start + m.offset;
            by_module
                .entry(m.module)
                .or_default()
                .push((file_off, (pid, addr)));
        }
        for (module, queries) in by_module {
            self.resolve_module(module, queries);
        }
    }

    fn resolve_module(&mut self, module: u32, queries: Vec<Query>) {
        let path = self.modules[module as usize].path.clone();
        let unresolved = |s: &mut Symbolizer, vaddr: Option<u64>, key| {
            s.user.insert(
                key,
                Resolved {
                    module: Some(module),
                    vaddr,
                    ..Default::default()
                },
            );
        };
        let elf = if path.starts_with('/') {
            Elf::open(Path::new(path.trim_end_matches(" (deleted)"))).ok()
        } else {
            None
        };
        let m = &mut self.modules[module as usize];
        if m.opened.is_none() {
            m.opened = Some(elf.is_some());
            if let Some(e) = &elf {
                m.build_id = e.build_id();
                m.symtab = e.has_symtab();
            }
        }
        let Some(elf) = elf else {
            for (off, key) in queries {
                unresolved(self, Some(off), key);
            }
            return;
        };
        let mut vaddrs: Vec<Query> = queries
            .into_iter()
            .map(|(off, key)| (elf.offset_to_vaddr(off).unwrap_or(off), key))
            .collect();
        crate::sort::sort_by(&mut vaddrs, |a, b| a.0.cmp(&b.0));
        let mut uniq: Vec<u64> = vaddrs.iter().map(|v| v.0).collect();
        uniq.dedup();
        let names = elf.resolve(&uniq);
        for (vaddr, key) in vaddrs {
            let i = uniq.partition_point(|&u| u < vaddr);
            match names.get(i).cloned().flatten() {
                Some((name, offset)) => {
                    self.user.insert(
                        key,
                        Resolved {
                            name: Some(name),
                            offset,
                            module: Some(module),
                            kmodule: None,
                            vaddr: Some(vaddr),
                        },
                    );
                }
                None => unresolved(self, Some(vaddr), key),
            }
        }
    }

    /// Whether kernel frames could be named (after a [`Symbolizer::resolve`] with kernel
    /// addresses).
    pub fn kernel_status(&self) -> Status {
        self.kstatus.clone().unwrap_or_else(ksyms::status)
    }

    /// The frame of kernel address `addr` (resolved before).
    pub fn kernel_frame(&self, addr: u64) -> Frame<'_> {
        let r = self.kernel.get(&addr);
        Frame {
            addr,
            symbol: r.and_then(|r| r.name.as_deref()),
            offset: r.map_or(0, |r| r.offset),
            module: r.and_then(|r| r.kmodule.as_deref()).unwrap_or(
                if r.is_some_and(|r| r.name.is_some()) {
                    "[kernel]"
                } else {
                    UNKNOWN
                },
            ),
            vaddr: None,
            kernel: true,
        }
    }

    /// The frame of user address `addr` in process `pid` (resolved before).
    pub fn user_frame(&self, pid: u32, addr: u64) -> Frame<'_> {
        let r = self.user.get(&(pid, addr));
        Frame {
            addr,
            symbol: r.and_then(|r| r.name.as_deref()),
            offset: r.map_or(0, |r| r.offset),
            module: r
                .and_then(|r| r.module)
                .map_or(UNKNOWN, |m| self.modules[m as usize].path.as_str()),
            vaddr: r.and_then(|r| r.vaddr),
            kernel: false,
        }
    }

    /// The modules that user frames were found in, for the build ids.
    pub fn modules(&self) -> impl Iterator<Item = &Module> {
        self.modules.iter().filter(|m| m.opened.is_some())
    }

    /// Did the process's mappings get read?
    pub fn knows(&self, pid: u32) -> bool {
        self.procs.get(&pid).is_some_and(|m| !m.is_empty())
    }
}

fn kernel_resolved(s: Option<Ksym>) -> Resolved {
    match s {
        Some(k) => Resolved {
            name: Some(k.name),
            offset: k.offset,
            module: None,
            kmodule: k.module,
            vaddr: None,
        },
        None => Resolved::default(),
    }
}

impl Frame<'_> {
    /// The name as BCC prints it: the function, or `[unknown]`.
    pub fn name(&self) -> &str {
        self.symbol.unwrap_or(UNKNOWN)
    }

    /// The text-mode line: the function, or `[unknown] (module+0xaddr)` so that an address no
    /// symbol holds can still be looked up.
    pub fn push_text(&self, s: &mut String) {
        use std::fmt::Write as _;
        match self.symbol {
            Some(n) => s.push_str(n),
            None if self.kernel => {
                let _ = write!(s, "{UNKNOWN} (0x{:x})", self.addr);
            }
            None => {
                let _ = write!(
                    s,
                    "{UNKNOWN} ({}+0x{:x})",
                    self.module,
                    self.vaddr.unwrap_or(self.addr)
                );
            }
        }
    }

    /// The frame as a JSON object (docs/json.md, "Stacks").
    pub fn json(&self, o: &mut crate::json::Obj) {
        o.u64("addr", self.addr);
        if let Some(n) = self.symbol {
            o.str("symbol", n).u64("offset", self.offset);
        }
        o.str("module", self.module);
        if let Some(v) = self.vaddr {
            o.u64("vaddr", v);
        }
    }
}

/// Hex of a module's build id, for JSON.
pub fn build_id_hex(m: &Module) -> Option<String> {
    m.build_id.as_deref().map(elf::hex)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[inline(never)]
    fn marker_function() -> u64 {
        std::hint::black_box(marker_function as fn() -> u64 as usize as u64)
    }

    #[test]
    fn own_process() {
        let addr = marker_function();
        let me = std::process::id();
        let mut s = Symbolizer::new();
        s.snapshot(me, b"x");
        assert!(s.knows(me));
        let c = [0u8; 16];
        s.resolve([], [(me, c, addr + 1), (me, c, 8)]);
        let f = s.user_frame(me, addr + 1);
        assert!(f.name().contains("marker_function"), "{f:?}");
        assert_eq!(f.offset, 1);
        assert!(
            f.module.ends_with(
                &*std::env::current_exe()
                    .unwrap()
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
            ) || f.module.contains("deps"),
            "{f:?}"
        );
        let u = s.user_frame(me, 8);
        assert_eq!((u.name(), u.module), ("[unknown]", "[unknown]"));
        let mut t = String::new();
        u.push_text(&mut t);
        assert_eq!(t, "[unknown] ([unknown]+0x8)");
    }
}
