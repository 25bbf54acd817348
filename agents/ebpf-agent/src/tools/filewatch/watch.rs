//! The watch list: entries as the user wrote them, checked and bounded, canonicalised at start
//! (and again whenever the files move), and turned into what the kernel side matches: keys of
//! absolute names, and for each entry the directory it hangs from (its anchor) with the name
//! below it.

use std::io::Read;
use std::path::Path;

use agent_core::error::EXIT_USAGE;
use agent_core::prelude::*;

/// Mirror bpf/filewatch.h.
pub const MAX_WATCHES: usize = 64;
pub const WATCH_LEN: usize = 255;
pub const EXACT: u16 = 1;
pub const PREFIX: u16 = 2;
pub const FIRST: u16 = 4;
const FNV_OFFSET: u64 = 0xcbf29ce484222325;
const FNV_PRIME: u64 = 0x100000001b3;

/// A watch-list file is read up to this many bytes and lines: 64 entries fit in far less, and
/// a device or a runaway file (`-f /dev/zero`) must not be read into memory without end.
pub const LIST_MAX_BYTES: u64 = 64 * 1024;
pub const LIST_MAX_LINES: usize = 4096;

agent_core::pod! {
    /// `struct filewatch_key`.
    pub struct Key = "filewatch_key" {
        hash: u64,
        len: u32, kind: u16, anchor: u16,
    }
}

/// FNV-1a, 64-bit: the hash the BPF side computes over a path.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(FNV_OFFSET, |h, &b| (h ^ b as u64).wrapping_mul(FNV_PRIME))
}

/// What an entry matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Exactly that path (`/etc/shadow`).
    Exact,
    /// The directory and everything below it (`/etc/sudoers.d/`).
    Dir,
    /// Every path that starts with the bytes (`/etc/ssh/ssh_host_*`).
    Prefix,
}

/// One entry of the watch list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watch {
    /// As the user wrote it (shown in alerts).
    pub text: Vec<u8>,
    /// What it names, canonical: the bytes a path must equal or start with (a directory's
    /// without its final `/`).
    pub bytes: Vec<u8>,
    pub kind: Kind,
}

impl Watch {
    /// `/etc/shadow` (exact), `/etc/ssh/` (the directory and everything under it) or
    /// `/etc/ssh/ssh_host_*` (every path that starts with `/etc/ssh/ssh_host_`), made canonical
    /// against the file system as it is now ([`canonical`]).
    pub fn parse(text: &[u8]) -> std::result::Result<Watch, String> {
        Watch::parse_with(text, &|p| canonical(p))
    }

    /// [`Watch::parse`] with `canon` making paths canonical (tests give a pure one).
    pub fn parse_with(
        text: &[u8],
        canon: &dyn Fn(&[u8]) -> Vec<u8>,
    ) -> std::result::Result<Watch, String> {
        let show = String::from_utf8_lossy(text);
        if text.first() != Some(&b'/') {
            return Err(format!(
                "watched path {show:?} is not absolute (start it with /)"
            ));
        }
        if text.contains(&0) {
            return Err(format!("watched path {show:?} holds a NUL byte"));
        }
        let (raw, kind) = match text.strip_suffix(b"*") {
            Some(head) if head.ends_with(b"/") => (head, Kind::Dir),
            Some(head) => (head, Kind::Prefix),
            None if text.ends_with(b"/") => (text, Kind::Dir),
            None => (text, Kind::Exact),
        };
        if raw.contains(&b'*') {
            return Err(format!(
                "watched path {show:?}: `*` may only end an entry (a prefix)"
            ));
        }
        let bytes = match kind {
            // The partial last name of a prefix is kept as written: only its directory is a
            // path to resolve.
            Kind::Prefix => {
                let cut = raw.iter().rposition(|&b| b == b'/').unwrap_or(0);
                let mut dir = canon(&raw[..cut.max(1)]);
                if dir != b"/" {
                    dir.push(b'/');
                }
                dir.extend_from_slice(&raw[cut + 1..]);
                dir
            }
            _ => canon(raw),
        };
        let len = bytes.len() + (kind == Kind::Dir && bytes != b"/") as usize;
        if len > WATCH_LEN {
            return Err(format!(
                "watched path {show:?} is {len} bytes once canonical, more than {WATCH_LEN}"
            ));
        }
        Ok(Watch {
            text: text.to_vec(),
            bytes,
            kind,
        })
    }

    /// The absolute bytes a path must start with for a prefix match (a directory's with its
    /// `/`).
    fn prefix_bytes(&self) -> Vec<u8> {
        let mut b = self.bytes.clone();
        if self.kind == Kind::Dir && b != b"/" {
            b.push(b'/');
        }
        b
    }

    /// The keys of absolute names: a directory entry `D/` also matches `D` itself.
    pub fn keys(&self) -> Vec<Key> {
        match self.kind {
            Kind::Exact => vec![key(&self.bytes, EXACT, 0)],
            Kind::Prefix => vec![key(&self.bytes, PREFIX, 0)],
            Kind::Dir => {
                let mut keys = vec![key(&self.prefix_bytes(), PREFIX, 0)];
                if self.bytes != b"/" {
                    keys.push(key(&self.bytes, EXACT, 0));
                }
                keys
            }
        }
    }

    /// The keys of the names below anchor `anchor` (the directory `anchor_path` the entry
    /// hangs from): the path below it, exact or as a prefix, and FIRST for its first component
    /// when an entry goes deeper than it.
    pub fn anchor_keys(&self, anchor_path: &[u8], anchor: u16) -> Vec<Key> {
        let Some(rel) = below(anchor_path, &self.bytes) else {
            return Vec::new();
        };
        let mut keys = Vec::new();
        match self.kind {
            Kind::Exact => keys.push(key(rel, EXACT, anchor)),
            Kind::Prefix => keys.push(key(rel, PREFIX, anchor)),
            Kind::Dir => {
                keys.push(key(rel, EXACT, anchor));
                let mut p = rel.to_vec();
                p.push(b'/');
                keys.push(key(&p, PREFIX, anchor));
            }
        }
        let first_end = rel.iter().position(|&b| b == b'/');
        if first_end.is_some() || self.kind == Kind::Dir {
            let first = &rel[..first_end.unwrap_or(rel.len())];
            if !first.is_empty() {
                keys.push(key(first, FIRST, anchor));
            }
        }
        keys.retain(|k| k.len as usize <= WATCH_LEN && (k.len > 0 || k.kind == EXACT));
        keys
    }

    /// The exact check behind a kernel match by name (which a hash collision could fake).
    pub fn matches(&self, path: &[u8]) -> bool {
        match self.kind {
            Kind::Exact => path == self.bytes.as_slice(),
            Kind::Prefix => path.starts_with(&self.bytes),
            Kind::Dir => path == self.bytes.as_slice() || path.starts_with(&self.prefix_bytes()),
        }
    }

    /// The directory the entry hangs from: the deepest one of its path that exists now (for a
    /// prefix, of its directory part; for an existing directory entry, its parent).
    pub fn anchor(&self, exists: &dyn Fn(&[u8]) -> bool) -> Vec<u8> {
        let mut p: &[u8] = &self.bytes;
        loop {
            p = parent(p);
            if p == b"/" || exists(p) {
                return p.to_vec();
            }
        }
    }
}

fn key(b: &[u8], kind: u16, anchor: u16) -> Key {
    Key {
        hash: fnv1a(b),
        len: b.len() as u32,
        kind,
        anchor,
    }
}

/// The path `p` below directory `dir`, without the `/` between (None: not below it).
pub fn below<'a>(dir: &[u8], p: &'a [u8]) -> Option<&'a [u8]> {
    if dir == b"/" {
        return p.strip_prefix(b"/");
    }
    p.strip_prefix(dir)?.strip_prefix(b"/")
}

/// The directory of an absolute path (`/` for `/x` and for `/`).
pub fn parent(p: &[u8]) -> &[u8] {
    match p.iter().rposition(|&b| b == b'/') {
        Some(0) | None => b"/",
        Some(i) => &p[..i],
    }
}

/// `path` made canonical: every symbolic link of the part that exists resolved, `.`, `..`
/// and repeated `/` folded, the part that does not exist yet kept as written (folded). A
/// directory this process may not search is kept as written too (the name matches still).
pub fn canonical(path: &[u8]) -> Vec<u8> {
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    let mut out: Vec<u8> = b"/".to_vec();
    let mut missing = false;
    for comp in path.split(|&b| b == b'/') {
        match comp {
            b"" | b"." => continue,
            b".." => {
                out = parent(&out).to_vec();
                continue;
            }
            _ => {}
        }
        if out != b"/" {
            out.push(b'/');
        }
        out.extend_from_slice(comp);
        if missing {
            continue;
        }
        let p = Path::new(std::ffi::OsStr::from_bytes(&out));
        match std::fs::symlink_metadata(p) {
            Ok(m) if m.file_type().is_symlink() => match std::fs::canonicalize(p) {
                Ok(real) => out = real.into_os_string().into_vec(),
                // A dangling link: watched by its own name.
                Err(_) => missing = true,
            },
            Ok(_) => {}
            Err(_) => missing = true,
        }
    }
    out
}

/// The watch list from `paths` and the lines of `files` (blank lines and `#` comments
/// skipped), or the default list when both are empty.
pub fn watch_list(paths: &[String], files: &[String], defaults: &[&str]) -> Result<Vec<Watch>> {
    let mut texts: Vec<Vec<u8>> = paths.iter().map(|p| p.as_bytes().to_vec()).collect();
    for f in files {
        texts.extend(read_list(f)?);
    }
    if paths.is_empty() && files.is_empty() {
        texts = defaults.iter().map(|p| p.as_bytes().to_vec()).collect();
    }
    let mut list: Vec<Watch> = Vec::new();
    for t in texts {
        let w = Watch::parse(&t).map_err(Error::usage)?;
        if !list
            .iter()
            .any(|o| o.bytes == w.bytes && o.kind == w.kind)
        {
            list.push(w);
        }
        if list.len() > MAX_WATCHES {
            return Err(Error::usage(format!(
                "more than {MAX_WATCHES} paths to watch: at most {MAX_WATCHES}"
            )));
        }
    }
    if list.is_empty() {
        return Err(Error::usage("the watch list is empty"));
    }
    Ok(list)
}

/// The entries of a watch-list file, bounded: at most LIST_MAX_BYTES bytes and LIST_MAX_LINES
/// lines are read.
pub fn read_list(f: &str) -> Result<Vec<Vec<u8>>> {
    let file = std::fs::File::open(f).map_err(|e| {
        Error::os(
            format!("cannot read the watch list {f}"),
            e.raw_os_error().unwrap_or(0),
        )
        .code(EXIT_USAGE)
    })?;
    let mut data = Vec::new();
    file.take(LIST_MAX_BYTES + 1)
        .read_to_end(&mut data)
        .map_err(|e| {
            Error::os(
                format!("cannot read the watch list {f}"),
                e.raw_os_error().unwrap_or(0),
            )
            .code(EXIT_USAGE)
        })?;
    parse_list(f, &data)
}

/// The entries of a watch list's bytes (`name` for errors).
pub fn parse_list(name: &str, data: &[u8]) -> Result<Vec<Vec<u8>>> {
    if data.len() as u64 > LIST_MAX_BYTES {
        return Err(Error::usage(format!(
            "the watch list {name} is larger than {LIST_MAX_BYTES} bytes: a list holds at most \
             {MAX_WATCHES} paths"
        )));
    }
    let mut out = Vec::new();
    for (n, line) in data.split(|&b| b == b'\n').enumerate() {
        if n >= LIST_MAX_LINES {
            return Err(Error::usage(format!(
                "the watch list {name} has more than {LIST_MAX_LINES} lines"
            )));
        }
        let line = line.trim_ascii();
        if line.is_empty() || line.starts_with(b"#") {
            continue;
        }
        if line.contains(&0) {
            return Err(Error::usage(format!(
                "the watch list {name}: line {} holds a NUL byte (is it a text file?)",
                n + 1
            )));
        }
        out.push(line.to_vec());
    }
    Ok(out)
}

/// Bit of a kernel pointer in the BPF side's bloom filter (`in_bloom`).
pub fn bloom_bit(ptr: u64) -> usize {
    (ptr.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 55) as usize
}
