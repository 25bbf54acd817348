//! Kernel symbols from `/proc/kallsyms`, resolved in batches: one pass over the file finds
//! the symbol of every address asked for, keeping memory proportional to the addresses, not
//! to the 100,000+ symbols (megabytes) a kernel has.
//!
//! `kernel.kptr_restrict` decides what the file shows: 0 every address, 1 addresses to
//! CAP_SYSLOG only, 2 zeros to everyone. With zeros nothing can be resolved: [`Status`] says
//! so and how to change it.

use std::io::BufRead;
use std::ops::ControlFlow;

pub const KALLSYMS: &str = "/proc/kallsyms";

/// A kernel symbol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ksym {
    pub name: String,
    /// The module it belongs to; None for the kernel image itself.
    pub module: Option<String>,
    /// How far into it the address is.
    pub offset: u64,
}

/// Whether kernel addresses can be named here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Not tried yet.
    Unknown,
    Available,
    /// Addresses hidden (all zero): the value of kernel.kptr_restrict, if readable.
    Hidden(Option<u32>),
    /// /proc/kallsyms could not be read (the error).
    Unreadable(String),
}

impl Status {
    /// One word for JSON: `kallsyms`, `hidden`, `unreadable` (or `unknown`).
    pub fn word(&self) -> &'static str {
        match self {
            Status::Unknown => "unknown",
            Status::Available => "kallsyms",
            Status::Hidden(_) => "hidden",
            Status::Unreadable(_) => "unreadable",
        }
    }

    /// Why kernel frames are not named, and the fix; None when they are.
    pub fn problem(&self) -> Option<String> {
        match self {
            Status::Unknown | Status::Available => None,
            Status::Hidden(k) => Some(format!(
                "kernel frames are not named: /proc/kallsyms shows no addresses \
                 (kernel.kptr_restrict={}); run as root with CAP_SYSLOG and \
                 `sysctl kernel.kptr_restrict=1`",
                k.map_or("?".to_string(), |v| v.to_string())
            )),
            Status::Unreadable(e) => Some(format!(
                "kernel frames are not named: cannot read {KALLSYMS} ({e}): enable CONFIG_KALLSYMS"
            )),
        }
    }
}

/// kernel.kptr_restrict, if readable.
pub fn kptr_restrict() -> Option<u32> {
    std::fs::read_to_string("/proc/sys/kernel/kptr_restrict")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// One line of kallsyms: address, type, name, module.
type Line<'a> = (u64, u8, &'a [u8], Option<&'a [u8]>);

fn parse_line(line: &[u8]) -> Option<Line<'_>> {
    let sp = line.iter().position(|&c| c == b' ')?;
    let mut addr = 0u64;
    for &c in &line[..sp] {
        let d = (c as char).to_digit(16)? as u64;
        addr = addr << 4 | d;
    }
    let ty = *line.get(sp + 1)?;
    let rest = line.get(sp + 3..)?;
    let rest = rest.strip_suffix(b"\n").unwrap_or(rest);
    match rest.iter().position(|&c| c == b'\t') {
        Some(t) => {
            let m = &rest[t + 1..];
            let m = m.strip_prefix(b"[").unwrap_or(m);
            let m = m.strip_suffix(b"]").unwrap_or(m);
            Some((addr, ty, &rest[..t], Some(m)))
        }
        None => Some((addr, ty, rest, None)),
    }
}

/// Calls `f` on each line of kallsyms text (newline included) until it breaks with a value.
fn each_line<R>(
    mut input: impl BufRead,
    mut f: impl FnMut(&[u8]) -> ControlFlow<R>,
) -> Result<Option<R>, Status> {
    let mut line = Vec::with_capacity(128);
    loop {
        line.clear();
        match input.read_until(b'\n', &mut line) {
            Ok(0) => return Ok(None),
            Ok(_) => {}
            Err(e) => return Err(Status::Unreadable(e.to_string())),
        }
        if let ControlFlow::Break(r) = f(&line) {
            return Ok(Some(r));
        }
    }
}

/// kallsyms, buffered.
fn open_kallsyms() -> Result<std::io::BufReader<std::fs::File>, Status> {
    let f = std::fs::File::open(KALLSYMS).map_err(|e| Status::Unreadable(e.to_string()))?;
    Ok(std::io::BufReader::with_capacity(64 * 1024, f))
}

/// Resolves `addrs` (sorted ascending, no duplicates) against kallsyms text read from
/// `input`: for each, the text symbol at or below it. Err(status) when the addresses are
/// hidden.
pub fn resolve_from(input: impl BufRead, addrs: &[u64]) -> Result<Vec<Option<Ksym>>, Status> {
    // Per gap between queried addresses: the highest symbol that starts in it.
    let mut best: Vec<Option<(u64, String, Option<String>)>> = vec![None; addrs.len()];
    let mut seen_nonzero = false;
    let mut lines = 0u64;
    let hidden = each_line(input, |line| {
        lines += 1;
        let Some((a, ty, name, module)) = parse_line(line) else {
            return ControlFlow::Continue(());
        };
        if a == 0 {
            if !seen_nonzero && lines > 16 {
                return ControlFlow::Break(());
            }
            return ControlFlow::Continue(());
        }
        seen_nonzero = true;
        if !matches!(ty, b't' | b'T' | b'w' | b'W') {
            return ControlFlow::Continue(());
        }
        let i = addrs.partition_point(|&q| q < a);
        if i < addrs.len() && best[i].as_ref().is_none_or(|b| a > b.0) {
            let slot = best[i].get_or_insert_with(|| (0, String::new(), None));
            slot.0 = a;
            slot.1.clear();
            slot.1.push_str(&String::from_utf8_lossy(name));
            slot.2 = module.map(|m| String::from_utf8_lossy(m).into_owned());
        }
        ControlFlow::Continue(())
    })?;
    if hidden.is_some() {
        return Err(Status::Hidden(kptr_restrict()));
    }
    if !seen_nonzero {
        return Err(if lines == 0 {
            Status::Unreadable("empty".into())
        } else {
            Status::Hidden(kptr_restrict())
        });
    }
    let mut out = Vec::with_capacity(addrs.len());
    let mut cur: Option<&(u64, String, Option<String>)> = None;
    for (i, &q) in addrs.iter().enumerate() {
        if let Some(b) = &best[i] {
            cur = Some(b);
        }
        out.push(cur.map(|(a, name, module)| Ksym {
            name: name.clone(),
            module: module.clone(),
            offset: q - a,
        }));
    }
    Ok(out)
}

/// [`resolve_from`] on this kernel's /proc/kallsyms.
pub fn resolve(addrs: &[u64]) -> Result<Vec<Option<Ksym>>, Status> {
    resolve_from(open_kallsyms()?, addrs)
}

/// Whether kallsyms shows addresses, from its first lines.
pub fn status() -> Status {
    let f = match std::fs::File::open(KALLSYMS) {
        Ok(f) => f,
        Err(e) => return Status::Unreadable(e.to_string()),
    };
    let input = std::io::BufReader::with_capacity(4096, f);
    let mut seen = 0;
    for line in input.split(b'\n').take(64) {
        let Ok(line) = line else { break };
        seen += 1;
        if parse_line(&line).is_some_and(|l| l.0 != 0) {
            return Status::Available;
        }
    }
    if seen == 0 {
        Status::Unreadable("empty".into())
    } else {
        Status::Hidden(kptr_restrict())
    }
}

/// The addresses of the text symbols named in `names` (one pass over kallsyms); a name the
/// kernel has twice keeps its first address.
pub fn addresses_of(names: &[String]) -> Result<Vec<(u64, String)>, Status> {
    let mut found: Vec<(u64, String)> = Vec::new();
    let mut done = vec![false; names.len()];
    let hidden = each_line(open_kallsyms()?, |line| {
        let Some((a, b't' | b'T', n, _)) = parse_line(line) else {
            return ControlFlow::Continue(());
        };
        let Ok(n) = std::str::from_utf8(n) else {
            return ControlFlow::Continue(());
        };
        if let Ok(i) = names.binary_search_by(|x| x.as_str().cmp(n)) {
            if a == 0 {
                return ControlFlow::Break(());
            }
            if !done[i] {
                done[i] = true;
                found.push((a, names[i].clone()));
            }
        }
        ControlFlow::Continue(())
    })?;
    if hidden.is_some() {
        return Err(Status::Hidden(kptr_restrict()));
    }
    crate::sort::sort_by(&mut found, |a, b| a.0.cmp(&b.0));
    Ok(found)
}

/// The address of kernel symbol `name` (the first text symbol of that name).
pub fn address_of(name: &str) -> Option<u64> {
    let input = open_kallsyms().ok()?;
    each_line(input, |line| match parse_line(line) {
        Some((a, b't' | b'T', n, _)) if n == name.as_bytes() && a != 0 => ControlFlow::Break(a),
        _ => ControlFlow::Continue(()),
    })
    .ok()
    .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "ffffffff81000000 T _stext\n\
        ffffffff81000100 t helper\n\
        ffffffff81000200 D some_data\n\
        ffffffff81000300 T vfs_read\n\
        ffffffffc0000000 t nft_do_chain\t[nf_tables]\n";

    #[test]
    fn batch_resolution() {
        let addrs = [
            0xffffffff81000050,
            0xffffffff81000250,
            0xffffffff81000310,
            0xffffffffc0000008,
        ];
        let r = resolve_from(TEXT.as_bytes(), &addrs).unwrap();
        let names: Vec<(&str, u64, Option<&str>)> = r
            .iter()
            .map(|k| {
                let k = k.as_ref().unwrap();
                (k.name.as_str(), k.offset, k.module.as_deref())
            })
            .collect();
        assert_eq!(
            names,
            [
                ("_stext", 0x50, None),
                ("helper", 0x150, None), // data symbols are skipped
                ("vfs_read", 0x10, None),
                ("nft_do_chain", 8, Some("nf_tables")),
            ]
        );
        assert_eq!(resolve_from(TEXT.as_bytes(), &[0x10]).unwrap(), [None]);
    }

    #[test]
    fn hidden_addresses() {
        let zeros: String = (0..40)
            .map(|i| format!("0000000000000000 T f{i}\n"))
            .collect();
        let e = resolve_from(zeros.as_bytes(), &[1]).unwrap_err();
        assert!(matches!(e, Status::Hidden(_)));
        assert!(e.problem().unwrap().contains("kptr_restrict"));
    }

    #[test]
    fn this_kernel() {
        // Root sees addresses unless kptr_restrict=2.
        if !nix::unistd::geteuid().is_root() || kptr_restrict() == Some(2) {
            return;
        }
        let a = address_of("vfs_read").expect("vfs_read in kallsyms");
        let r = resolve(&[a + 4]).unwrap();
        assert_eq!(r[0].as_ref().unwrap().name, "vfs_read");
    }
}
