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

/// Pads what was appended to `out` since byte `start` with spaces to `width` characters.
pub fn pad_from(out: &mut String, start: usize, width: usize) {
    for _ in out[start..].chars().count()..width {
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

/// A decimal number with a fixed count of decimals, from an integer scaled by 10^decimals
/// (`Fixed::new(125, 2)` shows as `1.25`), formatted without floating point: `{:<7}` and the
/// other width and alignment flags work as for strings.
#[derive(Debug, Clone, Copy)]
pub struct Fixed {
    scaled: i128,
    decimals: u32,
}

impl Fixed {
    pub fn new(scaled: i128, decimals: u32) -> Fixed {
        Fixed { scaled, decimals }
    }

    /// `num / den` rounded to `decimals` decimals (half away from zero).
    pub fn ratio(num: i128, den: i128, decimals: u32) -> Fixed {
        let p = 10i128.pow(decimals);
        let den = den.max(1);
        let x = num * p;
        let q = (x.abs() + den / 2) / den;
        Fixed::new(if x < 0 { -q } else { q }, decimals)
    }
}

impl std::fmt::Display for Fixed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut b = Vec::with_capacity(48);
        if self.scaled < 0 {
            b.push(b'-');
        }
        let v = self.scaled.unsigned_abs();
        let p = 10u128.pow(self.decimals);
        crate::json::push_u64(&mut b, (v / p).min(u64::MAX as u128) as u64);
        if self.decimals > 0 {
            b.push(b'.');
            crate::json::push_padded(&mut b, (v % p) as u64, self.decimals as usize);
        }
        f.pad(std::str::from_utf8(&b).unwrap_or("?"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_point_like_float_formatting() {
        assert_eq!(format!("{:<7}|", Fixed::new(125, 2)), "1.25   |");
        assert_eq!(
            format!("{:>8}", Fixed::ratio(1_234_567, 1000, 3)),
            "1234.567"
        );
        assert_eq!(Fixed::ratio(2, 3, 2).to_string(), "0.67");
        assert_eq!(Fixed::ratio(-1, 2, 0).to_string(), "-1");
        assert_eq!(Fixed::ratio(-5, 1000, 3).to_string(), "-0.005");
        assert_eq!(Fixed::new(7, 0).to_string(), "7");
        for (num, den, d) in [
            (1u64, 3u64, 3u32),
            (999, 1000, 2),
            (123_456_789, 1_000_000, 1),
        ] {
            let want = format!("{:.*}", d as usize, num as f64 / den as f64);
            assert_eq!(Fixed::ratio(num.into(), den.into(), d).to_string(), want);
        }
    }

    #[test]
    fn escapes_what_would_break_a_line() {
        let mut s = String::new();
        push_escaped(&mut s, "a b\n\tc\\\x1bé".as_bytes());
        push_escaped(&mut s, b"\xff");
        assert_eq!(s, "a b\\n\\tc\\\\\\x1bé\\xff");
    }
}
