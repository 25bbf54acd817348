//! The tools on a kernel without BTF of its own: this kernel, with /sys/kernel/btf hidden in a
//! mount namespace of the test's own (an empty tmpfs over it), and BTF shipped for this
//! release, made from this kernel's BTF by agents/dist/ebpf-min-btf (bpftool gen min_core_btf
//! over the BPF objects of this build). Every tool must work through it; without it, the error
//! must name both fixes.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

use common::{agent_bin, feature};
use serde_json::Value;

/// One namespace run at a time: `verify` loads every tool.
static SERIAL: Mutex<()> = Mutex::new(());

fn release() -> String {
    nix::sys::utsname::uname()
        .unwrap()
        .release()
        .to_string_lossy()
        .into_owned()
}

/// A directory for this test with, if `shipped`, `<release>.btf` made from this kernel's BTF.
fn btf_dir(tag: &str, shipped: bool) -> PathBuf {
    let dir = common::scratch_dir(&format!("btf-{tag}"));
    if shipped {
        // The objects this very build compiled (every tool: the default features).
        let mut objects: Vec<PathBuf> = std::fs::read_dir(env!("OUT_DIR"))
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.to_string_lossy().ends_with(".bpf.o"))
            .collect();
        objects.sort();
        assert!(objects.len() >= 2, "no BPF objects in {}", env!("OUT_DIR"));
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../dist/ebpf-min-btf");
        let out = Command::new(script)
            .arg("/sys/kernel/btf/vmlinux")
            .arg(dir.join(format!("{}.btf", release())))
            .args(&objects)
            .output()
            .expect("run agents/dist/ebpf-min-btf (needs bpftool)");
        assert!(
            out.status.success(),
            "ebpf-min-btf failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    dir
}

/// Runs the agent with `args` where /sys/kernel/btf is an empty directory and shipped BTF is
/// looked for in `dir`.
fn without_kernel_btf(bin: &Path, dir: &Path, args: &[&str]) -> Output {
    Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg(
            "mount -t tmpfs -o size=1m ebpf-rust-no-btf /sys/kernel/btf && \
             [ ! -e /sys/kernel/btf/vmlinux ] && exec \"$@\"",
        )
        .arg("sh")
        .arg(bin)
        .args(args)
        .env("EBPF_AGENT_BTF_DIR", dir)
        .output()
        .expect("unshare (util-linux) runs")
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn every_tool_runs_on_shipped_btf() {
    let Some(bin) = agent_bin() else { return };
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let dir = btf_dir("shipped", true);
    let file = dir.join(format!("{}.btf", release()));
    let size = std::fs::metadata(&file).unwrap().len();
    assert!(size < 64 * 1024, "min BTF of {size} bytes");

    let list = without_kernel_btf(&bin, &dir, &["list", "--json"]);
    assert!(list.status.success(), "{list:?}");
    let v = json(&list);
    let btf = &v["btf"];
    assert_eq!(btf["source"], "shipped", "{v}");
    assert_eq!(btf["path"], file.to_str().unwrap(), "{v}");
    let types = btf["types"].as_u64().unwrap();
    assert!(types > 10, "{v}");
    assert_eq!(
        btf["rules_out"],
        serde_json::json!(["tp_btf", "fentry"]),
        "{v}"
    );
    for t in v["tools"].as_array().unwrap() {
        assert_eq!(t["runnable"], true, "{t}");
    }
    let text = without_kernel_btf(&bin, &dir, &["list"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.starts_with(&format!(
            "BTF: no kernel BTF; using shipped BTF for {} ({types} types, ",
            release()
        )),
        "{text}"
    );

    let check = without_kernel_btf(&bin, &dir, &["check", "--json"]);
    let v = json(&check);
    assert!(check.status.success(), "{v}");
    let f = feature(&v, "btf");
    assert_eq!(f["ok"], true, "{f}");
    assert!(
        f["detail"].as_str().unwrap().starts_with(&format!(
            "no kernel BTF; using shipped BTF for {} ({types} types, ",
            release()
        )),
        "{f}"
    );
    let k = feature(&v, "kernel_btf");
    assert_eq!(
        (&k["ok"], &k["required"]),
        (&Value::Bool(false), &Value::Bool(false))
    );
    assert!(k["detail"].as_str().unwrap().contains("tp_btf"), "{k}");
    // This kernel's config still says BTF: `check` judges the running kernel by what it
    // exposes, the config only names the symbols.
    assert_eq!(feature(&v, "ringbuf_tracepoint")["ok"], true, "{v}");

    // Every tool, against its own workload, through the shipped BTF.
    let verify = without_kernel_btf(&bin, &dir, &["verify", "--json"]);
    let v = json(&verify);
    assert_eq!(v["passed"], true, "{v}");
    for t in v["tools"].as_array().unwrap() {
        assert_eq!(t["status"], "pass", "{t}");
    }
    assert!(verify.status.success());

    // A tool says which BTF it relocated with (-v).
    let run = without_kernel_btf(&bin, &dir, &["syscount", "-v", "--duration", "1", "--json"]);
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{err}");
    assert!(
        err.contains(&format!(
            "btf: no kernel BTF; using shipped BTF for {}",
            release()
        )),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn without_shipped_btf_the_error_names_both_fixes() {
    let Some(bin) = agent_bin() else { return };
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let dir = btf_dir("none", false);
    let want = dir.join(format!("{}.btf", release()));
    let run = without_kernel_btf(&bin, &dir, &["execsnoop"]);
    let err = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(3), "{err}");
    assert!(
        err.contains("no kernel BTF (/sys/kernel/btf/vmlinux)"),
        "{err}"
    );
    assert!(err.contains("CONFIG_DEBUG_INFO_BTF=y"), "{err}");
    assert!(err.contains(want.to_str().unwrap()), "{err}");
    assert_eq!(err.lines().count(), 2, "one error line and its fix: {err}");

    let check = without_kernel_btf(&bin, &dir, &["check", "--json"]);
    assert_eq!(check.status.code(), Some(3));
    let v = json(&check);
    let f = feature(&v, "btf");
    assert_eq!(
        (&f["ok"], &f["required"]),
        (&Value::Bool(false), &Value::Bool(true))
    );
    let fix = f["fix"].as_str().unwrap();
    assert!(
        fix.contains("CONFIG_DEBUG_INFO_BTF=y") && fix.contains(want.to_str().unwrap()),
        "{f}"
    );

    let list = without_kernel_btf(&bin, &dir, &["list", "--json"]);
    let v = json(&list);
    assert_eq!(v["btf"]["source"], "none", "{v}");
    for t in v["tools"].as_array().unwrap() {
        assert_eq!(t["runnable"], false, "{t}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
