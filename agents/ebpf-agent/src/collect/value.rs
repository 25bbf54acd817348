//! A small JSON reader for the collector: its config file, and the interval lines it turns into
//! metrics (a few a second at most, never the per-event path). Every value keeps the line it
//! starts on, so an error in the config names its line as well as its key.
//!
//! serde_json would do the parsing, but costs more bytes on the board than this reader (see
//! docs/collect.md, "Size"). Integers are kept exactly; other numbers keep their text.

use std::fmt;

/// A JSON value and the line (1-based) it starts on.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub line: u32,
    pub v: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    /// A non-negative integer that fits 64 bits.
    Uint(u64),
    /// A negative integer that fits 64 bits.
    Int(i64),
    /// Any other number, as written.
    Number(String),
    Str(String),
    Array(Vec<Node>),
    /// Members in the order written (duplicates are an error).
    Object(Vec<(String, Node)>),
}

impl Value {
    /// What the value is, for messages ("a string", "an object", ...).
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Uint(_) | Value::Int(_) | Value::Number(_) => "a number",
            Value::Str(_) => "a string",
            Value::Array(_) => "an array",
            Value::Object(_) => "an object",
        }
    }
}

impl Node {
    /// The member `key` of an object.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.v {
            Value::Object(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.v {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_u64(&self) -> Option<u64> {
        match self.v {
            Value::Uint(n) => Some(n),
            _ => None,
        }
    }
}

/// Where and why the text is not JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub line: u32,
    pub column: u32,
    pub msg: String,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.msg
        )
    }
}

/// Nesting deeper than this is refused (a config is a few levels deep).
const MAX_DEPTH: u32 = 64;

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
    line: u32,
    line_start: usize,
    depth: u32,
}

/// Parses one JSON document (surrounding white space allowed, nothing else after it).
pub fn parse(text: &[u8]) -> Result<Node, SyntaxError> {
    let mut p = Parser {
        s: text,
        pos: 0,
        line: 1,
        line_start: 0,
        depth: 0,
    };
    p.ws();
    let v = p.value()?;
    p.ws();
    if p.pos < p.s.len() {
        return Err(p.err("more text after the JSON value"));
    }
    Ok(v)
}

impl Parser<'_> {
    fn err(&self, msg: impl Into<String>) -> SyntaxError {
        // Columns count characters, not bytes.
        let upto = &self.s[self.line_start..self.pos.min(self.s.len())];
        let column = 1 + upto.iter().filter(|&&b| b & 0xc0 != 0x80).count() as u32;
        SyntaxError {
            line: self.line,
            column,
            msg: msg.into(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn ws(&mut self) {
        while let Some(b) = self.peek() {
            match b {
                b'\n' => {
                    self.pos += 1;
                    self.line += 1;
                    self.line_start = self.pos;
                }
                b' ' | b'\t' | b'\r' => self.pos += 1,
                _ => break,
            }
        }
    }

    fn expect_word(&mut self, word: &str, v: Value) -> Result<Value, SyntaxError> {
        if self.s[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(v)
        } else {
            Err(self.err("expected a JSON value"))
        }
    }

    fn value(&mut self) -> Result<Node, SyntaxError> {
        let line = self.line;
        let v = match self.peek() {
            None => return Err(self.err("unexpected end of the text")),
            Some(b'{') => self.nested(Parser::object)?,
            Some(b'[') => self.nested(Parser::array)?,
            Some(b'"') => Value::Str(self.string()?),
            Some(b't') => self.expect_word("true", Value::Bool(true))?,
            Some(b'f') => self.expect_word("false", Value::Bool(false))?,
            Some(b'n') => self.expect_word("null", Value::Null)?,
            Some(b'-' | b'0'..=b'9') => self.number()?,
            Some(_) => return Err(self.err("expected a JSON value")),
        };
        Ok(Node { line, v })
    }

    fn nested(
        &mut self,
        f: fn(&mut Self) -> Result<Value, SyntaxError>,
    ) -> Result<Value, SyntaxError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err("nested too deeply"));
        }
        let v = f(self);
        self.depth -= 1;
        v
    }

    fn object(&mut self) -> Result<Value, SyntaxError> {
        self.pos += 1;
        let mut members: Vec<(String, Node)> = Vec::new();
        self.ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Value::Object(members));
        }
        loop {
            self.ws();
            if self.peek() != Some(b'"') {
                return Err(self.err("expected a key in double quotes"));
            }
            let key = self.string()?;
            if members.iter().any(|(k, _)| *k == key) {
                return Err(self.err(format!("key {key:?} appears twice")));
            }
            self.ws();
            if self.peek() != Some(b':') {
                return Err(self.err(format!("expected ':' after the key {key:?}")));
            }
            self.pos += 1;
            self.ws();
            let v = self.value()?;
            members.push((key, v));
            self.ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Value::Object(members));
                }
                _ => return Err(self.err("expected ',' or '}' after an object member")),
            }
        }
    }

    fn array(&mut self) -> Result<Value, SyntaxError> {
        self.pos += 1;
        let mut items = Vec::new();
        self.ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Value::Array(items));
        }
        loop {
            self.ws();
            items.push(self.value()?);
            self.ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Value::Array(items));
                }
                _ => return Err(self.err("expected ',' or ']' after an array element")),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, SyntaxError> {
        let digits = self.s.get(self.pos..self.pos + 4).unwrap_or_default();
        let text = std::str::from_utf8(digits).unwrap_or("");
        match (text.len() == 4).then(|| u32::from_str_radix(text, 16).ok()) {
            Some(Some(v)) => {
                self.pos += 4;
                Ok(v)
            }
            _ => Err(self.err("expected 4 hex digits after \\u")),
        }
    }

    fn string(&mut self) -> Result<String, SyntaxError> {
        self.pos += 1;
        let mut out: Vec<u8> = Vec::new();
        loop {
            let start = self.pos;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            out.extend_from_slice(&self.s[start..self.pos]);
            match self.peek() {
                None => return Err(self.err("unterminated string")),
                Some(b'"') => {
                    self.pos += 1;
                    return String::from_utf8(out).map_err(|_| self.err("a string is not UTF-8"));
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let c = match self.peek() {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            self.pos += 1;
                            let hi = self.hex4()?;
                            let cp = if (0xd800..0xdc00).contains(&hi)
                                && self.s[self.pos..].starts_with(b"\\u")
                            {
                                self.pos += 2;
                                let lo = self.hex4()?;
                                if !(0xdc00..0xe000).contains(&lo) {
                                    return Err(self.err("invalid surrogate pair"));
                                }
                                0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00)
                            } else {
                                hi
                            };
                            let c = char::from_u32(cp)
                                .ok_or_else(|| self.err("invalid \\u escape (a lone surrogate)"))?;
                            let mut b = [0u8; 4];
                            out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
                            continue;
                        }
                        _ => return Err(self.err("invalid escape in a string")),
                    };
                    self.pos += 1;
                    out.push(c as u8);
                }
                Some(_) => return Err(self.err("control character in a string (escape it)")),
            }
        }
    }

    fn number(&mut self) -> Result<Value, SyntaxError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        let digits = |p: &mut Self| {
            let s = p.pos;
            while p.peek().is_some_and(|b| b.is_ascii_digit()) {
                p.pos += 1;
            }
            p.pos - s
        };
        let int_start = self.pos;
        let n = digits(self);
        if n == 0 || (n > 1 && self.s[int_start] == b'0') {
            return Err(self.err("invalid number"));
        }
        let mut integer = true;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            integer = false;
            if digits(self) == 0 {
                return Err(self.err("invalid number: digits must follow '.'"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            integer = false;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if digits(self) == 0 {
                return Err(self.err("invalid number: digits must follow the exponent"));
            }
        }
        let text = std::str::from_utf8(&self.s[start..self.pos]).unwrap_or_default();
        if integer {
            if let Ok(u) = text.parse::<u64>() {
                return Ok(Value::Uint(u));
            }
            if let Ok(i) = text.parse::<i64>() {
                return Ok(Value::Int(i));
            }
        }
        Ok(Value::Number(text.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Value {
        parse(text.as_bytes()).unwrap().v
    }

    fn e(text: &str) -> SyntaxError {
        parse(text.as_bytes()).unwrap_err()
    }

    #[test]
    fn values_and_their_lines() {
        let n = parse(b"{\n \"a\": [1, -2, 3.5, 1e3],\n \"b\": {\"c\": null},\n \"d\": \"x\\n\\u00e9\\ud83d\\ude00\"\n}").unwrap();
        assert_eq!(n.line, 1);
        let a = n.get("a").unwrap();
        assert_eq!(a.line, 2);
        assert_eq!(
            a.v,
            Value::Array(vec![
                Node {
                    line: 2,
                    v: Value::Uint(1)
                },
                Node {
                    line: 2,
                    v: Value::Int(-2)
                },
                Node {
                    line: 2,
                    v: Value::Number("3.5".into())
                },
                Node {
                    line: 2,
                    v: Value::Number("1e3".into())
                },
            ])
        );
        assert_eq!(n.get("b").unwrap().get("c").unwrap().line, 3);
        assert_eq!(n.get("d").unwrap().as_str(), Some("x\né😀"));
        assert_eq!(v("18446744073709551615"), Value::Uint(u64::MAX));
        assert_eq!(
            v("18446744073709551616"),
            Value::Number("18446744073709551616".into())
        );
        assert_eq!(
            v(" [true,false] "),
            Value::Array(vec![
                Node {
                    line: 1,
                    v: Value::Bool(true)
                },
                Node {
                    line: 1,
                    v: Value::Bool(false)
                },
            ])
        );
        // What serde_json writes for the same text, our reader reads the same way.
        let text = r#"{"s":"q\"\\\/\b\f\r\t","n":[0,-0,12]}"#;
        let ours = parse(text.as_bytes()).unwrap();
        let theirs: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(ours.get("s").unwrap().as_str(), theirs["s"].as_str());
    }

    #[test]
    fn errors_say_where() {
        let x = e("{\n  \"a\": 1\n  \"b\": 2\n}");
        assert_eq!((x.line, x.column), (3, 3));
        assert!(x.msg.contains("expected ',' or '}'"), "{x}");
        assert!(e("{\"a\": 1, \"a\": 2}").msg.contains("appears twice"));
        assert!(e("[1, 2,]").msg.contains("expected a JSON value"));
        assert!(e("{\"a\" 1}").msg.contains("expected ':'"));
        assert!(e("\"abc").msg.contains("unterminated"));
        assert!(e("01").msg.contains("invalid number"));
        assert!(e("1.").msg.contains("invalid number"));
        assert!(e("{} x").msg.contains("more text"));
        assert!(e("\"\\ud800\"").msg.contains("lone surrogate"));
        assert!(e("\"a\tb\"").msg.contains("control character"));
        assert!(e("").msg.contains("end of the text"));
        assert!(e(&"[".repeat(100)).msg.contains("nested too deeply"));
        let x = e("{\"é\": tru}");
        assert_eq!(x.column, 7, "columns count characters");
    }
}
