//! `check` and `verify` against the host kernel, through the real static binary.

mod common;

use std::process::Command;
use std::sync::Mutex;

use common::{agent_bin, check_schema, feature, Ty};
use serde_json::Value;

/// Trial programs are counted: one check at a time.
static SERIAL: Mutex<()> = Mutex::new(());

const FEATURE: &[(&str, Ty)] = schema![
    name: Str, ok: Bool, required: Bool, detail: Str, fix: StrOrNull, disables: StrArray
];
const CHECK: &[(&str, Ty)] = schema![kernel: Str, arch: Str, ok: Bool, features: ObjArray];
const VERIFY: &[(&str, Ty)] = schema![
    type: Str, ts: Str, hostname: Str, kernel: Str, arch: Str, version: Str, passed: Bool,
    duration_ms: Uint, features: ObjArray, tools: ObjArray
];
const TOOL: &[(&str, Ty)] = schema![name: Str, status: Str, reason: Str, duration_ms: Uint];

#[test]
fn schemas_are_the_documented_ones() {
    common::assert_documented("verify.md", "JSON: check", CHECK, &[]);
    common::assert_documented("verify.md", "JSON: verify", VERIFY, &[]);
    common::assert_documented("verify.md", "JSON: feature objects", FEATURE, &[]);
    common::assert_documented("verify.md", "JSON: tool objects", TOOL, &[]);
}

fn check_features(v: &Value) {
    for f in v["features"].as_array().expect("features array") {
        check_schema(f, FEATURE, &[]);
    }
}

#[test]
fn check_probes_this_kernel() {
    let Some(bin) = agent_bin() else { return };
    let _g = SERIAL.lock().unwrap();
    let out = Command::new(&bin)
        .args(["check", "--json"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    check_schema(&v, CHECK, &[]);
    check_features(&v);
    assert_eq!(v["ok"], true, "{v}");
    assert!(out.status.success());
    for name in [
        "privileges",
        "btf",
        "tracefs",
        "ringbuf_tracepoint",
        "CONFIG_DEBUG_INFO_BTF",
    ] {
        assert_eq!(feature(&v, name)["ok"], true, "{name}: {v}");
    }
    // kprobes are judged by a trial attach; it must agree with what tracefs offers.
    let kprobe_events = std::path::Path::new("/sys/kernel/tracing/kprobe_events").exists();
    assert_eq!(feature(&v, "kprobes")["ok"], kprobe_events, "{v}");
    if !kprobe_events {
        assert!(feature(&v, "kprobes")["fix"]
            .as_str()
            .unwrap()
            .contains("CONFIG_KPROBES"));
    }
}

#[test]
fn check_a_config_without_btf_names_the_symbol() {
    let Some(bin) = agent_bin() else { return };
    let dir = common::scratch_dir("check");
    let cfg = dir.join("config-nobtf");
    std::fs::write(&cfg, "CONFIG_BPF_SYSCALL=y\nCONFIG_BPF_EVENTS=y\nCONFIG_PERF_EVENTS=y\nCONFIG_TRACEPOINTS=y\nCONFIG_FTRACE_SYSCALLS=y\n# CONFIG_DEBUG_INFO_BTF is not set\n").unwrap();
    let out = Command::new(&bin)
        .arg("check")
        .arg("--config")
        .arg(&cfg)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{text}{err}");
    assert!(text.contains("CONFIG_DEBUG_INFO_BTF=y"), "{text}");
    assert!(err.contains("CONFIG_DEBUG_INFO_BTF"), "{err}");

    let out = Command::new(&bin)
        .arg("check")
        .arg("--json")
        .arg("--config")
        .arg(&cfg)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let btf = feature(&v, "CONFIG_DEBUG_INFO_BTF");
    assert_eq!(btf["ok"], false);
    assert_eq!(btf["required"], true);
    assert!(
        btf["disables"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "execsnoop"),
        "{v}"
    );
    assert_eq!(feature(&v, "CONFIG_BPF_SYSCALL")["ok"], true);

    // A config that is not there is bad usage, as a missing object is for `run`.
    let (code, err) = common::exit_and_stderr(&bin, &["check", "--config", "/nonexistent/config"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("/nonexistent/config"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

fn our_programs() -> usize {
    let out = Command::new("bpftool")
        .args(["prog", "show"])
        .output()
        .expect("bpftool runs (apt-get install bpftool)");
    assert!(out.status.success(), "bpftool prog show failed");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(" name probe_"))
        .count()
}

#[test]
fn verify_passes_here_and_leaves_nothing() {
    let Some(bin) = agent_bin() else { return };
    let _g = SERIAL.lock().unwrap();
    let out = Command::new(&bin)
        .args(["verify", "--json"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {err}"));
    check_schema(&v, VERIFY, &[]);
    check_features(&v);
    let tools = v["tools"].as_array().unwrap();
    for t in tools {
        check_schema(t, TOOL, &[]);
        let status = t["status"].as_str().unwrap();
        assert!(status == "pass" || status == "skip", "{t}");
        if status == "skip" {
            assert!(!t["reason"].as_str().unwrap().is_empty());
        }
    }
    assert!(
        tools
            .iter()
            .any(|t| t["name"] == "execsnoop" && t["status"] == "pass"),
        "{v}"
    );
    assert_eq!(v["passed"], true, "{v}");
    assert!(out.status.success());
    assert_eq!(our_programs(), 0, "trial programs left loaded");
    let leftovers: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("ebpf-verify"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "verify left files behind: {leftovers:?}"
    );

    let (code, err) = common::exit_and_stderr(&bin, &["verify", "--tools", "nosuch"]);
    assert_eq!(code, Some(2), "{err}");
}
