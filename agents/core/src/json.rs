//! JSON Lines output: one object per line, written into a reusable buffer without allocating
//! per event.
//!
//! Byte strings from the kernel (paths, argv, comm) may be invalid UTF-8 and may hold any byte.
//! Control bytes are escaped (`\n`, `\u0001`), so a line stays one line. Invalid UTF-8 is shown
//! with U+FFFD in the field itself, and the exact bytes go, in hex, in a companion field named
//! `<field>_hex`, present only then: a script that reads the plain field keeps working, and
//! nothing is lost.

use std::fmt::Write as _;

/// Builds one JSON object. Field order is the order of the calls.
pub struct Obj<'a> {
    buf: &'a mut Vec<u8>,
    first: bool,
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends `s` as a JSON string literal.
pub fn push_str(buf: &mut Vec<u8>, s: &str) {
    buf.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f | 0x7f => b"",
            _ => continue,
        };
        buf.extend_from_slice(&bytes[start..i]);
        if esc.is_empty() {
            buf.extend_from_slice(b"\\u00");
            buf.push(HEX[(b >> 4) as usize]);
            buf.push(HEX[(b & 0xf) as usize]);
        } else {
            buf.extend_from_slice(esc);
        }
        start = i + 1;
    }
    buf.extend_from_slice(&bytes[start..]);
    buf.push(b'"');
}

/// Appends `bytes` as lowercase hex inside a JSON string.
pub fn push_hex(buf: &mut Vec<u8>, bytes: &[u8]) {
    buf.push(b'"');
    for &b in bytes {
        buf.push(HEX[(b >> 4) as usize]);
        buf.push(HEX[(b & 0xf) as usize]);
    }
    buf.push(b'"');
}

impl<'a> Obj<'a> {
    /// Starts an object at the end of `buf`.
    pub fn new(buf: &'a mut Vec<u8>) -> Self {
        buf.push(b'{');
        Obj { buf, first: true }
    }

    fn key(&mut self, k: &str) {
        if !self.first {
            self.buf.push(b',');
        }
        self.first = false;
        push_str(self.buf, k);
        self.buf.push(b':');
    }

    pub fn str(&mut self, k: &str, v: &str) -> &mut Self {
        self.key(k);
        push_str(self.buf, v);
        self
    }

    pub fn u64(&mut self, k: &str, v: u64) -> &mut Self {
        self.key(k);
        let _ = write!(Fmt(self.buf), "{v}");
        self
    }

    pub fn i64(&mut self, k: &str, v: i64) -> &mut Self {
        self.key(k);
        let _ = write!(Fmt(self.buf), "{v}");
        self
    }

    pub fn bool(&mut self, k: &str, v: bool) -> &mut Self {
        self.key(k);
        self.buf
            .extend_from_slice(if v { b"true" } else { b"false" });
        self
    }

    pub fn null(&mut self, k: &str) -> &mut Self {
        self.key(k);
        self.buf.extend_from_slice(b"null");
        self
    }

    /// A byte string: see the module docs for invalid UTF-8.
    pub fn bytes(&mut self, k: &str, v: &[u8]) -> &mut Self {
        match std::str::from_utf8(v) {
            Ok(s) => self.str(k, s),
            Err(_) => {
                self.str(k, &String::from_utf8_lossy(v));
                self.key(&format!("{k}_hex"));
                push_hex(self.buf, v);
                self
            }
        }
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
            self.key(&format!("{k}_hex"));
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

    /// An array of objects, each written by `f`.
    pub fn objects<T>(
        &mut self,
        k: &str,
        items: impl IntoIterator<Item = T>,
        mut f: impl FnMut(&mut Obj, T),
    ) -> &mut Self {
        self.key(k);
        self.buf.push(b'[');
        for (i, item) in items.into_iter().enumerate() {
            if i > 0 {
                self.buf.push(b',');
            }
            let mut o = Obj::new(self.buf);
            f(&mut o, item);
            o.buf.push(b'}');
        }
        self.buf.push(b']');
        self
    }

    /// Ends the object and the line.
    pub fn end(&mut self) {
        self.buf.extend_from_slice(b"}\n");
    }
}

struct Fmt<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for Fmt<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
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
    fn nested_objects() {
        let mut buf = Vec::new();
        Obj::new(&mut buf)
            .objects("tools", ["a", "b"], |o, n| {
                o.str("name", n).bool("ok", n == "a");
            })
            .u64("n", 2)
            .end();
        let v = parse(&buf);
        assert_eq!(
            v,
            serde_json::json!({"tools": [{"name": "a", "ok": true}, {"name": "b", "ok": false}], "n": 2})
        );
    }
}
