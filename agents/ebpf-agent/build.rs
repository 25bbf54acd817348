//! Compiles the BPF programs of the enabled tools (`bpf/<tool>.bpf.c`) and embeds them.
//!
//! The objects are built for the *target* architecture (CARGO_CFG_TARGET_ARCH), which decides
//! `__TARGET_ARCH_*` for libbpf's tracing macros; the host arch is irrelevant. Headers come from
//! the libbpf that libbpf-sys builds and links (DEP_BPF_INCLUDE), so the helpers the programs
//! call are the ones the loader knows. DWARF is stripped (BTF stays): it would only add size.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Every tool with a BPF program (each also a cargo feature).
const TOOLS: &[&str] = &[
    "execsnoop",
    "exitsnoop",
    "filetop",
    "filewatch",
    "opensnoop",
    "statsnoop",
    "syscount",
];

fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let bpf_dir = manifest.join("../../bpf");
    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap());
    let include = env::var("DEP_BPF_INCLUDE").expect("libbpf-sys exports its include directory");
    let arch = match env::var("CARGO_CFG_TARGET_ARCH").unwrap().as_str() {
        "x86_64" => "x86",
        "aarch64" => "arm64",
        "arm" => "arm",
        "riscv64" => "riscv",
        "powerpc64" => "powerpc",
        "s390x" => "s390",
        "loongarch64" => "loongarch",
        other => panic!("no BPF target arch known for {other}"),
    };
    let clang = env::var("BPF_CLANG").unwrap_or_else(|_| "clang".into());
    let strip = env::var("BPF_STRIP").ok().or_else(|| find_strip(&clang));
    println!("cargo:rerun-if-env-changed=BPF_CLANG");
    println!("cargo:rerun-if-env-changed=BPF_STRIP");
    println!("cargo:rerun-if-env-changed=BPF_CFLAGS");
    println!(
        "cargo:rerun-if-changed={}",
        bpf_dir.join("common.h").display()
    );

    let mut generated = String::new();
    // featprobe: the trial programs of `ebpf-agent check`, always built.
    for tool in TOOLS.iter().chain(&["featprobe"]) {
        let feature = format!("CARGO_FEATURE_{}", tool.to_uppercase());
        if *tool != "featprobe" && env::var_os(feature).is_none() {
            continue;
        }
        let src = bpf_dir.join(format!("{tool}.bpf.c"));
        let obj = out.join(format!("{tool}.bpf.o"));
        println!("cargo:rerun-if-changed={}", src.display());
        println!(
            "cargo:rerun-if-changed={}",
            bpf_dir.join(format!("{tool}.h")).display()
        );
        compile(&clang, arch, &include, &bpf_dir, &src, &obj);
        if let Some(strip) = &strip {
            run(
                Command::new(strip).arg("-g").arg(&obj),
                "strip DWARF from the BPF object",
            );
        }
        let const_name = format!("{}_BPF_OBJECT", tool.to_uppercase());
        writeln!(
            generated,
            "/// The compiled `bpf/{tool}.bpf.c`.\npub const {const_name}: &[u8] = include_bytes!({:?});",
            obj.display().to_string()
        )
        .unwrap();
    }
    fs::write(out.join("bpf_objects.rs"), generated).unwrap();
}

fn compile(clang: &str, arch: &str, include: &str, bpf_dir: &Path, src: &Path, obj: &Path) {
    let mut cmd = Command::new(clang);
    cmd.args(["-target", "bpf", "-g", "-O2", "-Wall", "-Werror"])
        .arg(format!("-D__TARGET_ARCH_{arch}"))
        .arg("-I")
        .arg(bpf_dir)
        .arg("-I")
        .arg(include);
    if let Ok(extra) = env::var("BPF_CFLAGS") {
        cmd.args(extra.split_whitespace());
    }
    cmd.arg("-c").arg(src).arg("-o").arg(obj);
    run(
        &mut cmd,
        "compile BPF C (set BPF_CLANG to a clang with the BPF backend)",
    );
}

fn run(cmd: &mut Command, what: &str) {
    match cmd.status() {
        Ok(s) if s.success() => {}
        Ok(s) => panic!("failed to {what}: {cmd:?} exited with {s}"),
        Err(e) => panic!("failed to {what}: cannot run {cmd:?}: {e}"),
    }
}

/// llvm-strip beside the chosen clang, or a versioned one on PATH (Debian's llvm-strip-14).
fn find_strip(clang: &str) -> Option<String> {
    let mut candidates = Vec::new();
    if let Some(dir) = Path::new(clang)
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
    {
        candidates.push(dir.join("llvm-strip").display().to_string());
    }
    candidates.push("llvm-strip".into());
    for v in (14..=22).rev() {
        candidates.push(format!("llvm-strip-{v}"));
    }
    let found = candidates.into_iter().find(|c| {
        Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if found.is_none() {
        println!("cargo:warning=no llvm-strip found (set BPF_STRIP): BPF objects keep their DWARF");
    }
    found
}
