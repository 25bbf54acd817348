//! A minimal ELF reader: the function symbols of `.symtab` and `.dynsym`, the load segments
//! (file offset to virtual address, the load bias of PIE and shared objects), the GNU build
//! id and the `DT_NEEDED` libraries. Little-endian ELF32 and ELF64, which covers every board
//! we build for (arm64, armv7, x86_64).
//!
//! Files are mapped, not read: only the pages of the headers and symbol tables become
//! resident, and they are clean file pages the kernel can drop. A general ELF crate would do
//! more (relocations, DWARF, big-endian) and cost tens of kilobytes of a binary that must
//! stay small; symbolization needs only these few tables.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::Path;

const PT_LOAD: u32 = 1;
const PT_NOTE: u32 = 4;
const SHT_SYMTAB: u32 = 2;
const SHT_NOTE: u32 = 7;
const SHT_DYNAMIC: u32 = 6;
const SHT_DYNSYM: u32 = 11;
const STT_FUNC: u8 = 2;
const STT_GNU_IFUNC: u8 = 10;
const NT_GNU_BUILD_ID: u32 = 3;
const DT_NEEDED: u64 = 1;
const EM_ARM: u16 = 40;
/// e_type of a position-independent executable or a shared object.
pub const ET_DYN: u16 = 3;

/// The bytes of a file, mapped read-only (or owned, for tests).
enum Data {
    Mapped { ptr: *mut libc::c_void, len: usize },
    Owned(Vec<u8>),
}

impl Data {
    fn bytes(&self) -> &[u8] {
        match self {
            // SAFETY: a private read-only mapping of `len` bytes that lives as long as self.
            Data::Mapped { ptr, len } => unsafe {
                std::slice::from_raw_parts(*ptr as *const u8, *len)
            },
            Data::Owned(v) => v,
        }
    }
}

impl Drop for Data {
    fn drop(&mut self) {
        if let Data::Mapped { ptr, len } = *self {
            // SAFETY: unmapping our own mapping once.
            unsafe { libc::munmap(ptr, len) };
        }
    }
}

/// A function symbol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sym<'a> {
    pub name: &'a [u8],
    pub value: u64,
    pub size: u64,
    /// An indirect function (its resolver runs once; the implementation it picks is called).
    pub ifunc: bool,
}

/// An ELF file, parsed enough to read its symbols and segments.
pub struct Elf {
    data: Data,
    is64: bool,
    pub machine: u16,
    pub e_type: u16,
}

/// A section header, the fields we use.
#[derive(Clone, Copy)]
struct Section {
    ty: u32,
    offset: u64,
    size: u64,
    link: u32,
    entsize: u64,
}

fn rd(b: &[u8], off: usize, n: usize) -> Option<u64> {
    let s = b.get(off..off.checked_add(n)?)?;
    let mut v = 0u64;
    for (i, &x) in s.iter().enumerate() {
        v |= (x as u64) << (8 * i);
    }
    Some(v)
}

impl Elf {
    /// Maps and checks `path`. Err: not readable, or not a little-endian ELF file.
    pub fn open(path: &Path) -> std::io::Result<Elf> {
        let f = File::open(path)?;
        let len = f.metadata()?.len() as usize;
        if len < 52 {
            return Err(std::io::Error::other("too short for ELF"));
        }
        // SAFETY: a fresh private read-only mapping of the whole file; checked for failure.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                f.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        Elf::new(Data::Mapped { ptr, len })
    }

    /// Parses ELF bytes held in memory.
    pub fn from_bytes(bytes: Vec<u8>) -> std::io::Result<Elf> {
        Elf::new(Data::Owned(bytes))
    }

    fn new(data: Data) -> std::io::Result<Elf> {
        let b = data.bytes();
        if b.len() < 52 || &b[..4] != b"\x7fELF" || b[5] != 1 {
            return Err(std::io::Error::other("not a little-endian ELF file"));
        }
        let is64 = match b[4] {
            1 => false,
            2 if b.len() >= 64 => true,
            _ => return Err(std::io::Error::other("unknown ELF class")),
        };
        let e_type = rd(b, 16, 2).unwrap_or(0) as u16;
        let machine = rd(b, 18, 2).unwrap_or(0) as u16;
        Ok(Elf {
            data,
            is64,
            machine,
            e_type,
        })
    }

    fn b(&self) -> &[u8] {
        self.data.bytes()
    }

    /// (offset, entry size, count) of a header table, from the ELF header's fields at `at64`
    /// (ELF64) or `at32` (ELF32): the offset is a word, the others half-words; 0 when the
    /// file is too short.
    fn table(&self, at64: [usize; 3], at32: [usize; 3]) -> (usize, usize, usize) {
        let (at, word) = if self.is64 { (at64, 8) } else { (at32, 4) };
        let b = self.b();
        let field = |off, len| rd(b, off, len).unwrap_or(0) as usize;
        (field(at[0], word), field(at[1], 2), field(at[2], 2))
    }

    /// (type, offset, vaddr, filesz) of every program header.
    fn segments(&self) -> impl Iterator<Item = (u32, u64, u64, u64)> + '_ {
        let b = self.b();
        let (phoff, entsize, num) = self.table([32, 54, 56], [28, 42, 44]);
        (0..num).filter_map(move |i| {
            let p = phoff.checked_add(i.checked_mul(entsize)?)?;
            let ty = rd(b, p, 4)? as u32;
            if self.is64 {
                Some((ty, rd(b, p + 8, 8)?, rd(b, p + 16, 8)?, rd(b, p + 32, 8)?))
            } else {
                Some((ty, rd(b, p + 4, 4)?, rd(b, p + 8, 4)?, rd(b, p + 16, 4)?))
            }
        })
    }

    fn sections(&self) -> Vec<Section> {
        let b = self.b();
        let (shoff, entsize, num) = self.table([40, 58, 60], [32, 46, 48]);
        (0..num)
            .filter_map(|i| {
                let s = shoff.checked_add(i.checked_mul(entsize)?)?;
                let (w, at) = if self.is64 {
                    (8, [24, 32, 40, 56])
                } else {
                    (4, [16, 20, 24, 36])
                };
                Some(Section {
                    ty: rd(b, s + 4, 4)? as u32,
                    offset: rd(b, s + at[0], w)?,
                    size: rd(b, s + at[1], w)?,
                    link: rd(b, s + at[2], 4)? as u32,
                    entsize: rd(b, s + at[3], w)?,
                })
            })
            .collect()
    }

    fn section_bytes(&self, s: &Section) -> &[u8] {
        let b = self.b();
        let start = (s.offset as usize).min(b.len());
        let end = start.saturating_add(s.size as usize).min(b.len());
        &b[start..end]
    }

    /// Does the file have a full symbol table (not stripped)?
    pub fn has_symtab(&self) -> bool {
        self.sections().iter().any(|s| s.ty == SHT_SYMTAB)
    }

    /// Calls `f` with every defined function symbol of `.symtab`, then of `.dynsym` (the same
    /// function may come twice).
    pub fn for_each_function(&self, mut f: impl FnMut(Sym<'_>)) {
        let secs = self.sections();
        for want in [SHT_SYMTAB, SHT_DYNSYM] {
            for s in secs.iter().filter(|s| s.ty == want) {
                let Some(strtab) = secs.get(s.link as usize) else {
                    continue;
                };
                let (syms, strs) = (self.section_bytes(s), self.section_bytes(strtab));
                let ent = if s.entsize > 0 {
                    s.entsize as usize
                } else if self.is64 {
                    24
                } else {
                    16
                };
                for e in syms.chunks_exact(ent) {
                    let (name, info, shndx, value, size) = if self.is64 {
                        (
                            rd(e, 0, 4),
                            rd(e, 4, 1),
                            rd(e, 6, 2),
                            rd(e, 8, 8),
                            rd(e, 16, 8),
                        )
                    } else {
                        (
                            rd(e, 0, 4),
                            rd(e, 12, 1),
                            rd(e, 14, 2),
                            rd(e, 4, 4),
                            rd(e, 8, 4),
                        )
                    };
                    let (Some(name), Some(info), Some(shndx), Some(mut value), Some(size)) =
                        (name, info, shndx, value, size)
                    else {
                        continue;
                    };
                    let ty = (info & 0xf) as u8;
                    if (ty != STT_FUNC && ty != STT_GNU_IFUNC) || shndx == 0 || value == 0 {
                        continue;
                    }
                    if self.machine == EM_ARM {
                        value &= !1; // the Thumb bit
                    }
                    let name = cstr_at(strs, name as usize);
                    if name.is_empty() {
                        continue;
                    }
                    f(Sym {
                        name,
                        value,
                        size,
                        ifunc: ty == STT_GNU_IFUNC,
                    });
                }
            }
        }
    }

    /// The virtual address (as the symbols give them) of file offset `off`, through the load
    /// segment that holds it.
    pub fn offset_to_vaddr(&self, off: u64) -> Option<u64> {
        self.segments()
            .find(|&(ty, o, _, sz)| ty == PT_LOAD && off >= o && off < o + sz)
            .map(|(_, o, v, _)| off - o + v)
    }

    /// The file offset of virtual address `vaddr`.
    pub fn vaddr_to_offset(&self, vaddr: u64) -> Option<u64> {
        self.segments()
            .find(|&(ty, _, v, sz)| ty == PT_LOAD && vaddr >= v && vaddr < v + sz)
            .map(|(_, o, v, _)| vaddr - v + o)
    }

    /// The GNU build id (`.note.gnu.build-id`), if the linker wrote one.
    pub fn build_id(&self) -> Option<Vec<u8>> {
        let b = self.b();
        let from_segments = self
            .segments()
            .filter(|s| s.0 == PT_NOTE)
            .map(|(_, o, _, sz)| (o, sz))
            .collect::<Vec<_>>();
        let from_sections = self
            .sections()
            .iter()
            .filter(|s| s.ty == SHT_NOTE)
            .map(|s| (s.offset, s.size))
            .collect::<Vec<_>>();
        for (off, size) in from_segments.into_iter().chain(from_sections) {
            let start = (off as usize).min(b.len());
            let notes = &b[start..start.saturating_add(size as usize).min(b.len())];
            let mut p = 0usize;
            while p + 12 <= notes.len() {
                let namesz = rd(notes, p, 4)? as usize;
                let descsz = rd(notes, p + 4, 4)? as usize;
                let ty = rd(notes, p + 8, 4)? as u32;
                let name_at = p + 12;
                let desc_at = name_at.checked_add(namesz.checked_add(3)? & !3)?;
                let end = desc_at.checked_add(descsz.checked_add(3)? & !3)?;
                if ty == NT_GNU_BUILD_ID && notes.get(name_at..name_at + namesz) == Some(b"GNU\0") {
                    return notes.get(desc_at..desc_at + descsz).map(<[u8]>::to_vec);
                }
                p = end;
            }
        }
        None
    }

    /// The libraries the file needs (`DT_NEEDED`), as written (`libreadline.so.8`).
    pub fn needed(&self) -> Vec<String> {
        let secs = self.sections();
        let mut out = Vec::new();
        for s in secs.iter().filter(|s| s.ty == SHT_DYNAMIC) {
            let Some(strtab) = secs.get(s.link as usize) else {
                continue;
            };
            let strs = self.section_bytes(strtab);
            let w = if self.is64 { 8 } else { 4 };
            for e in self.section_bytes(s).chunks_exact(2 * w) {
                if rd(e, 0, w) == Some(DT_NEEDED) {
                    let off = rd(e, w, w).unwrap_or(0) as usize;
                    out.push(String::from_utf8_lossy(cstr_at(strs, off)).into_owned());
                }
            }
        }
        out
    }

    /// For each of `vaddrs` (sorted ascending), the function that holds it: its name and the
    /// offset into it. One pass over the symbol tables, whatever the number of addresses.
    pub fn resolve(&self, vaddrs: &[u64]) -> Vec<Option<(String, u64)>> {
        // Per gap between two queried addresses, the highest symbol start in it.
        let mut best: Vec<Option<(u64, u64, Vec<u8>)>> = vec![None; vaddrs.len()];
        self.for_each_function(|s| {
            let i = vaddrs.partition_point(|&q| q < s.value);
            if i < vaddrs.len() && best[i].as_ref().is_none_or(|b| s.value > b.0) {
                best[i] = Some((s.value, s.size, s.name.to_vec()));
            }
        });
        let mut out = Vec::with_capacity(vaddrs.len());
        let mut cur: Option<&(u64, u64, Vec<u8>)> = None;
        for (i, &q) in vaddrs.iter().enumerate() {
            if let Some(b) = &best[i] {
                cur = Some(b);
            }
            out.push(cur.and_then(|(start, size, name)| {
                (*size == 0 || q < start + size)
                    .then(|| (String::from_utf8_lossy(name).into_owned(), q - start))
            }));
        }
        out
    }

    /// The defined functions whose names `keep` accepts, deduplicated, with their addresses;
    /// indirect functions (resolvers) left out.
    pub fn functions_matching(&self, mut keep: impl FnMut(&str) -> bool) -> Vec<(String, u64)> {
        let mut out: Vec<(String, u64)> = Vec::new();
        self.for_each_function(|s| {
            if s.ifunc {
                return;
            }
            if let Ok(name) = std::str::from_utf8(s.name) {
                if keep(name) && !out.iter().any(|(n, _)| n == name) {
                    out.push((name.to_string(), s.value));
                }
            }
        });
        crate::sort::sort_by(&mut out, |a, b| a.0.cmp(&b.0));
        out
    }
}

/// Does the file start like an ELF file?
pub fn is_elf(path: &str) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 4];
    File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && &magic == b"\x7fELF"
}

fn cstr_at(strs: &[u8], off: usize) -> &[u8] {
    let s = strs.get(off..).unwrap_or_default();
    &s[..s.iter().position(|&c| c == 0).unwrap_or(s.len())]
}

/// Lowercase hex of a build id.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(b"0123456789abcdef"[(b >> 4) as usize]));
        s.push(char::from(b"0123456789abcdef"[(b & 0xf) as usize]));
    }
    s
}

/// Finds the file of a library or program named the way BCC's tools take them: a path
/// (anything with a `/`), a library name (`c`, `libc`, `libc.so.6`: `lib<name>.so*` in the
/// libraries `pid` has mapped, then in the usual directories), or a program on `PATH`.
pub fn find_library(name: &str, pid: Option<u32>) -> Option<String> {
    if name.contains('/') {
        return Path::new(name).exists().then(|| name.to_string());
    }
    let base = name.strip_prefix("lib").unwrap_or(name);
    let base = base.split(".so").next().unwrap_or(base);
    let matches = |file: &str| {
        let f = file.rsplit('/').next().unwrap_or(file);
        f == name
            || f.strip_prefix("lib")
                .and_then(|r| r.strip_prefix(base))
                .is_some_and(|r| r.starts_with(".so") || r.starts_with('-'))
                && f.contains(".so")
    };
    if let Some(pid) = pid {
        if let Ok(maps) = std::fs::read_to_string(format!("/proc/{pid}/maps")) {
            if let Some(p) = maps
                .lines()
                .filter_map(|l| l.split_whitespace().nth(5))
                .find(|p| p.starts_with('/') && matches(p))
            {
                return Some(p.to_string());
            }
        }
    }
    let multiarch = match std::env::consts::ARCH {
        "x86_64" => "x86_64-linux-gnu",
        "aarch64" => "aarch64-linux-gnu",
        "arm" => "arm-linux-gnueabihf",
        _ => "",
    };
    let mut dirs = vec![
        format!("/lib/{multiarch}"),
        format!("/usr/lib/{multiarch}"),
        "/lib64".to_string(),
        "/usr/lib64".to_string(),
        "/lib".to_string(),
        "/usr/lib".to_string(),
    ];
    dirs.dedup();
    for d in &dirs {
        let Ok(rd) = std::fs::read_dir(d) else {
            continue;
        };
        let mut found: Vec<String> = rd
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|f| matches(f))
            .collect();
        // The shortest name that is an ELF file: libc.so is a linker script, libc.so.6 the
        // library.
        crate::sort::sort_by(&mut found, |a, b| a.len().cmp(&b.len()).then(a.cmp(b)));
        if let Some(p) = found.iter().map(|f| format!("{d}/{f}")).find(|p| is_elf(p)) {
            return Some(p);
        }
    }
    let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/sbin:/usr/bin:/sbin:/bin".into());
    path.split(':')
        .map(|d| format!("{d}/{name}"))
        .find(|p| Path::new(p).is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_binary_and_libc() {
        // The test binary itself: an ELF with a build id and symbols (test builds keep them).
        let me = Elf::open(&std::env::current_exe().unwrap()).unwrap();
        let mut n = 0;
        me.for_each_function(|_| n += 1);
        assert!(n > 100, "{n} functions");
        let f = own_binary_and_libc as fn() as usize as u64;
        // Where this function is in the file: through /proc/self/maps.
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        let (start, off) = maps
            .lines()
            .find_map(|l| {
                let mut it = l.split_whitespace();
                let (range, perms, off) = (it.next()?, it.next()?, it.next()?);
                let (a, b) = range.split_once('-')?;
                let (a, b) = (
                    u64::from_str_radix(a, 16).ok()?,
                    u64::from_str_radix(b, 16).ok()?,
                );
                (perms.contains('x') && f >= a && f < b)
                    .then(|| (a, u64::from_str_radix(off, 16).unwrap()))
            })
            .unwrap();
        let vaddr = me.offset_to_vaddr(f - start + off).unwrap();
        let r = me.resolve(&[vaddr]);
        let (name, at) = r[0].clone().unwrap();
        assert!(name.contains("own_binary_and_libc"), "{name}");
        assert_eq!(at, 0);
        assert_eq!(me.vaddr_to_offset(vaddr), Some(f - start + off));
        if let Some(libc) = find_library("c", None) {
            let l = Elf::open(Path::new(&libc)).unwrap();
            let m = l.functions_matching(|n| n == "getpid");
            assert_eq!(m.len(), 1, "{libc}: {m:?}");
        }
    }

    #[test]
    fn not_elf() {
        assert!(Elf::from_bytes(
            b"#!/bin/sh\necho not an ELF file at all, just a script\n".to_vec()
        )
        .is_err());
        assert!(Elf::open(Path::new("/nonexistent")).is_err());
    }
}
