//! BTF parsed from its raw bytes, in safe code: the types of a BPF object the user compiled,
//! which `run` reads to set options and to decode records and map entries.
//!
//! The bytes come from a file nobody here wrote, so nothing is trusted: every offset and count
//! is checked against the blob, a type id out of range reads as `void`, chains of typedefs and
//! modifiers are followed a bounded number of steps (a cycle ends as `void`), and sizes are
//! computed with checked arithmetic. What the parser keeps is proportional to the input.

/// BTF kinds (`BTF_KIND_*` of include/uapi/linux/btf.h).
pub const INT: u8 = 1;
pub const PTR: u8 = 2;
pub const ARRAY: u8 = 3;
pub const STRUCT: u8 = 4;
pub const UNION: u8 = 5;
pub const ENUM: u8 = 6;
pub const FWD: u8 = 7;
pub const TYPEDEF: u8 = 8;
pub const VOLATILE: u8 = 9;
pub const CONST: u8 = 10;
pub const RESTRICT: u8 = 11;
pub const FUNC: u8 = 12;
pub const FUNC_PROTO: u8 = 13;
pub const VAR: u8 = 14;
pub const DATASEC: u8 = 15;
pub const FLOAT: u8 = 16;
pub const DECL_TAG: u8 = 17;
pub const TYPE_TAG: u8 = 18;
pub const ENUM64: u8 = 19;

/// `BTF_INT_*` encoding bits.
const INT_SIGNED: u32 = 1;
const INT_CHAR: u32 = 2;
const INT_BOOL: u32 = 4;

/// How many typedefs and modifiers a type may be wrapped in, and how deep sizes nest.
pub const MAX_DEPTH: usize = 32;

const MAGIC: u16 = 0xeb9f;

/// One type, as its header and kind-specific words say.
#[derive(Debug, Clone, Copy, Default)]
struct Raw {
    kind: u8,
    kflag: bool,
    vlen: u16,
    name: u32,
    /// `size` for sized kinds, `type` for references.
    size_type: u32,
    /// INT: the encoding word; ARRAY: element type; VAR: linkage.
    x: u32,
    /// ARRAY: element count.
    y: u32,
    /// First of `vlen` records in `Types::items` (members, enumerators, params, variables).
    first: u32,
}

/// A struct or union member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member<'a> {
    pub name: &'a str,
    pub ty: u32,
    /// Offset from the start of the aggregate, in bits.
    pub bit_offset: u32,
    /// Bitfield width (0: not a bitfield).
    pub bits: u32,
}

/// An integer type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Int {
    /// Bytes.
    pub size: u32,
    pub signed: bool,
    /// Declared `char` (a byte of text).
    pub char: bool,
    pub bool: bool,
}

/// A variable of a data section: where it is and what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecVar<'a> {
    pub name: &'a str,
    /// The variable's type (its VAR resolved to what it holds).
    pub ty: u32,
    pub offset: u32,
    pub size: u32,
}

/// The types of one BTF blob. Type 0 is `void`.
#[derive(Debug, Default)]
pub struct Types {
    types: Vec<Raw>,
    items: Vec<[u32; 3]>,
    strings: Vec<u8>,
}

fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(off..off + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(off..off + 4)?.try_into().ok()?))
}

impl Types {
    /// Parses a raw BTF blob (`.BTF` as libbpf holds it). Err says what is malformed.
    pub fn parse(blob: &[u8]) -> Result<Types, String> {
        if u16_at(blob, 0) != Some(MAGIC) {
            return Err("no BTF magic (or BTF of the other byte order)".into());
        }
        let word = |off: usize| u32_at(blob, off).ok_or("BTF header is truncated");
        let hdr_len = word(4)? as usize;
        let (type_off, type_len) = (word(8)? as usize, word(12)? as usize);
        let (str_off, str_len) = (word(16)? as usize, word(20)? as usize);
        let section = |off: usize, len: usize| {
            hdr_len
                .checked_add(off)
                .and_then(|s| Some((s, s.checked_add(len)?)))
                .and_then(|(s, e)| blob.get(s..e))
                .ok_or("a BTF section lies outside the data")
        };
        let tsec = section(type_off, type_len)?;
        let strings = section(str_off, str_len)?.to_vec();
        let mut t = Types {
            types: vec![Raw::default()],
            items: Vec::new(),
            strings,
        };
        let mut off = 0;
        while off < tsec.len() {
            let head = |i: usize| u32_at(tsec, off + 4 * i).ok_or("a BTF type is truncated");
            let info = head(1)?;
            let mut raw = Raw {
                kind: ((info >> 24) & 0x1f) as u8,
                kflag: info >> 31 == 1,
                vlen: (info & 0xffff) as u16,
                name: head(0)?,
                size_type: head(2)?,
                x: 0,
                y: 0,
                first: t.items.len() as u32,
            };
            off += 12;
            let vlen = raw.vlen as usize;
            // Words after the header: (words per record, records).
            let (per, records) = match raw.kind {
                INT | VAR | DECL_TAG => (1, 1),
                ARRAY => (3, 1),
                STRUCT | UNION | DATASEC | ENUM64 => (3, vlen),
                ENUM | FUNC_PROTO => (2, vlen),
                PTR | FWD | TYPEDEF | VOLATILE | CONST | RESTRICT | FUNC | FLOAT | TYPE_TAG => {
                    (0, 0)
                }
                k => return Err(format!("unknown BTF kind {k} (newer than this agent?)")),
            };
            let len = per * records * 4;
            let body = tsec.get(off..off + len).ok_or("a BTF type is truncated")?;
            let w = |i: usize| u32_at(body, 4 * i).unwrap_or(0);
            match raw.kind {
                INT | VAR | DECL_TAG => raw.x = w(0),
                ARRAY => (raw.x, raw.y) = (w(0), w(2)),
                _ => {
                    for r in 0..records {
                        let i = r * per;
                        let third = if per == 3 { w(i + 2) } else { 0 };
                        t.items.push([w(i), w(i + 1), third]);
                    }
                }
            }
            off += len;
            t.types.push(raw);
        }
        Ok(t)
    }

    /// How many types there are (type 0, `void`, included).
    pub fn len(&self) -> usize {
        self.types.len()
    }

    pub fn is_empty(&self) -> bool {
        self.types.len() <= 1
    }

    fn raw(&self, id: u32) -> Raw {
        self.types.get(id as usize).copied().unwrap_or_default()
    }

    fn items(&self, r: &Raw) -> &[[u32; 3]] {
        let start = r.first as usize;
        self.items
            .get(start..start + r.vlen as usize)
            .unwrap_or(&[])
    }

    /// A name from the string section ("" when out of range or not UTF-8).
    pub fn str_at(&self, off: u32) -> &str {
        let rest = self.strings.get(off as usize..).unwrap_or(&[]);
        let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
        std::str::from_utf8(&rest[..end]).unwrap_or("")
    }

    /// The kind of type `id` (0 for void and ids out of range).
    pub fn kind(&self, id: u32) -> u8 {
        self.raw(id).kind
    }

    /// The name of type `id` ("" for anonymous ones).
    pub fn name(&self, id: u32) -> &str {
        self.str_at(self.raw(id).name)
    }

    /// The type `id` stands for once typedefs, `const`, `volatile`, `restrict` and type tags
    /// are looked through (void if they go on for more than [`MAX_DEPTH`] steps).
    pub fn resolve(&self, mut id: u32) -> u32 {
        for _ in 0..MAX_DEPTH {
            match self.kind(id) {
                TYPEDEF | VOLATILE | CONST | RESTRICT | TYPE_TAG => id = self.raw(id).size_type,
                _ => return id,
            }
        }
        0
    }

    /// What a pointer, VAR, FUNC or typedef refers to.
    pub fn target(&self, id: u32) -> u32 {
        self.raw(id).size_type
    }

    /// Size in bytes of a value of type `id`; None for void, functions and sizes that do not
    /// fit in 32 bits.
    pub fn size(&self, id: u32) -> Option<u32> {
        self.size_at(id, 0)
    }

    fn size_at(&self, id: u32, depth: usize) -> Option<u32> {
        if depth > MAX_DEPTH {
            return None;
        }
        let id = self.resolve(id);
        let r = self.raw(id);
        match r.kind {
            INT | STRUCT | UNION | ENUM | ENUM64 | FLOAT | DATASEC => Some(r.size_type),
            PTR => Some(8),
            ARRAY => self.size_at(r.x, depth + 1)?.checked_mul(r.y),
            _ => None,
        }
    }

    /// The integer type `id` resolves to, if it is one. An enum is not.
    pub fn int(&self, id: u32) -> Option<Int> {
        let r = self.raw(self.resolve(id));
        (r.kind == INT).then(|| {
            let enc = (r.x >> 24) & 0xf;
            Int {
                size: r.size_type,
                signed: enc & INT_SIGNED != 0,
                char: enc & INT_CHAR != 0 || matches!(self.str_at(r.name), "char"),
                bool: enc & INT_BOOL != 0,
            }
        })
    }

    /// (element type, element count) of the array type `id` resolves to.
    pub fn array(&self, id: u32) -> Option<(u32, u32)> {
        let r = self.raw(self.resolve(id));
        (r.kind == ARRAY).then_some((r.x, r.y))
    }

    /// The members of the struct or union `id` resolves to (none for other kinds).
    pub fn members(&self, id: u32) -> impl Iterator<Item = Member<'_>> {
        let r = self.raw(self.resolve(id));
        let items = if matches!(r.kind, STRUCT | UNION) {
            self.items(&r)
        } else {
            &[]
        };
        items.iter().map(move |m| {
            let (bit_offset, bits) = if r.kflag {
                (m[2] & 0xff_ffff, m[2] >> 24)
            } else {
                (m[2], 0)
            };
            Member {
                name: self.str_at(m[0]),
                ty: m[1],
                bit_offset,
                bits,
            }
        })
    }

    /// The enumerators of the enum `id` resolves to: (name, value), and whether its values
    /// are signed.
    pub fn enumerators(&self, id: u32) -> (impl Iterator<Item = (&str, i64)>, bool) {
        let r = self.raw(self.resolve(id));
        let items = if matches!(r.kind, ENUM | ENUM64) {
            self.items(&r)
        } else {
            &[]
        };
        let wide = r.kind == ENUM64;
        let iter = items.iter().map(move |e| {
            let v = if wide {
                (u64::from(e[2]) << 32 | u64::from(e[1])) as i64
            } else if r.kflag {
                i64::from(e[1] as i32)
            } else {
                i64::from(e[1])
            };
            (self.str_at(e[0]), v)
        });
        (iter, r.kflag)
    }

    /// The first type of `kind` named `name`.
    pub fn find(&self, kind: u8, name: &str) -> Option<u32> {
        (1..self.types.len() as u32).find(|&id| self.kind(id) == kind && self.name(id) == name)
    }

    /// The variables of data section `section` (".rodata", ".bss"), in order.
    pub fn section_vars(&self, section: &str) -> Vec<SecVar<'_>> {
        let Some(sec) = self.find(DATASEC, section) else {
            return Vec::new();
        };
        let r = self.raw(sec);
        self.items(&r)
            .iter()
            .filter(|v| self.kind(v[0]) == VAR)
            .map(|v| SecVar {
                name: self.name(v[0]),
                ty: self.target(v[0]),
                offset: v[1],
                size: v[2],
            })
            .collect()
    }

    /// The type of the global variable `name` (in any section).
    pub fn var_type(&self, name: &str) -> Option<u32> {
        self.find(VAR, name).map(|v| self.target(v))
    }

    /// A readable name of a type for messages: `u32`, `char[16]`, `struct event`.
    pub fn describe(&self, id: u32) -> String {
        self.describe_at(id, 0)
    }

    fn describe_at(&self, id: u32, depth: usize) -> String {
        if depth > MAX_DEPTH {
            return "?".into();
        }
        let r = self.raw(id);
        let named = |prefix: &str| match self.str_at(r.name) {
            "" => format!("{prefix}(anonymous)"),
            n => format!("{prefix}{n}"),
        };
        match r.kind {
            0 => "void".into(),
            INT | TYPEDEF | FLOAT => named(""),
            STRUCT => named("struct "),
            UNION => named("union "),
            ENUM | ENUM64 => named("enum "),
            PTR => format!("{} *", self.describe_at(r.size_type, depth + 1)),
            ARRAY => format!("{}[{}]", self.describe_at(r.x, depth + 1), r.y),
            VOLATILE | CONST | RESTRICT | TYPE_TAG => self.describe_at(r.size_type, depth + 1),
            _ => named(""),
        }
    }
}

#[cfg(test)]
pub(crate) mod build {
    //! Writes BTF blobs for tests: what clang would emit, kind by kind.

    use super::*;

    #[derive(Default)]
    pub struct Blob {
        types: Vec<u8>,
        strings: Vec<u8>,
        next: u32,
    }

    impl Blob {
        pub fn new() -> Blob {
            Blob {
                types: Vec::new(),
                strings: vec![0],
                next: 1,
            }
        }

        pub fn name(&mut self, s: &str) -> u32 {
            if s.is_empty() {
                return 0;
            }
            let off = self.strings.len() as u32;
            self.strings.extend_from_slice(s.as_bytes());
            self.strings.push(0);
            off
        }

        /// Appends a type: header words and the kind's own words. Returns its id.
        pub fn raw(
            &mut self,
            name: &str,
            kind: u8,
            kflag: bool,
            vlen: u16,
            st: u32,
            words: &[u32],
        ) -> u32 {
            let n = self.name(name);
            let info = (u32::from(kind) << 24) | u32::from(vlen) | (u32::from(kflag) << 31);
            for w in [n, info, st].iter().chain(words) {
                self.types.extend_from_slice(&w.to_le_bytes());
            }
            self.next += 1;
            self.next - 1
        }

        pub fn int(&mut self, name: &str, size: u32, enc: u32) -> u32 {
            self.raw(name, INT, false, 0, size, &[(enc << 24) | (size * 8)])
        }

        pub fn array(&mut self, elem: u32, len: u32) -> u32 {
            self.raw("", ARRAY, false, 0, 0, &[elem, elem, len])
        }

        /// A struct of (name, type, bit offset[, bitfield bits]) members.
        pub fn strukt(&mut self, name: &str, size: u32, members: &[(&str, u32, u32, u32)]) -> u32 {
            let kflag = members.iter().any(|m| m.3 > 0);
            let mut words = Vec::new();
            for &(n, ty, off, bits) in members {
                words.push(self.name(n));
                words.push(ty);
                words.push(if kflag { bits << 24 | off } else { off });
            }
            self.raw(name, STRUCT, kflag, members.len() as u16, size, &words)
        }

        pub fn finish(&self) -> Vec<u8> {
            let mut b = Vec::new();
            b.extend_from_slice(&MAGIC.to_le_bytes());
            b.extend_from_slice(&[1, 0]);
            let tl = self.types.len() as u32;
            for w in [24u32, 0, tl, tl, self.strings.len() as u32] {
                b.extend_from_slice(&w.to_le_bytes());
            }
            b.extend_from_slice(&self.types);
            b.extend_from_slice(&self.strings);
            b
        }
    }
}

#[cfg(test)]
mod tests {
    use super::build::Blob;
    use super::*;

    #[test]
    fn parses_what_clang_writes() {
        let mut b = Blob::new();
        let u32_ = b.int("unsigned int", 4, 0);
        let char_ = b.int("char", 1, INT_SIGNED);
        let comm = b.array(char_, 16);
        let td = b.raw("__u32", TYPEDEF, false, 0, u32_, &[]);
        let cv = b.raw("", CONST, false, 0, td, &[]);
        let ev = b.strukt("event", 20, &[("pid", cv, 0, 0), ("comm", comm, 32, 0)]);
        let var = b.raw("target_pid", VAR, false, 0, cv, &[1]);
        let _sec = b.raw(".rodata", DATASEC, false, 1, 4, &[var, 0, 4]);
        let t = Types::parse(&b.finish()).unwrap();
        assert_eq!(t.find(STRUCT, "event"), Some(ev));
        assert_eq!(t.size(ev), Some(20));
        assert_eq!(t.describe(comm), "char[16]");
        assert_eq!(t.describe(cv), "__u32");
        assert_eq!(t.resolve(cv), u32_);
        let m: Vec<_> = t.members(ev).map(|m| (m.name, m.bit_offset)).collect();
        assert_eq!(m, [("pid", 0), ("comm", 32)]);
        assert!(t.int(char_).unwrap().char);
        let vars = t.section_vars(".rodata");
        assert_eq!(vars.len(), 1);
        assert_eq!(
            (vars[0].name, vars[0].offset, vars[0].size),
            ("target_pid", 0, 4)
        );
        assert_eq!(t.var_type("target_pid"), Some(cv));
    }

    #[test]
    fn bad_blobs_are_refused_and_bad_references_read_as_void() {
        assert!(Types::parse(b"").is_err());
        assert!(Types::parse(&[0x9f, 0xeb, 1, 0, 24, 0, 0, 0]).is_err());
        let mut b = Blob::new();
        // A typedef cycle and a reference out of range.
        let a = b.raw("a", TYPEDEF, false, 0, 2, &[]);
        let _b = b.raw("b", TYPEDEF, false, 0, 1, &[]);
        let p = b.raw("", ARRAY, false, 0, 0, &[999, 999, 4]);
        let huge = b.array(p, u32::MAX);
        let blob = b.finish();
        let t = Types::parse(&blob).unwrap();
        assert_eq!(t.resolve(a), 0);
        assert_eq!(t.size(p), None);
        assert_eq!(t.size(huge), None);
        // Every prefix of a good blob parses or is refused, never panics.
        for n in 0..blob.len() {
            let _ = Types::parse(&blob[..n]);
        }
    }
}
