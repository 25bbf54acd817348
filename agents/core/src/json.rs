//! JSON Lines output: one object per line, written into a reusable buffer without allocating
//! per event.
//!
//! Byte strings from the kernel (paths, argv, comm) may be invalid UTF-8 and may hold any byte.
//! Control bytes are escaped (`\n`, `\u0001`), so a line stays one line. Invalid UTF-8 is shown
//! with U+FFFD in the field itself, and the exact bytes go, in hex, in a companion field named
//! `<field>_hex`, present only then: a script that reads the plain field keeps working, and
//! nothing is lost.
//!
//! Numbers are formatted by hand, not through `std::fmt`: at hundreds of thousands of events a
//! second the formatting machinery was most of the agent's time per JSON line.

/// Builds one JSON object. Field order is the order of the calls.
pub struct Obj<'a> {
    buf: &'a mut Vec<u8>,
    first: bool,
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends `s` to `buf`. The pieces of a JSON line are short (keys, digits, names): for them the
/// C library's memcpy is the cost of the line (musl's x86_64 memcpy starts a `rep movs` for any
/// size), so up to 32 bytes are copied with fixed-size moves the compiler inlines.
#[inline(never)]
pub fn put(buf: &mut Vec<u8>, s: &[u8]) {
    let n = s.len();
    if n > 32 {
        buf.extend_from_slice(s);
        return;
    }
    buf.reserve(32);
    let len = buf.len();
    // SAFETY: `reserve(32)` leaves room for 32 more bytes, and n <= 32. Every read is inside `s`
    // (the two halves overlap when n is not a power of two), every write inside the reserved
    // room, the regions do not overlap (`s` is not in `buf`'s spare capacity), and the first n
    // bytes after `len` are all written before set_len.
    unsafe {
        let src = s.as_ptr();
        let dst = buf.as_mut_ptr().add(len);
        if n >= 16 {
            std::ptr::copy_nonoverlapping(src, dst, 16);
            std::ptr::copy_nonoverlapping(src.add(n - 16), dst.add(n - 16), 16);
        } else if n >= 8 {
            std::ptr::copy_nonoverlapping(src, dst, 8);
            std::ptr::copy_nonoverlapping(src.add(n - 8), dst.add(n - 8), 8);
        } else if n >= 4 {
            std::ptr::copy_nonoverlapping(src, dst, 4);
            std::ptr::copy_nonoverlapping(src.add(n - 4), dst.add(n - 4), 4);
        } else if n >= 2 {
            std::ptr::copy_nonoverlapping(src, dst, 2);
            std::ptr::copy_nonoverlapping(src.add(n - 2), dst.add(n - 2), 2);
        } else if n == 1 {
            *dst = *src;
        }
        buf.set_len(len + n);
    }
}

/// Does byte `b` need escaping inside a JSON string?
#[inline]
fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\' || b == 0x7f
}

/// Appends `s` as a JSON string literal.
pub fn push_str(buf: &mut Vec<u8>, s: &str) {
    buf.reserve(s.len() + 2);
    buf.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if !needs_escape(b) {
            continue;
        }
        put(buf, &bytes[start..i]);
        match b {
            b'"' => put(buf, b"\\\""),
            b'\\' => put(buf, b"\\\\"),
            b'\n' => put(buf, b"\\n"),
            b'\r' => put(buf, b"\\r"),
            b'\t' => put(buf, b"\\t"),
            _ => {
                put(buf, b"\\u00");
                buf.push(HEX[(b >> 4) as usize]);
                buf.push(HEX[(b & 0xf) as usize]);
            }
        }
        start = i + 1;
    }
    put(buf, &bytes[start..]);
    buf.push(b'"');
}

/// Appends `bytes` as lowercase hex inside a JSON string.
pub fn push_hex(buf: &mut Vec<u8>, bytes: &[u8]) {
    buf.reserve(bytes.len() * 2 + 2);
    buf.push(b'"');
    for &b in bytes {
        buf.push(HEX[(b >> 4) as usize]);
        buf.push(HEX[(b & 0xf) as usize]);
    }
    buf.push(b'"');
}

/// Appends the decimal digits of `v`.
#[inline]
pub fn push_u64(buf: &mut Vec<u8>, mut v: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    put(buf, &tmp[i..]);
}

/// Appends the decimal digits of `v`, with a minus sign when negative.
#[inline]
pub fn push_i64(buf: &mut Vec<u8>, v: i64) {
    if v < 0 {
        buf.push(b'-');
    }
    push_u64(buf, v.unsigned_abs());
}

/// Appends `v` as exactly `width` digits, zero-padded (the low digits if it has more).
#[inline]
pub fn push_padded(buf: &mut Vec<u8>, mut v: u64, width: usize) {
    let start = buf.len();
    buf.resize(start + width, b'0');
    for slot in buf[start..].iter_mut().rev() {
        *slot = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

impl<'a> Obj<'a> {
    /// Starts an object at the end of `buf`.
    pub fn new(buf: &'a mut Vec<u8>) -> Self {
        buf.push(b'{');
        Obj { buf, first: true }
    }

    /// Continues an object whose opening brace and first fields are already in `buf`.
    pub fn resume(buf: &'a mut Vec<u8>) -> Self {
        Obj { buf, first: false }
    }

    /// Writes a key (and the comma before it): the value is appended next, by the caller.
    pub fn key(&mut self, k: &str) {
        if !self.first {
            self.buf.push(b',');
        }
        self.first = false;
        self.buf.push(b'"');
        put(self.buf, k.as_bytes());
        put(self.buf, b"\":");
    }

    /// The buffer, for a value written by hand right after [`Obj::key`].
    pub fn raw(&mut self) -> &mut Vec<u8> {
        self.buf
    }

    pub fn str(&mut self, k: &str, v: &str) -> &mut Self {
        self.key(k);
        push_str(self.buf, v);
        self
    }

    pub fn u64(&mut self, k: &str, v: u64) -> &mut Self {
        self.key(k);
        push_u64(self.buf, v);
        self
    }

    pub fn i64(&mut self, k: &str, v: i64) -> &mut Self {
        self.key(k);
        push_i64(self.buf, v);
        self
    }

    /// A number with `decimals` digits after the point, from an integer scaled by 10^decimals.
    pub fn fixed(&mut self, k: &str, scaled: u64, decimals: u32) -> &mut Self {
        self.key(k);
        let p = 10u64.pow(decimals);
        push_u64(self.buf, scaled / p);
        if decimals > 0 {
            self.buf.push(b'.');
            push_padded(self.buf, scaled % p, decimals as usize);
        }
        self
    }

    /// A [`Fixed`](crate::text::Fixed) number.
    pub fn raw_fixed(&mut self, k: &str, v: crate::text::Fixed) -> &mut Self {
        use std::io::Write as _;
        self.key(k);
        let _ = write!(self.buf, "{v}");
        self
    }

    pub fn bool(&mut self, k: &str, v: bool) -> &mut Self {
        self.key(k);
        put(self.buf, if v { b"true" } else { b"false" });
        self
    }

    pub fn null(&mut self, k: &str) -> &mut Self {
        self.key(k);
        put(self.buf, b"null");
        self
    }

    /// A byte string: see the module docs for invalid UTF-8.
    pub fn bytes(&mut self, k: &str, v: &[u8]) -> &mut Self {
        match std::str::from_utf8(v) {
            Ok(s) => self.str(k, s),
            Err(_) => {
                self.str(k, &String::from_utf8_lossy(v));
                self.hex_twin(k);
                push_hex(self.buf, v);
                self
            }
        }
    }

    /// The key `<k>_hex`.
    fn hex_twin(&mut self, k: &str) {
        self.buf.push(b',');
        self.buf.push(b'"');
        put(self.buf, k.as_bytes());
        put(self.buf, b"_hex\":");
    }

    /// An array of byte strings, with `<k>_hex` (every element in hex) if any is not UTF-8.
    pub fn bytes_array<'b>(
        &mut self,
        k: &str,
        items: impl Iterator<Item = &'b [u8]> + Clone,
    ) -> &mut Self {
        self.key(k);
        self.buf.push(b'[');
        let mut all_utf8 = true;
        for (i, item) in items.clone().enumerate() {
            if i > 0 {
                self.buf.push(b',');
            }
            match std::str::from_utf8(item) {
                Ok(s) => push_str(self.buf, s),
                Err(_) => {
                    all_utf8 = false;
                    push_str(self.buf, &String::from_utf8_lossy(item));
                }
            }
        }
        self.buf.push(b']');
        if !all_utf8 {
            self.hex_twin(k);
            self.buf.push(b'[');
            for (i, item) in items.enumerate() {
                if i > 0 {
                    self.buf.push(b',');
                }
                push_hex(self.buf, item);
            }
            self.buf.push(b']');
        }
        self
    }

    /// An array of strings.
    pub fn str_array<'b>(
        &mut self,
        k: &str,
        items: impl IntoIterator<Item = &'b str>,
    ) -> &mut Self {
        self.array(k, items, push_str)
    }

    /// A nested object, written by `f`.
    pub fn object(&mut self, k: &str, f: impl FnOnce(&mut Obj)) -> &mut Self {
        self.key(k);
        let mut o = Obj::new(self.buf);
        f(&mut o);
        o.buf.push(b'}');
        self
    }

    /// An array of objects, each written by `f`.
    pub fn objects<T>(
        &mut self,
        k: &str,
        items: impl IntoIterator<Item = T>,
        mut f: impl FnMut(&mut Obj, T),
    ) -> &mut Self {
        self.array(k, items, |buf, item| {
            let mut o = Obj::new(buf);
            f(&mut o, item);
            o.buf.push(b'}');
        })
    }

    /// An array under `k`, each item written by `f`.
    fn array<T>(
        &mut self,
        k: &str,
        items: impl IntoIterator<Item = T>,
        mut f: impl FnMut(&mut Vec<u8>, T),
    ) -> &mut Self {
        self.key(k);
        self.buf.push(b'[');
        for (i, item) in items.into_iter().enumerate() {
            if i > 0 {
                self.buf.push(b',');
            }
            f(self.buf, item);
        }
        self.buf.push(b']');
        self
    }

    /// Ends the object and the line.
    pub fn end(&mut self) {
        put(self.buf, b"}\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(buf: &[u8]) -> serde_json::Value {
        assert_eq!(buf.last(), Some(&b'\n'));
        assert_eq!(
            buf.iter().filter(|&&b| b == b'\n').count(),
            1,
            "one line per object"
        );
        serde_json::from_slice(buf).expect("valid JSON")
    }

    #[test]
    fn control_bytes_and_quotes_round_trip() {
        let nasty = "a \"b\"\n\tc\\d\u{1}\u{7f}é";
        let mut buf = Vec::new();
        Obj::new(&mut buf)
            .str("s", nasty)
            .u64("n", u64::MAX)
            .i64("r", -2)
            .bool("t", true)
            .end();
        let v = parse(&buf);
        assert_eq!(v["s"], nasty);
        assert_eq!(v["n"], u64::MAX);
        assert_eq!(v["r"], -2);
        assert_eq!(v["t"], true);
    }

    #[test]
    fn invalid_utf8_keeps_the_exact_bytes_in_hex() {
        let raw: &[u8] = b"ab\xff\xfe\n";
        let mut buf = Vec::new();
        Obj::new(&mut buf)
            .bytes("comm", raw)
            .bytes("ok", b"fine")
            .end();
        let v = parse(&buf);
        assert_eq!(v["comm"], "ab\u{fffd}\u{fffd}\n");
        let hex = v["comm_hex"].as_str().unwrap();
        let back: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        assert_eq!(back, raw);
        assert!(v.get("ok_hex").is_none(), "no companion for valid UTF-8");
    }

    #[test]
    fn arrays_get_a_hex_twin_only_when_needed() {
        let args: Vec<&[u8]> = vec![b"x", b"\xc3(", b""];
        let mut buf = Vec::new();
        Obj::new(&mut buf)
            .bytes_array("args", args.iter().copied())
            .end();
        let v = parse(&buf);
        assert_eq!(v["args"].as_array().unwrap().len(), 3);
        assert_eq!(v["args_hex"], serde_json::json!(["78", "c328", ""]));

        let mut buf = Vec::new();
        let ok: Vec<&[u8]> = vec![b"a b", b"\"q\""];
        Obj::new(&mut buf)
            .bytes_array("args", ok.iter().copied())
            .end();
        let v = parse(&buf);
        assert_eq!(v["args"], serde_json::json!(["a b", "\"q\""]));
        assert!(v.get("args_hex").is_none());
    }

    #[test]
    fn put_copies_every_length_exactly() {
        let src: Vec<u8> = (0..40u8).map(|b| b.wrapping_mul(37)).collect();
        for n in 0..=40 {
            let mut buf = b"head".to_vec();
            put(&mut buf, &src[..n]);
            assert_eq!(&buf[..4], b"head");
            assert_eq!(&buf[4..], &src[..n], "length {n}");
        }
    }

    #[test]
    fn numbers_by_hand_match_std() {
        for v in [0u64, 1, 9, 10, 99, 100, 12345, u32::MAX as u64, u64::MAX] {
            let mut b = Vec::new();
            push_u64(&mut b, v);
            assert_eq!(b, v.to_string().as_bytes());
        }
        for v in [0i64, -1, -10, i64::MIN, i64::MAX] {
            let mut b = Vec::new();
            push_i64(&mut b, v);
            assert_eq!(b, v.to_string().as_bytes());
        }
        let mut b = Vec::new();
        push_padded(&mut b, 42, 6);
        assert_eq!(b, b"000042");
        let mut buf = Vec::new();
        Obj::new(&mut buf)
            .fixed("s", 1_250, 2)
            .fixed("t", 7, 3)
            .end();
        assert_eq!(buf, b"{\"s\":12.50,\"t\":0.007}\n");
    }

    #[test]
    fn nested_objects() {
        let mut buf = Vec::new();
        Obj::new(&mut buf)
            .objects("tools", ["a", "b"], |o, n| {
                o.str("name", n).bool("ok", n == "a");
            })
            .u64("n", 2)
            .object("o", |o| {
                o.str_array("names", ["x", "y\""]);
            })
            .end();
        let v = parse(&buf);
        assert_eq!(
            v,
            serde_json::json!({"tools": [{"name": "a", "ok": true}, {"name": "b", "ok": false}], "n": 2,
                "o": {"names": ["x", "y\""]}})
        );
    }
}
