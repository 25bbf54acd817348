//! Values read from bytes by their BTF type: a record from a ring buffer, a map's key or
//! value, as JSON or as text.
//!
//! Structs become objects keyed by their field names (anonymous inner structs and unions
//! lend their fields to the enclosing object), arrays become arrays, `char` arrays become
//! strings up to their first NUL with docs/json.md's `_hex` twin when they are not UTF-8,
//! integers numbers (bools `true`/`false`, enums their enumerator's name), pointers their
//! address. A trailing array of length 0 (a C flexible array member) holds whatever the record
//! has after its head.
//!
//! Both the types and the bytes may be anything (they come from the user's file and from the
//! kernel): a value the bytes do not cover is `null`, nesting deeper than [`MAX_NEST`] is
//! `null`, and one call writes at most [`BUDGET`] values, so output stays bounded by the
//! budget times the longest string, whatever the input.

use super::types::{Types, MAX_DEPTH};
use crate::json;

/// Aggregates nested deeper than this are written as `null`.
pub const MAX_NEST: usize = 16;
/// Values one call writes at most; the rest are `null`. (Smaller in tests, so that the
/// property test reaches the limits quickly.)
#[cfg(not(test))]
pub const BUDGET: usize = 1 << 16;
#[cfg(test)]
pub const BUDGET: usize = 1 << 9;
/// Bytes of text (strings, wide integers) one call writes at most; the rest are `null`.
#[cfg(not(test))]
pub const TEXT_BUDGET: usize = 1 << 20;
#[cfg(test)]
pub const TEXT_BUDGET: usize = 1 << 12;

/// Bytes `[start, start + len)` of `data`, as far as `data` has them.
fn window(data: &[u8], start: u64, len: u64) -> &[u8] {
    let s = (start.min(data.len() as u64)) as usize;
    let e = (start.saturating_add(len).min(data.len() as u64)) as usize;
    &data[s..e]
}

/// A little-endian integer of `bytes` (at most 8), sign-extended if `signed`.
fn le(bytes: &[u8], signed: bool) -> u64 {
    let n = bytes.len().min(8);
    let mut v = 0u64;
    for (i, &b) in bytes[..n].iter().enumerate() {
        v |= u64::from(b) << (8 * i);
    }
    if signed && n > 0 && n < 8 && bytes[n - 1] & 0x80 != 0 {
        v |= u64::MAX << (8 * n);
    }
    v
}

/// What a value is, for the writers.
enum Shape<'a> {
    /// Not covered by the bytes, unknown, or over the limits.
    Null,
    Int {
        v: u64,
        signed: bool,
        bool: bool,
    },
    /// An integer wider than 64 bits, as hex.
    Wide(&'a [u8]),
    Enum {
        name: Option<&'a str>,
        v: i64,
    },
    Ptr(u64),
    /// A `char` array: the bytes before the first NUL.
    Text(&'a [u8]),
    Array {
        elem: u32,
        stride: u64,
        count: u64,
    },
    Struct,
}

/// Where a value sits beyond its bytes: a bitfield of `bits` at bit `shift` (0: not one), and
/// whether it is the last member of a record (a length-0 array there takes the rest).
#[derive(Clone, Copy)]
struct Place {
    bits: u32,
    shift: u32,
    flex: bool,
}

/// A whole value: no bitfield, not the last member.
const PLAIN: Place = Place {
    bits: 0,
    shift: 0,
    flex: false,
};
/// A value that may end with a flexible array (a record, a map value).
const WHOLE: Place = Place {
    bits: 0,
    shift: 0,
    flex: true,
};

/// A decoder over one type table, with the budget of one call.
struct Dec<'a> {
    t: &'a Types,
    left: usize,
    text_left: usize,
}

/// The bytes of member `m` (at `start`) within its aggregate's `data`: its type's size (a
/// bitfield: enough for any width), or all that follows for the last member, which may be a
/// flexible array.
fn member_window<'d>(
    t: &Types,
    data: &'d [u8],
    ty: u32,
    bit_offset: u32,
    bits: u32,
    last: bool,
) -> &'d [u8] {
    let len = if bits > 0 {
        16
    } else if last {
        u64::MAX
    } else {
        t.size(ty).map_or(0, u64::from)
    };
    window(data, u64::from(bit_offset / 8), len)
}

impl<'a> Dec<'a> {
    fn new(t: &'a Types) -> Dec<'a> {
        Dec {
            t,
            left: BUDGET,
            text_left: TEXT_BUDGET,
        }
    }

    /// Takes `n` bytes from the text budget: false when it is spent.
    fn charge(&mut self, n: usize) -> bool {
        if n > self.text_left {
            self.text_left = 0;
            return false;
        }
        self.text_left -= n;
        true
    }

    /// The shape of a value of type `ty` in `data`, at `place`.
    fn shape(&mut self, ty: u32, data: &'a [u8], place: Place) -> Shape<'a> {
        let Place {
            bits,
            shift,
            flex: flexible,
        } = place;
        if self.left == 0 {
            return Shape::Null;
        }
        self.left -= 1;
        let t = self.t;
        let id = t.resolve(ty);
        let size = t.size(id).map(u64::from);
        if bits > 0 {
            if bits > 64 {
                return Shape::Null;
            }
            let need = (u64::from(shift) + u64::from(bits)).div_ceil(8);
            let b = window(data, 0, need);
            if (b.len() as u64) < need {
                return Shape::Null;
            }
            let (signed, is_bool) = t.int(id).map_or((false, false), |i| (i.signed, i.bool));
            let mut v = 0u128;
            for (i, &x) in b.iter().enumerate().take(16) {
                v |= u128::from(x) << (8 * i);
            }
            let mut v = ((v >> shift) as u64) & (u64::MAX >> (64 - bits));
            if signed && bits < 64 && v >> (bits - 1) & 1 == 1 {
                v |= u64::MAX << bits;
            }
            return Shape::Int {
                v,
                signed,
                bool: is_bool,
            };
        }
        if let Some(i) = t.int(id) {
            let b = window(data, 0, u64::from(i.size));
            return match i.size {
                _ if (b.len() as u32) < i.size || i.size == 0 => Shape::Null,
                9.. if !self.charge(2 * b.len()) => Shape::Null,
                9.. => Shape::Wide(b),
                _ => Shape::Int {
                    v: le(b, i.signed),
                    signed: i.signed,
                    bool: i.bool,
                },
            };
        }
        if let Some((elem, len)) = t.array(id) {
            let stride = t.size(elem).map_or(0, u64::from);
            if t.int(elem).is_some_and(|i| i.char && i.size == 1) {
                let all = if len == 0 && flexible {
                    data
                } else {
                    window(data, 0, u64::from(len))
                };
                let end = all.iter().position(|&c| c == 0).unwrap_or(all.len());
                if !self.charge(end) {
                    return Shape::Null;
                }
                return Shape::Text(&all[..end]);
            }
            let count = match (data.len() as u64).checked_div(stride) {
                Some(fit) if len == 0 && flexible => fit,
                Some(fit) => u64::from(len).min(fit),
                None => u64::from(len),
            };
            return Shape::Array {
                elem,
                stride,
                count: count.min(self.left as u64),
            };
        }
        let Some(size) = size else {
            return Shape::Null;
        };
        match t.kind(id) {
            super::types::STRUCT | super::types::UNION => Shape::Struct,
            super::types::ENUM | super::types::ENUM64 => {
                let b = window(data, 0, size);
                if (b.len() as u64) < size || size == 0 {
                    return Shape::Null;
                }
                let (names, signed) = t.enumerators(id);
                let v = le(b, signed) as i64;
                let mut name = None;
                for (n, e) in names {
                    if e == v
                        || (size < 8 && (e as u64 & (u64::MAX >> (64 - 8 * size))) == v as u64)
                    {
                        name = Some(n);
                        break;
                    }
                }
                Shape::Enum { name, v }
            }
            super::types::PTR => {
                let b = window(data, 0, 8);
                if b.len() < 8 {
                    Shape::Null
                } else {
                    Shape::Ptr(le(b, false))
                }
            }
            _ => Shape::Null,
        }
    }

    // ---- JSON ----

    /// One JSON value of type `ty` from `data`.
    fn json(&mut self, ty: u32, data: &'a [u8], place: Place, depth: usize, buf: &mut Vec<u8>) {
        match self.shape(ty, data, place) {
            Shape::Null => buf.extend_from_slice(b"null"),
            Shape::Int { v, bool: true, .. } => {
                buf.extend_from_slice(if v != 0 { b"true" } else { b"false" })
            }
            Shape::Int {
                v, signed: true, ..
            } => json::push_i64(buf, v as i64),
            Shape::Int { v, .. } => json::push_u64(buf, v),
            Shape::Ptr(v) => json::push_u64(buf, v),
            Shape::Wide(b) => {
                let mut rev: Vec<u8> = b.to_vec();
                rev.reverse();
                json::push_hex(buf, &rev);
            }
            Shape::Enum { name: Some(n), .. } => json::push_str(buf, n),
            Shape::Enum { v, .. } => json::push_str(buf, &v.to_string()),
            Shape::Text(b) => json::push_str(buf, &String::from_utf8_lossy(b)),
            Shape::Array { .. } | Shape::Struct if depth >= MAX_NEST => {
                buf.extend_from_slice(b"null")
            }
            Shape::Array {
                elem,
                stride,
                count,
            } => {
                buf.push(b'[');
                for i in 0..count {
                    if i > 0 {
                        buf.push(b',');
                    }
                    let d = window(data, i * stride, stride);
                    self.json(elem, d, PLAIN, depth + 1, buf);
                }
                buf.push(b']');
            }
            Shape::Struct => {
                buf.push(b'{');
                let mut first = true;
                self.json_members(ty, data, depth + 1, buf, &mut first, &[], 0);
                buf.push(b'}');
            }
        }
    }

    /// The members of struct `ty` as `"name":value` pairs (commas before all but the first).
    #[allow(clippy::too_many_arguments)]
    fn json_members(
        &mut self,
        ty: u32,
        data: &'a [u8],
        depth: usize,
        buf: &mut Vec<u8>,
        first: &mut bool,
        reserved: &[&str],
        flat: usize,
    ) {
        let t = self.t;
        let n = t.members(ty).count();
        for (i, m) in t.members(ty).enumerate() {
            let shift = m.bit_offset % 8;
            let last = i + 1 == n;
            let rest = member_window(t, data, m.ty, m.bit_offset, m.bits, last);
            if m.name.is_empty() {
                // An anonymous struct or union lends its fields; unnamed bitfields are padding.
                if m.bits == 0
                    && t.members(m.ty).next().is_some()
                    && flat < MAX_DEPTH
                    && depth < MAX_NEST
                {
                    self.json_members(m.ty, rest, depth + 1, buf, first, reserved, flat + 1);
                }
                continue;
            }
            if !*first {
                buf.push(b',');
            }
            *first = false;
            let renamed = reserved.contains(&m.name);
            let key = |buf: &mut Vec<u8>, suffix: &str| {
                let mut k = String::with_capacity(m.name.len() + 5);
                if renamed {
                    k.push('_');
                }
                k.push_str(m.name);
                k.push_str(suffix);
                json::push_str(buf, &k);
                buf.push(b':');
            };
            key(buf, "");
            let mark = buf.len();
            let place = Place {
                bits: m.bits,
                shift,
                flex: last,
            };
            self.json(m.ty, rest, place, depth, buf);
            // The exact bytes of text that is not UTF-8, and of arrays holding such text.
            if let Some(hex) = self.hex_twin(m.ty, rest, last) {
                if buf.len() > mark {
                    buf.push(b',');
                    key(buf, "_hex");
                    buf.extend_from_slice(&hex);
                }
            }
        }
    }

    /// The `_hex` twin of a member: Some when it is text (or an array of texts) that is not
    /// all valid UTF-8.
    fn hex_twin(&mut self, ty: u32, data: &[u8], flex: bool) -> Option<Vec<u8>> {
        let t = self.t;
        let (elem, len) = t.array(ty)?;
        let text = |d: &[u8]| {
            let end = d.iter().position(|&c| c == 0).unwrap_or(d.len());
            d[..end].to_vec()
        };
        if t.int(elem).is_some_and(|i| i.char && i.size == 1) {
            let all = if len == 0 && flex {
                data
            } else {
                window(data, 0, u64::from(len))
            };
            let s = text(all);
            if std::str::from_utf8(&s).is_ok() || !self.charge(2 * s.len()) {
                return None;
            }
            let mut out = Vec::new();
            json::push_hex(&mut out, &s);
            return Some(out);
        }
        // An array of char arrays: every element in hex, if any is not UTF-8.
        let (inner, ilen) = t.array(elem)?;
        if !t.int(inner).is_some_and(|i| i.char && i.size == 1) || ilen == 0 {
            return None;
        }
        let count = u64::from(len)
            .min(data.len() as u64 / u64::from(ilen))
            .min(BUDGET as u64);
        let items: Vec<Vec<u8>> = (0..count)
            .map(|i| text(window(data, i * u64::from(ilen), u64::from(ilen))))
            .collect();
        let total: usize = items.iter().map(|s| 2 * s.len() + 3).sum();
        if items.iter().all(|s| std::str::from_utf8(s).is_ok()) || !self.charge(total) {
            return None;
        }
        let mut out = vec![b'['];
        for (i, s) in items.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            json::push_hex(&mut out, s);
        }
        out.push(b']');
        Some(out)
    }

    // ---- text ----

    fn text(&mut self, ty: u32, data: &'a [u8], place: Place, depth: usize, out: &mut String) {
        use std::fmt::Write as _;
        match self.shape(ty, data, place) {
            Shape::Null => out.push('-'),
            Shape::Int { v, bool: true, .. } => out.push_str(if v != 0 { "true" } else { "false" }),
            Shape::Int {
                v, signed: true, ..
            } => {
                let _ = write!(out, "{}", v as i64);
            }
            Shape::Int { v, .. } => {
                let _ = write!(out, "{v}");
            }
            Shape::Ptr(v) => {
                let _ = write!(out, "{v:#x}");
            }
            Shape::Wide(b) => {
                out.push_str("0x");
                for x in b.iter().rev() {
                    let _ = write!(out, "{x:02x}");
                }
            }
            Shape::Enum { name: Some(n), .. } => out.push_str(n),
            Shape::Enum { v, .. } => {
                let _ = write!(out, "{v}");
            }
            Shape::Text(b) => crate::text::push_escaped(out, b),
            Shape::Array { .. } | Shape::Struct if depth >= MAX_NEST => out.push('-'),
            Shape::Array {
                elem,
                stride,
                count,
            } => {
                out.push('[');
                for i in 0..count {
                    if i > 0 {
                        out.push(',');
                    }
                    self.text(
                        elem,
                        window(data, i * stride, stride),
                        PLAIN,
                        depth + 1,
                        out,
                    );
                }
                out.push(']');
            }
            Shape::Struct => {
                out.push('{');
                let mut first = true;
                self.text_members(ty, data, depth + 1, out, &mut first, 0);
                out.push('}');
            }
        }
    }

    fn text_members(
        &mut self,
        ty: u32,
        data: &'a [u8],
        depth: usize,
        out: &mut String,
        first: &mut bool,
        flat: usize,
    ) {
        let t = self.t;
        let n = t.members(ty).count();
        for (i, m) in t.members(ty).enumerate() {
            let rest = member_window(t, data, m.ty, m.bit_offset, m.bits, i + 1 == n);
            if m.name.is_empty() {
                if m.bits == 0
                    && t.members(m.ty).next().is_some()
                    && flat < MAX_DEPTH
                    && depth < MAX_NEST
                {
                    self.text_members(m.ty, rest, depth + 1, out, first, flat + 1);
                }
                continue;
            }
            if !*first {
                out.push(' ');
            }
            *first = false;
            out.push_str(m.name);
            out.push('=');
            let place = Place {
                bits: m.bits,
                shift: m.bit_offset % 8,
                flex: i + 1 == n,
            };
            self.text(m.ty, rest, place, depth, out);
        }
    }
}

/// Writes the fields of a record of type `ty` into a JSON object under construction in `buf`
/// (which already holds a field: each one starts with a comma). A struct's or union's fields
/// are its members, named as in C (a member whose name is in `reserved` is written as
/// `_<name>`); any other type is one field, `value`.
pub fn json_fields(t: &Types, ty: u32, data: &[u8], buf: &mut Vec<u8>, reserved: &[&str]) {
    let mut d = Dec::new(t);
    if t.members(ty).next().is_some() {
        let mut first = false;
        d.json_members(ty, data, 0, buf, &mut first, reserved, 0);
    } else {
        buf.extend_from_slice(b",\"value\":");
        d.json(ty, data, WHOLE, 0, buf);
    }
}

/// Writes one value of type `ty` (a map's key or value) as JSON.
pub fn json_value(t: &Types, ty: u32, data: &[u8], buf: &mut Vec<u8>) {
    Dec::new(t).json(ty, data, WHOLE, 0, buf);
}

/// Appends one value of type `ty` as text: `{pid=1 comm=sh}`, `[1,2]`, `42`.
pub fn text_value(t: &Types, ty: u32, data: &[u8], out: &mut String) {
    Dec::new(t).text(ty, data, WHOLE, 0, out);
}

/// The top-level fields of a record type, for text columns: each member's name, its type and
/// byte range. A type that is no struct is one field, `value`.
pub fn fields(t: &Types, ty: u32) -> Vec<(String, u32, u32, u32)> {
    if t.members(ty).next().is_none() {
        return vec![("value".into(), ty, 0, t.size(ty).unwrap_or(0))];
    }
    let mut out = Vec::new();
    collect_fields(t, ty, 0, &mut out, 0);
    out
}

fn collect_fields(
    t: &Types,
    ty: u32,
    base: u32,
    out: &mut Vec<(String, u32, u32, u32)>,
    depth: usize,
) {
    for m in t.members(ty) {
        let off = base.saturating_add(m.bit_offset / 8);
        if m.name.is_empty() {
            if m.bits == 0 && depth < MAX_NEST {
                collect_fields(t, m.ty, off, out, depth + 1);
            }
            continue;
        }
        out.push((
            m.name.to_string(),
            m.ty,
            off,
            m.bits << 8 | (m.bit_offset % 8),
        ));
    }
}

/// Appends one field from [`fields`] as text: `bitinfo` is `bits << 8 | shift` as returned.
pub fn text_field(t: &Types, ty: u32, data: &[u8], bitinfo: u32, last: bool, out: &mut String) {
    let place = Place {
        bits: bitinfo >> 8,
        shift: bitinfo & 0xff,
        flex: last,
    };
    Dec::new(t).text(ty, data, place, 0, out);
}

/// Adds the integers of `data` into `acc` (both values of type `ty`): per-CPU values summed
/// over the CPUs. Integers add (wrapping); bools, text, enums, pointers and bitfields keep
/// `acc`'s (the first CPU's).
pub fn sum_into(t: &Types, ty: u32, acc: &mut [u8], data: &[u8]) {
    sum_at(t, ty, acc, data, 0, &mut BUDGET.clone());
}

fn sum_at(t: &Types, ty: u32, acc: &mut [u8], data: &[u8], depth: usize, left: &mut usize) {
    if depth > MAX_NEST || *left == 0 {
        return;
    }
    *left -= 1;
    if let Some(i) = t.int(ty) {
        let n = (i.size as usize).min(acc.len()).min(data.len());
        if i.bool || i.char || n == 0 || n > 8 {
            return;
        }
        let v = le(&acc[..n], false).wrapping_add(le(&data[..n], false));
        acc[..n].copy_from_slice(&v.to_le_bytes()[..n]);
        return;
    }
    if let Some((elem, len)) = t.array(ty) {
        let stride = t.size(elem).unwrap_or(0) as usize;
        if stride == 0 {
            return;
        }
        for k in 0..(len as usize)
            .min(acc.len() / stride)
            .min(data.len() / stride)
        {
            let r = k * stride..(k + 1) * stride;
            sum_at(t, elem, &mut acc[r.clone()], &data[r], depth + 1, left);
        }
        return;
    }
    for m in t.members(ty) {
        let off = (m.bit_offset / 8) as usize;
        if m.bits > 0 || off >= acc.len() || off >= data.len() {
            continue;
        }
        sum_at(t, m.ty, &mut acc[off..], &data[off..], depth + 1, left);
    }
}

/// The slots of a histogram value: an array of u32 or u64 counts, or a struct whose only
/// member is one (`struct hist { __u64 slots[64]; }`). None for any other type.
pub fn hist_slots(t: &Types, ty: u32, data: &[u8]) -> Option<Vec<u64>> {
    let mut id = ty;
    let mut base = 0usize;
    let mut members = t.members(ty);
    if let Some(m) = members.next() {
        if members.next().is_some() || m.bits > 0 {
            return None;
        }
        id = m.ty;
        base = (m.bit_offset / 8) as usize;
    }
    let (elem, len) = t.array(id)?;
    let i = t.int(elem)?;
    if !matches!(i.size, 4 | 8) || i.bool || len == 0 || len > 4096 {
        return None;
    }
    let s = i.size as usize;
    let data = data.get(base..)?;
    Some(
        (0..len as usize)
            .map(|k| data.get(k * s..(k + 1) * s).map_or(0, |b| le(b, false)))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::super::types::build::Blob;
    use super::super::types::*;
    use super::*;

    fn obj(t: &Types, ty: u32, data: &[u8]) -> serde_json::Value {
        let mut buf = b"{\"type\":\"event\"".to_vec();
        json_fields(t, ty, data, &mut buf, &["type"]);
        buf.push(b'}');
        serde_json::from_slice(&buf)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&buf)))
    }

    /// struct event { u32 pid; char comm[8]; bool ok; s8 delta; u8 raw[2]; struct { u16 a; } in;
    /// u64 arr[2]; int bits:3; int type; enum e { A = 1, B = -2 } e; char tail[]; }
    fn event() -> (Types, u32) {
        let mut b = Blob::new();
        let u32_ = b.int("unsigned int", 4, 0);
        let ch = b.int("char", 1, 1);
        let comm = b.array(ch, 8);
        let bo = b.int("_Bool", 1, 4);
        let s8 = b.int("signed char", 1, 1);
        let u8_ = b.int("unsigned char", 1, 0);
        let raw = b.array(u8_, 2);
        let u16_ = b.int("unsigned short", 2, 0);
        let inner = b.strukt("", 2, &[("a", u16_, 0, 0)]);
        let u64_ = b.int("unsigned long long", 8, 0);
        let arr = b.array(u64_, 2);
        let int = b.int("int", 4, 1);
        let name_a = b.name("A");
        let name_b = b.name("B");
        let en = b.raw("e", ENUM, true, 2, 4, &[name_a, 1, name_b, (-2i32) as u32]);
        let tail = b.array(ch, 0);
        let ev = b.strukt(
            "event",
            48,
            &[
                ("pid", u32_, 0, 0),
                ("comm", comm, 32, 0),
                ("ok", bo, 96, 0),
                ("delta", s8, 104, 0),
                ("raw", raw, 112, 0),
                ("in", inner, 128, 0),
                ("arr", arr, 192, 0),
                ("bits", int, 320, 3),
                ("type", int, 352, 0),
                ("e", en, 384, 0),
                ("tail", tail, 416, 0),
            ],
        );
        (Types::parse(&b.finish()).unwrap(), ev)
    }

    fn record() -> Vec<u8> {
        let mut d = vec![0u8; 52];
        d[0..4].copy_from_slice(&1234u32.to_le_bytes());
        d[4..8].copy_from_slice(b"sh\xff\0");
        d[12] = 1;
        d[13] = 0xfe;
        d[14..16].copy_from_slice(&[7, 8]);
        d[16..18].copy_from_slice(&515u16.to_le_bytes());
        d[24..32].copy_from_slice(&u64::MAX.to_le_bytes());
        d[32..40].copy_from_slice(&5u64.to_le_bytes());
        d[40] = 0b101; // bits = -3 as a signed 3-bit field
        d[44..48].copy_from_slice(&(-7i32).to_le_bytes());
        d[48..52].copy_from_slice(&(-2i32).to_le_bytes());
        d.extend_from_slice(b"/etc/shadow\0junk");
        d
    }

    #[test]
    fn records_as_json_objects() {
        let (t, ev) = event();
        let v = obj(&t, ev, &record());
        assert_eq!(
            v,
            serde_json::json!({"type": "event", "pid": 1234, "comm": "sh\u{fffd}", "comm_hex": "7368ff",
                "ok": true, "delta": -2, "raw": [7, 8], "in": {"a": 515}, "arr": [u64::MAX, 5],
                "bits": -3, "_type": -7, "e": "B", "tail": "/etc/shadow"})
        );
        // A short record: what the bytes do not cover is null.
        let v = obj(&t, ev, &record()[..10]);
        assert_eq!(v["pid"], 1234);
        assert_eq!(v["comm"], "sh\u{fffd}");
        assert!(v["ok"].is_null() && v["arr"] == serde_json::json!([]));
    }

    #[test]
    fn records_as_text() {
        let (t, ev) = event();
        let mut s = String::new();
        text_value(&t, ev, &record(), &mut s);
        assert_eq!(
            s,
            "{pid=1234 comm=sh\\xff ok=true delta=-2 raw=[7,8] in={a=515} \
             arr=[18446744073709551615,5] bits=-3 type=-7 e=B tail=/etc/shadow}"
        );
        let f = fields(&t, ev);
        assert_eq!(f[0].0, "pid");
        assert_eq!(f.len(), 11);
    }

    #[test]
    fn per_cpu_sums_and_histograms() {
        let mut b = Blob::new();
        let u64_ = b.int("unsigned long long", 8, 0);
        let slots = b.array(u64_, 4);
        let hist = b.strukt("hist", 32, &[("slots", slots, 0, 0)]);
        let t = Types::parse(&b.finish()).unwrap();
        let mut acc: Vec<u8> = [1u64, 2, 3, 4]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let cpu1: Vec<u8> = [10u64, 0, 0, u64::MAX]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        sum_into(&t, hist, &mut acc, &cpu1);
        assert_eq!(hist_slots(&t, hist, &acc), Some(vec![11, 2, 3, 3]));
        assert_eq!(hist_slots(&t, slots, &acc), Some(vec![11, 2, 3, 3]));
        assert_eq!(hist_slots(&t, u64_, &acc), None);
    }

    /// A small deterministic generator (xorshift): the property test needs no crate.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n.max(1)
        }
    }

    /// Random type graphs (cycles, huge arrays, bad ids, deep nesting) and random bytes:
    /// parsing and decoding never panic, and what one record writes stays bounded.
    #[test]
    fn arbitrary_types_and_bytes_never_panic_and_stay_bounded() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for case in 0..5000 {
            let mut b = Blob::new();
            let n = 1 + rng.below(24) as u32;
            for _ in 0..n {
                let any = |r: &mut Rng| r.below(u64::from(n) + 3) as u32;
                match rng.below(9) {
                    0 => {
                        let size = [1, 2, 4, 8, 16, 3, 0][rng.below(7) as usize];
                        b.int(
                            ["char", "int", "x"][rng.below(3) as usize],
                            size,
                            rng.below(8) as u32,
                        )
                    }
                    1 => {
                        let e = any(&mut rng);
                        let len = [0, 1, 4, 64, u32::MAX][rng.below(5) as usize];
                        b.array(e, len)
                    }
                    2 | 3 => {
                        let k = rng.below(5) as usize;
                        let names = ["a", "", "b", "type", "c"];
                        let ms: Vec<(&str, u32, u32, u32)> = (0..k)
                            .map(|i| {
                                (
                                    names[i],
                                    any(&mut rng),
                                    rng.below(600) as u32,
                                    [0, 0, 3, 70][rng.below(4) as usize],
                                )
                            })
                            .collect();
                        b.strukt("s", rng.below(80) as u32, &ms)
                    }
                    4 => b.raw("t", TYPEDEF, false, 0, any(&mut rng), &[]),
                    5 => b.raw("", PTR, false, 0, any(&mut rng), &[]),
                    6 => {
                        let nm = b.name("V");
                        b.raw(
                            "e",
                            ENUM,
                            rng.below(2) == 1,
                            1,
                            [1, 2, 4, 8, 0][rng.below(5) as usize],
                            &[nm, rng.next() as u32],
                        )
                    }
                    7 => b.raw("", CONST, false, 0, any(&mut rng), &[]),
                    _ => b.raw("", UNION, false, 1, 8, &[0, any(&mut rng), 0]),
                };
            }
            let mut blob = b.finish();
            // Now and then, damage the blob itself.
            if case % 7 == 0 && !blob.is_empty() {
                let i = rng.below(blob.len() as u64) as usize;
                blob[i] = rng.next() as u8;
                blob.truncate(blob.len() - rng.below(8) as usize);
            }
            let Ok(t) = Types::parse(&blob) else { continue };
            let data: Vec<u8> = (0..rng.below(300)).map(|_| rng.next() as u8).collect();
            for ty in 0..t.len() as u32 + 2 {
                let mut buf = b"{\"x\":0".to_vec();
                json_fields(&t, ty, &data, &mut buf, &["type"]);
                buf.push(b'}');
                let bound = 32 * BUDGET + 6 * TEXT_BUDGET;
                assert!(buf.len() < bound, "case {case}: {} bytes", buf.len());
                serde_json::from_slice::<serde_json::Value>(&buf).unwrap_or_else(|e| {
                    panic!(
                        "case {case} type {ty}: {e}: {}",
                        String::from_utf8_lossy(&buf)
                    )
                });
                let mut v = Vec::new();
                json_value(&t, ty, &data, &mut v);
                serde_json::from_slice::<serde_json::Value>(&v).unwrap();
                let mut s = String::new();
                text_value(&t, ty, &data, &mut s);
                assert!(s.len() < bound);
                let mut acc = data.clone();
                sum_into(&t, ty, &mut acc, &data);
                let _ = hist_slots(&t, ty, &data);
                let _ = t.describe(ty);
                let _ = fields(&t, ty);
            }
        }
    }
}
