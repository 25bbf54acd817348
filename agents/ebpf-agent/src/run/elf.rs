//! Is the file a BPF object at all? Checked on the ELF header and section table before
//! libbpf sees it, so a wrong file gets words that name the fix rather than libelf's.

use agent_core::error::Error;

const EM_BPF: u16 = 247;
const ET_REL: u16 = 1;
const SHT_NOBITS: u32 = 8;

fn machine_name(m: u16) -> String {
    match m {
        3 => "x86 (32-bit)".into(),
        8 => "MIPS".into(),
        20 => "PowerPC".into(),
        21 => "PowerPC 64".into(),
        22 => "S/390".into(),
        40 => "ARM (32-bit)".into(),
        62 => "x86-64".into(),
        183 => "AArch64".into(),
        243 => "RISC-V".into(),
        258 => "LoongArch".into(),
        m => format!("machine {m}"),
    }
}

fn u16_at(b: &[u8], off: usize) -> u16 {
    b.get(off..off + 2)
        .map_or(0, |x| u16::from_le_bytes([x[0], x[1]]))
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    b.get(off..off + 4)
        .map_or(0, |x| u32::from_le_bytes(x.try_into().unwrap_or([0; 4])))
}

fn u64_at(b: &[u8], off: usize) -> u64 {
    b.get(off..off + 8)
        .map_or(0, |x| u64::from_le_bytes(x.try_into().unwrap_or([0; 8])))
}

const COMPILE: &str =
    "compile it with clang -target bpf -g -O2 -c PROG.bpf.c -o PROG.bpf.o (docs/run.md)";

/// Ok if `b` (the file `file`) is a complete, little-endian, 64-bit relocatable ELF object
/// for BPF; otherwise a usage error saying what it is instead.
pub fn check(b: &[u8], file: &str) -> Result<(), Error> {
    let bad = |what: String| Err(Error::usage(format!("{file}: {what}")).hint(COMPILE));
    if b.len() < 4 || &b[..4] != b"\x7fELF" {
        let start = String::from_utf8_lossy(&b[..b.len().min(16)]).into_owned();
        let looks_c = ["#include", "/*", "//", "#define", "SEC("]
            .iter()
            .any(|p| start.trim_start().starts_with(p));
        return bad(if b.is_empty() {
            "is empty, not a BPF object".into()
        } else if looks_c {
            "is C source, not a compiled BPF object".into()
        } else {
            format!("is not an ELF object file (it starts with {start:?})")
        });
    }
    if b.len() < 64 {
        return bad(format!(
            "is truncated: {} bytes, less than an ELF header (an interrupted copy?)",
            b.len()
        ));
    }
    if b[4] != 2 {
        return bad("is a 32-bit ELF object: BPF objects are 64-bit".into());
    }
    if b[5] != 1 {
        return bad(
            "is big-endian (clang -target bpfeb) and this machine is little-endian: use -target bpf"
                .into(),
        );
    }
    let machine = u16_at(b, 18);
    if machine != EM_BPF {
        return bad(format!(
            "is an object for {}, not BPF (was it compiled without -target bpf?)",
            machine_name(machine)
        ));
    }
    if u16_at(b, 16) != ET_REL {
        return bad("is a linked BPF file, not the relocatable object clang -c writes".into());
    }
    let (shoff, entsize, count) = (
        u64_at(b, 40),
        u64::from(u16_at(b, 58)),
        u64::from(u16_at(b, 60)),
    );
    let table_end = shoff.saturating_add(entsize.saturating_mul(count));
    let truncated = |end: u64| {
        format!(
            "is truncated: it needs {end} bytes but has {} (an interrupted copy?)",
            b.len()
        )
    };
    if count == 0 || entsize < 64 {
        return bad("has no sections: not an object clang wrote".into());
    }
    if table_end > b.len() as u64 {
        return bad(truncated(table_end));
    }
    for i in 0..count {
        let h = (shoff + i * entsize) as usize;
        if u32_at(b, h + 4) == SHT_NOBITS {
            continue;
        }
        let end = u64_at(b, h + 24).saturating_add(u64_at(b, h + 32));
        if end > b.len() as u64 {
            return bad(truncated(end));
        }
    }
    Ok(())
}

/// Was the object built for another architecture's registers? bpf_tracing.h reads kprobe
/// arguments through the `struct pt_regs` of `-D__TARGET_ARCH_<arch>`: x86 names its fields
/// `di`, `si`; arm64 uses `struct user_pt_regs` with `regs[]`; 32-bit arm `uregs[]`.
pub fn regs_arch(types: &agent_core::btf::types::Types) -> Option<&'static str> {
    use agent_core::btf::types::STRUCT;
    let has = |s: &str, field: &str| {
        types
            .find(STRUCT, s)
            .is_some_and(|id| types.members(id).any(|m| m.name == field))
    };
    if has("pt_regs", "di") || has("pt_regs", "ip") {
        Some("x86")
    } else if has("user_pt_regs", "regs") || has("pt_regs", "regs") {
        Some("arm64")
    } else if has("pt_regs", "uregs") {
        Some("arm")
    } else {
        None
    }
}

/// The `__TARGET_ARCH_*` this agent's architecture wants.
pub fn native_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "x86",
        "aarch64" => "arm64",
        "arm" => "arm",
        other => other,
    }
}
