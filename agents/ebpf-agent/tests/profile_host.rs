//! profile against the host kernel, through the real static binary: our own C workload,
//! built with and without frame pointers, PIE and not, and with its hot function in a shared
//! library, sampled on every CPU.

mod common;

use std::process::Command;
use std::time::Duration;

use common::cwork::{exe, Variant, Work};
use common::stacks::{self, kernel_symbols, parse_folded, user_symbols};
use common::{agent_bin, json_lines, Ty};
use serde_json::Value;

/// docs/tools/profile.md, JSON.
const REQUIRED: &[(&str, Ty)] = event_schema![
    interval_ns: Uint, frequency_hz: Uint, samples: Uint, rows: ObjArray, total_rows: Uint,
    modules: ObjArray
];
const OPTIONAL: &[(&str, Ty)] = schema![kernel_symbols: Str];

#[test]
fn schema_is_the_documented_one() {
    common::assert_documented("tools/profile.md", "JSON", REQUIRED, OPTIONAL);
    stacks::assert_documented();
}

/// The report of a JSON run (one object, at the end), checked against the schema.
fn report(out: &str) -> Value {
    let lines = json_lines(out);
    let reports: Vec<&Value> = lines.iter().filter(|v| v["type"] == "interval").collect();
    assert_eq!(reports.len(), 1, "{out}");
    for l in &lines {
        if l["type"] == "lost" {
            common::check_schema(l, common::LOST_REQUIRED, &[]);
        }
    }
    common::check_schema(reports[0], REQUIRED, OPTIONAL);
    stacks::check_report(reports[0]);
    reports[0].clone()
}

/// Every variant spins at once for 1.5 s under one system-wide profile: in each, the
/// hottest stack of its pid has hot_marker_fn on top, in the right file, and with frame
/// pointers its callers below.
#[test]
fn hot_function_on_top_in_every_build() {
    let Some(bin) = agent_bin() else { return };
    let mut works: Vec<(Variant, Work)> = Variant::ALL
        .iter()
        .map(|&v| (v, Work::spawn(v, &["hot", "3"])))
        .collect();
    let agent = common::start_tool(
        &bin,
        &[
            "profile",
            "--json",
            "-v",
            "-F",
            "499",
            "--stack-storage-size",
            "32768",
        ],
    );
    for (_, w) in &mut works {
        w.go();
    }
    let pids: Vec<(Variant, u32)> = works.iter().map(|(v, w)| (*v, w.pid())).collect();
    for (_, w) in works {
        w.finish();
    }
    let (out, err) = agent.stop();
    let r = report(&out);
    assert_eq!(r["frequency_hz"], 499);
    assert_eq!(
        r["kernel_symbols"], "kallsyms",
        "root sees kernel symbols here"
    );
    let rows = r["rows"].as_array().unwrap();
    let counted: u64 = rows.iter().map(|x| x["count"].as_u64().unwrap()).sum();
    assert!(counted <= r["samples"].as_u64().unwrap());
    for (v, pid) in pids {
        let mine: Vec<&Value> = rows.iter().filter(|x| x["pid"] == pid).collect();
        let total: u64 = mine.iter().map(|x| x["count"].as_u64().unwrap()).sum();
        // 3 s at 499 Hz: 1,500 samples with a CPU of its own; the five share two CPUs with
        // whatever else runs here.
        assert!(total >= 20, "{v:?}: only {total} samples: {err:?}");
        let on_top: u64 = mine
            .iter()
            .filter(|x| user_symbols(x).first().map(String::as_str) == Some("hot_marker_fn"))
            .map(|x| x["count"].as_u64().unwrap())
            .sum();
        assert!(
            on_top * 10 >= total * 9,
            "{v:?}: hot_marker_fn on top in {on_top} of {total} samples: {mine:?}"
        );
        let hottest = mine.iter().max_by_key(|x| x["count"].as_u64()).unwrap();
        assert_eq!(hottest["comm"], v.name(), "{hottest}");
        let leaf = &hottest["user_stack"][0];
        let want_module = if v == Variant::Library {
            exe(v).with_file_name("libcworkhot.so")
        } else {
            exe(v)
        };
        assert_eq!(
            leaf["module"].as_str(),
            want_module.to_str(),
            "{v:?}: {leaf}"
        );
        if v.frame_pointers() {
            let syms = user_symbols(hottest);
            assert_eq!(
                &syms[..3],
                ["hot_marker_fn", "caller_fn", "main"],
                "{v:?}: the frame-pointer walk: {syms:?}"
            );
        }
        // The module's build id is what the linker wrote (gcc on Debian always writes one).
        let m = r["modules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["path"].as_str() == want_module.to_str())
            .unwrap_or_else(|| panic!("{v:?}: no module entry"));
        assert_eq!(m["build_id"].as_str().map(str::len), Some(40), "{m}");
        assert_eq!(m["symtab"], true);
    }
}

/// Folded output parses, names the workload's frames root first, and its counts add up to
/// the samples the tool took (-v says how many).
#[test]
fn folded_output_sums_to_the_samples() {
    let Some(bin) = agent_bin() else { return };
    let mut w = Work::spawn(Variant::PieFp, &["hot", "2"]);
    let agent = common::start_tool(
        &bin,
        &[
            "profile",
            "-f",
            "-v",
            "-F",
            "199",
            "-p",
            &w.pid().to_string(),
        ],
    );
    w.go();
    w.finish();
    let (out, err) = agent.stop();
    let samples: u64 = err
        .iter()
        .filter(|l| l.contains(" samples, "))
        .find_map(|l| {
            l.strip_prefix("profile: ")
                .and_then(|s| s.split(' ').next())
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or_else(|| panic!("no sample count on stderr: {err:?}"));
    let lines: Vec<(Vec<String>, u64)> = out.lines().map(parse_folded).collect();
    let sum: u64 = lines.iter().map(|l| l.1).sum();
    assert_eq!(sum, samples, "{out}");
    assert!(samples >= 10, "{samples} samples in 2 s at 199 Hz");
    let (frames, _) = lines.iter().max_by_key(|l| l.1).unwrap();
    assert_eq!(frames[0], "cw-pie-fp", "the name first: {frames:?}");
    let at = frames.iter().position(|f| f == "main").unwrap();
    assert_eq!(&frames[at..at + 3], ["main", "caller_fn", "hot_marker_fn"]);
}

/// Kernel stacks: a dd copying /dev/zero spends its time in the kernel; with -K every frame
/// is a kernel text symbol.
#[test]
fn kernel_stacks_are_named_from_kallsyms() {
    let Some(bin) = agent_bin() else { return };
    let agent = common::start_tool(&bin, &["profile", "--json", "-v", "-K", "-F", "99"]);
    let dd = Command::new("dd")
        .args(["if=/dev/zero", "of=/dev/null", "bs=64k", "count=200000"])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = dd.id();
    let mut dd = dd;
    let t = std::time::Instant::now();
    while dd.try_wait().unwrap().is_none() && t.elapsed() < Duration::from_secs(2) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = dd.kill();
    let _ = dd.wait();
    let (out, _) = agent.stop();
    let r = report(&out);
    let names = stacks::kallsyms_names();
    let rows: Vec<&Value> = r["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["pid"] == pid)
        .collect();
    assert!(!rows.is_empty(), "no samples of dd");
    let mut frames = 0;
    for row in &rows {
        assert!(row.get("user_stack").is_none(), "-K: no user stacks");
        for s in kernel_symbols(row) {
            // A JIT-compiled BPF program (`bpf_prog_TAG_NAME`, another tracer's) is named
            // while it is loaded and may be gone from kallsyms when it is read here.
            assert!(
                names.contains(&s) || s.starts_with("bpf_prog_"),
                "{s} is no kernel text symbol"
            );
            frames += 1;
        }
    }
    assert!(frames > 0, "{rows:?}");
}

#[test]
fn bad_flags_and_privileges() {
    let Some(bin) = agent_bin() else { return };
    common::assert_usage_error(&bin, "profile", &["-U", "-K"], "-K");
    common::assert_usage_error(&bin, "profile", &["-F", "0"], "-F");
    common::assert_needs_privileges(&bin, "profile", &[]);
}
