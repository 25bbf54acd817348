//! Finds the tools, compiles the BPF programs of the enabled ones and embeds them compressed.
//!
//! A tool is `src/tools/<tool>.rs` with `bpf/<tool>.bpf.c` and `bpf/<tool>.h`, registered by
//! one line in Cargo.toml's `[features]` (`<tool> = []`). This script finds them, checks that
//! the files and the feature agree (naming the fix when they do not), and generates the
//! registry `src/tools/mod.rs` expands: the modules and the list of tools, each with its
//! object. `all-tools` enables every tool found.
//!
//! The objects are built for the *target* architecture (CARGO_CFG_TARGET_ARCH), which decides
//! `__TARGET_ARCH_*` for libbpf's tracing macros; the host arch is irrelevant. Headers come from
//! the libbpf that libbpf-sys builds and links (DEP_BPF_INCLUDE), so the helpers the programs
//! call are the ones the loader knows. DWARF is stripped (BTF stays) and the object is
//! zlib-compressed: the agent inflates it once at start with the zlib libelf already needs.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Features that are not tools.
const NOT_TOOLS: &[&str] = &["default", "vendored", "all-tools", "collect"];

fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let bpf_dir = manifest.join("../../bpf");
    let tools_dir = manifest.join("src/tools");
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
        other => fail(&format!("no BPF target arch known for {other}")),
    };
    let clang = env::var("BPF_CLANG").unwrap_or_else(|_| "clang".into());
    let strip = env::var("BPF_STRIP").ok().or_else(|| find_strip(&clang));
    for var in ["BPF_CLANG", "BPF_STRIP", "BPF_CFLAGS"] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    println!("cargo:rerun-if-changed={}", bpf_dir.display());
    println!("cargo:rerun-if-changed={}", tools_dir.display());
    println!(
        "cargo:rerun-if-changed={}",
        manifest.join("Cargo.toml").display()
    );

    let tools = discover(&manifest, &tools_dir, &bpf_dir);
    let all = env::var_os("CARGO_FEATURE_ALL_TOOLS").is_some();
    let enabled: Vec<&String> = tools
        .iter()
        .filter(|t| all || env::var_os(feature_var(t)).is_some())
        .collect();

    let mut objects =
        String::from("/// The BPF objects of the enabled tools, compressed.\npub mod objects {\n");
    let mut list = String::new();
    let mut total = (0usize, 0usize);
    // featprobe: the trial programs of `ebpf-agent check`, always built.
    for tool in enabled.iter().map(|t| t.as_str()).chain(["featprobe"]) {
        let src = bpf_dir.join(format!("{tool}.bpf.c"));
        let obj = out.join(format!("{tool}.bpf.o"));
        compile(&clang, arch, &include, &bpf_dir, &src, &obj);
        if let Some(strip) = &strip {
            run(
                Command::new(strip).arg("-g").arg(&obj),
                "strip DWARF from the BPF object",
            );
        }
        let raw = fs::read(&obj).unwrap();
        let packed = miniz_oxide::deflate::compress_to_vec_zlib(&raw, 10);
        total.0 += raw.len();
        total.1 += packed.len();
        let z = out.join(format!("{tool}.bpf.o.z"));
        fs::write(&z, &packed).unwrap();
        writeln!(
            objects,
            "    /// `bpf/{tool}.bpf.c`: {} bytes, {} compressed.\n    pub const {}: agent_core::bpf::Embedded = agent_core::bpf::Embedded {{ name: {tool:?}, zlib: include_bytes!({:?}), len: {} }};",
            raw.len(),
            packed.len(),
            tool.to_uppercase(),
            z.display().to_string(),
            raw.len()
        )
        .unwrap();
        if tool != "featprobe" {
            write!(list, "{tool} {}, ", tool.to_uppercase()).unwrap();
        }
    }
    objects.push_str("}\n");
    let generated = format!(
        "{objects}\n/// Calls `$m!(tool OBJECT, ...)` with every enabled tool.\nmacro_rules! each_tool {{ ($m:ident) => {{ $m!({list}); }} }}\n"
    );
    fs::write(out.join("registry.rs"), generated).unwrap();
    // The bytes compression saves, for the build log (cargo -vv) and the README.
    println!(
        "cargo:rustc-env=EBPF_AGENT_BPF_BYTES={} {}",
        total.0, total.1
    );
}

fn feature_var(tool: &str) -> String {
    format!("CARGO_FEATURE_{}", tool.to_uppercase().replace('-', "_"))
}

fn fail(msg: &str) -> ! {
    eprintln!("error: {msg}");
    panic!("{msg}");
}

/// The tools: every `src/tools/<tool>.rs`, checked against Cargo.toml's features and bpf/.
fn discover(manifest: &Path, tools_dir: &Path, bpf_dir: &Path) -> Vec<String> {
    let mut tools: Vec<String> = fs::read_dir(tools_dir)
        .unwrap()
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            let tool = name.strip_suffix(".rs")?;
            (tool != "mod").then(|| tool.to_string())
        })
        .collect();
    tools.sort();
    let cargo = fs::read_to_string(manifest.join("Cargo.toml")).unwrap();
    let features = features_of(&cargo);
    let mut errors = Vec::new();
    for t in &tools {
        if !t
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        {
            errors.push(format!(
                "src/tools/{t}.rs: a tool's name is lowercase letters and digits"
            ));
        }
        if !features.contains(t) {
            errors.push(format!(
                "tool {t} (src/tools/{t}.rs) is not registered: add `{t} = []` under [features] in agents/ebpf-agent/Cargo.toml"
            ));
        }
        for f in [format!("{t}.bpf.c"), format!("{t}.h")] {
            if !bpf_dir.join(&f).exists() {
                errors.push(format!(
                    "tool {t} has no bpf/{f}: a tool is bpf/{t}.bpf.c, bpf/{t}.h and src/tools/{t}.rs (ci/new-tool {t} makes them)"
                ));
            }
        }
    }
    for f in &features {
        if !NOT_TOOLS.contains(&f.as_str()) && !tools.contains(f) {
            errors.push(format!(
                "feature {f} in agents/ebpf-agent/Cargo.toml names no tool: there is no src/tools/{f}.rs"
            ));
        }
    }
    if !errors.is_empty() {
        fail(&errors.join("\nerror: "));
    }
    tools
}

/// The feature names of a Cargo.toml's `[features]` table.
fn features_of(cargo: &str) -> Vec<String> {
    let mut in_features = false;
    let mut out = Vec::new();
    for line in cargo.lines() {
        let l = line.trim();
        if l.starts_with('[') {
            in_features = l == "[features]";
            continue;
        }
        if in_features {
            if let Some((name, _)) = l.split_once('=') {
                let name = name.trim();
                if !name.is_empty() && !name.starts_with('#') {
                    out.push(name.to_string());
                }
            }
        }
    }
    out
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
        Ok(s) => fail(&format!("failed to {what}: {cmd:?} exited with {s}")),
        Err(e) => fail(&format!("failed to {what}: cannot run {cmd:?}: {e}")),
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
