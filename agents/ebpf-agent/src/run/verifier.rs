//! A verifier rejection in words: the error, the instruction it stopped at and, where the
//! object has BTF line info (compiled with -g), the source line, plus the usual fix for the
//! errors everyone meets first.

use agent_core::error::{Error, EXIT_FAILURE, EXIT_UNSUPPORTED};

/// What the verifier said, picked from its log.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Rejection {
    /// The error line (the last thing said before "processed N insns").
    pub error: String,
    /// The instruction it was at: `12: (61) r1 = *(u32 *)(r0 +0)`.
    pub insn: Option<String>,
    /// The source line the kernel printed from the line info: `; x = *p; @ prog.bpf.c:20`.
    pub source: Option<String>,
}

/// `12: (61) r1 = ...`: an instruction.
fn is_insn(l: &str) -> bool {
    let d = l.bytes().take_while(u8::is_ascii_digit).count();
    d > 0 && l[d..].starts_with(": (")
}

/// `12: R1=ctx() R10=fp0`: the registers at an instruction.
fn is_state(l: &str) -> bool {
    let d = l.bytes().take_while(u8::is_ascii_digit).count();
    d > 0 && l[d..].starts_with(": ") && !is_insn(l)
}

/// Lines the verifier writes about its progress, not about the error.
fn is_noise(l: &str) -> bool {
    let l = l.trim();
    l.is_empty()
        || l.starts_with(';')
        || is_insn(l)
        || is_state(l)
        || [
            "processed ",
            "verification time",
            "stack depth",
            "-- ",
            "mark_precise",
            "last_idx",
            "regs=",
            "parent ",
            "from ",
            "func#",
            "libbpf:",
        ]
        .iter()
        .any(|p| l.starts_with(p))
}

pub fn parse(log: &str) -> Rejection {
    let lines: Vec<&str> = log.lines().collect();
    // The error is what comes last before the statistics ("processed N insns"), when they
    // are there: one line or a few.
    let end = lines
        .iter()
        .rposition(|l| l.starts_with("processed "))
        .unwrap_or(lines.len());
    let Some(last) = lines[..end].iter().rposition(|l| !is_noise(l)) else {
        return Rejection::default();
    };
    let first = lines[..last]
        .iter()
        .rposition(|l| is_noise(l))
        .map_or(0, |i| i + 1);
    let mut r = Rejection {
        error: lines[first..=last]
            .iter()
            .map(|l| l.trim())
            .collect::<Vec<_>>()
            .join("; "),
        ..Rejection::default()
    };
    if let Some(i) = lines[..first].iter().rposition(|l| is_insn(l)) {
        r.insn = Some(lines[i].trim().to_string());
        r.source = lines[..i]
            .iter()
            .rev()
            .find(|l| l.starts_with("; "))
            .map(|l| l.trim_start_matches("; ").trim().to_string());
    }
    r
}

/// The usual fix for a rejection, and the exit code (3 when the kernel lacks something).
pub fn hint(r: &Rejection) -> (Option<&'static str>, i32) {
    let e = r.error.as_str();
    let has = |s: &str| e.contains(s);
    if has("unknown func") {
        return (
            Some("this kernel lacks that helper: it came in a later kernel, or the program type cannot call it; use another helper or a newer kernel"),
            EXIT_UNSUPPORTED,
        );
    }
    let h = if has("back-edge")
        || has("infinite loop")
        || has("too large")
        || has("too complex")
        || has("loop is not bounded")
        || has("jumps is too complex")
    {
        "a loop the verifier cannot prove ends: bound it by a constant (for (int i = 0; i < 64 && i < n; i++)), unroll it (#pragma unroll) or use bpf_loop() (5.17)"
    } else if has("_or_null") {
        "the pointer may be NULL (bpf_map_lookup_elem and bpf_ringbuf_reserve return NULL when they fail): check it before use (if (!p) return 0;)"
    } else if has("invalid access to map value")
        || has("invalid mem access")
        || has("invalid access to memory")
        || has("invalid read from stack")
        || has("invalid write to stack")
        || has("outside of the allowed memory range")
        || has("unbounded memory access")
        || has("min value is negative")
        || has("invalid indirect read")
        || has("invalid bpf_context access")
    {
        "an access outside what the program may touch: read kernel memory with bpf_probe_read_kernel() or BPF_CORE_READ(), user memory with bpf_probe_read_user(), and check an index against the size of the map value or buffer before using it"
    } else if has("CO-RE relocation") {
        "a kernel field or type the program reads is not in this kernel, or has another name or type: check it in the board's BTF (bpftool btf dump file /sys/kernel/btf/vmlinux)"
    } else if has("!read_ok") {
        "a register or variable is used before it is set: initialize it on every path"
    } else if has("Unreleased reference") {
        "a record from bpf_ringbuf_reserve() must be submitted or discarded on every path"
    } else if has("GPL") {
        "the program calls a GPL-only helper: add char LICENSE[] SEC(\"license\") = \"GPL\";"
    } else {
        return (None, EXIT_FAILURE);
    };
    (Some(h), EXIT_FAILURE)
}

/// Rewrites a load error that is a verifier rejection (its detail is the log's tail): the
/// error, instruction and source line in the message, the fix as the hint; the log's tail
/// stays the detail, shown with -v. Other errors pass unchanged.
pub fn explain(e: Error, file: &str) -> Error {
    if !e.message().contains("the verifier rejected") {
        return e;
    }
    let Some(log) = e.detail_text().map(str::to_string) else {
        return e;
    };
    let r = parse(&log);
    let prog = e
        .message()
        .split("the verifier rejected ")
        .nth(1)
        .and_then(|p| p.split(')').next())
        .unwrap_or("a program");
    let mut msg = format!("{file}: the verifier rejected {prog}: {}", r.error);
    if let Some(i) = &r.insn {
        msg.push_str(&format!("\n  at instruction {i}"));
    }
    match &r.source {
        Some(s) => msg.push_str(&format!("\n  in the source: {s}")),
        None => msg.push_str("\n  (no source line: compile with -g for BTF line info)"),
    }
    let (h, code) = hint(&r);
    let out = Error::new(msg).code(code).detail(log);
    match h {
        Some(h) => out.hint(format!("{h}; -v shows the verifier log's tail")),
        None => out.hint("-v shows the verifier log's tail"),
    }
}
