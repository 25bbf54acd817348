//! `--set NAME=VALUE`: a `const volatile` global of the object's `.rodata`, written before
//! load (so the verifier prunes what it turns off), typed by the object's BTF: integers
//! (decimal, 0x hex, negative for signed types, in range), bools, enums (by enumerator name
//! or value) and char arrays (strings, NUL-terminated within the array).

use agent_core::btf::types::{Types, ENUM, ENUM64};
use agent_core::error::Error;

/// The globals `--set` can write: name and type, for messages.
pub fn settable(t: &Types) -> Vec<(String, String)> {
    t.section_vars(".rodata")
        .into_iter()
        .filter(|v| !v.name.contains('.') && !v.name.is_empty())
        .map(|v| (v.name.to_string(), t.describe(v.ty)))
        .collect()
}

fn listing(t: &Types) -> String {
    let s = settable(t);
    if s.is_empty() {
        return "the object has no const volatile globals to set".into();
    }
    let l: Vec<String> = s.iter().map(|(n, ty)| format!("{n} ({ty})")).collect();
    format!("it has: {}", l.join(", "))
}

/// An integer in decimal or 0x hex, possibly negative.
fn parse_int(s: &str) -> Option<i128> {
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let v = match body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16).ok()?,
        None if !body.is_empty() && body.bytes().all(|b| b.is_ascii_digit()) => {
            body.parse::<u64>().ok()?
        }
        None => return None,
    };
    Some(if neg { -i128::from(v) } else { i128::from(v) })
}

/// The bytes `value` stands for in a global of type `ty`, or why it cannot.
fn encode(t: &Types, ty: u32, value: &str) -> Result<Vec<u8>, String> {
    let kind = t.describe(ty);
    if let Some(i) = t.int(ty) {
        if i.bool {
            return match value {
                "1" | "true" | "yes" | "on" => Ok(vec![1]),
                "0" | "false" | "no" | "off" => Ok(vec![0]),
                _ => Err(format!("{value:?} is not a bool (true/false, 1/0)")),
            };
        }
        if i.size == 0 || i.size > 8 {
            return Err(format!("its type {kind} cannot be set"));
        }
        let bits = 8 * i.size;
        let (lo, hi) = if i.signed {
            (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)
        } else {
            (0, (1i128 << bits) - 1)
        };
        let v = parse_int(value).ok_or_else(|| format!("{value:?} is not an integer ({kind})"))?;
        if v < lo || v > hi {
            return Err(format!("{value} is out of range for {kind} ({lo}..{hi})"));
        }
        return Ok((v as i64).to_le_bytes()[..i.size as usize].to_vec());
    }
    if matches!(t.kind(t.resolve(ty)), ENUM | ENUM64) {
        let size = t.size(ty).unwrap_or(4).clamp(1, 8) as usize;
        let (names, _) = t.enumerators(ty);
        let mut known = Vec::new();
        for (n, v) in names {
            if n == value {
                return Ok(v.to_le_bytes()[..size].to_vec());
            }
            known.push(n.to_string());
        }
        return match parse_int(value) {
            Some(v) => Ok((v as i64).to_le_bytes()[..size].to_vec()),
            None => Err(format!(
                "{value:?} is not one of {kind}: {}",
                known.join(", ")
            )),
        };
    }
    if let Some((elem, len)) = t.array(ty) {
        if t.int(elem).is_some_and(|i| i.char && i.size == 1) {
            if value.len() >= len as usize {
                return Err(format!(
                    "{value:?} is too long for {kind}: at most {} bytes",
                    len.saturating_sub(1)
                ));
            }
            let mut b = value.as_bytes().to_vec();
            b.resize(len as usize, 0);
            return Ok(b);
        }
    }
    Err(format!(
        "its type {kind} cannot be set: --set writes integers, bools, enums and char arrays"
    ))
}

/// Writes every `NAME=VALUE` of `sets` into `rodata` (the section's initial image, laid out
/// as `t` says). Returns what was set, for the `-v` line; a usage error names what exists.
pub fn apply(t: &Types, rodata: &mut [u8], sets: &[String]) -> Result<Vec<String>, Error> {
    let vars = t.section_vars(".rodata");
    let mut done = Vec::new();
    for s in sets {
        let Some((name, value)) = s.split_once('=') else {
            return Err(Error::usage(format!("--set {s:?}: use NAME=VALUE")).hint(listing(t)));
        };
        let Some(v) = vars.iter().find(|v| v.name == name && !name.contains('.')) else {
            return Err(Error::usage(format!(
                "--set {name}: the object has no const volatile global {name:?}"
            ))
            .hint(listing(t)));
        };
        let bytes = encode(t, v.ty, value)
            .map_err(|why| Error::usage(format!("--set {name}: {why}")).hint(listing(t)))?;
        let (start, end) = (v.offset as usize, v.offset as usize + bytes.len());
        if bytes.len() > v.size as usize || end > rodata.len() {
            return Err(Error::usage(format!(
                "--set {name}: the variable lies outside .rodata (a damaged object?)"
            )));
        }
        rodata[start..end].copy_from_slice(&bytes);
        done.push(format!("{name}={value}"));
    }
    Ok(done)
}
