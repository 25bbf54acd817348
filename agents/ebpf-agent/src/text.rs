//! Text-mode helpers: kernel byte strings shown on a terminal without breaking lines.

/// Appends `bytes` for a human: valid UTF-8 as is, `\n`, `\t` and other control bytes and
/// invalid bytes escaped (`\x1b`), so one event stays one line.
pub fn push_escaped(out: &mut String, bytes: &[u8]) {
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                '\\' => out.push_str("\\\\"),
                c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
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
