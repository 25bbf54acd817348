//! Text-mode helpers: kernel byte strings shown on a terminal without breaking lines.

const HEX: &[u8; 16] = b"0123456789abcdef";

fn push_hex_escape(out: &mut String, b: u32) {
    out.push_str("\\x");
    out.push(HEX[(b >> 4 & 0xf) as usize] as char);
    out.push(HEX[(b & 0xf) as usize] as char);
}

/// Appends `bytes` for a human: valid UTF-8 as is, `\n`, `\t` and other control bytes and
/// invalid bytes escaped (`\x1b`), so one event stays one line.
pub fn push_escaped(out: &mut String, bytes: &[u8]) {
    // The common case, printable ASCII, goes in one piece.
    if bytes
        .iter()
        .all(|&b| (0x20..0x7f).contains(&b) && b != b'\\')
    {
        out.push_str(std::str::from_utf8(bytes).unwrap_or_default());
        return;
    }
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                '\\' => out.push_str("\\\\"),
                c if c.is_control() => push_hex_escape(out, c as u32),
                c => out.push(c),
            }
        }
        for &b in chunk.invalid() {
            push_hex_escape(out, b.into());
        }
    }
}

/// Appends `s` padded with spaces to `width` characters on the right (`{:<width$}`).
pub fn push_left(out: &mut String, s: &str, width: usize) {
    out.push_str(s);
    for _ in s.chars().count()..width {
        out.push(' ');
    }
}

/// Appends `bytes` escaped as [`push_escaped`] does, padded to `width` characters.
pub fn push_escaped_left(out: &mut String, bytes: &[u8], width: usize) {
    let start = out.len();
    push_escaped(out, bytes);
    let n = out[start..].chars().count();
    for _ in n..width {
        out.push(' ');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_would_break_a_line() {
        let mut s = String::new();
        push_escaped(&mut s, "a b\n\tc\\\x1bé".as_bytes());
        push_escaped(&mut s, b"\xff");
        assert_eq!(s, "a b\\n\\tc\\\\\\x1bé\\xff");
    }
}
