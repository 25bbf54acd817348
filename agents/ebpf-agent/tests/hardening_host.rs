//! What a user can get wrong, or a system can deny, across every tool of the binary: each ends
//! with a one-line error naming the fix and its exit code, or works with no more privilege
//! than it needs.

mod common;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{agent_bin, exit_and_stderr, marker, start, tools_of};

/// Arguments that make each tool run a while (30 s), printing its header in text mode.
fn run_args(tool: &str) -> Vec<&'static str> {
    match tool {
        "filetop" => vec!["--duration", "30", "1"],
        "filewatch" => vec!["--duration", "30", "/nonexistent/never"],
        // Without -i syscount prints only at the end.
        "syscount" => vec!["-i", "1", "--duration", "30"],
        _ => vec!["--duration", "30"],
    }
}

/// The tools whose run_args start them on this host and that print at once (others need a
/// function to trace, or print nothing before their first event: bashreadline, tcpaccept...).
fn runs_with_run_args(tool: &str) -> bool {
    matches!(
        tool,
        "execsnoop"
            | "exitsnoop"
            | "filetop"
            | "filewatch"
            | "offcputime"
            | "opensnoop"
            | "profile"
            | "statsnoop"
            | "syscount"
    )
}

#[test]
fn a_full_disk_ends_every_tool_with_exit_1_and_the_reason() {
    let Some(bin) = agent_bin() else { return };
    for tool in tools_of(&bin) {
        if !runs_with_run_args(&tool) {
            continue;
        }
        let t0 = Instant::now();
        let out = Command::new(&bin)
            .arg(&tool)
            .args(run_args(&tool))
            .stdout(
                std::fs::OpenOptions::new()
                    .write(true)
                    .open("/dev/full")
                    .unwrap(),
            )
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{tool} >/dev/full: {err}");
        assert!(
            err.contains("cannot write the output: No space left on device")
                && err.contains("fix: free space"),
            "{tool}: {err}"
        );
        assert_eq!(
            err.lines()
                .filter(|l| l.contains("error:") && !l.contains("error: fix:"))
                .count(),
            1,
            "one error, then its fix: {err}"
        );
        assert!(
            // Well before its --duration, however long loading takes on a busy machine.
            t0.elapsed() < Duration::from_secs(20),
            "{tool} ends at the first failed write, not at its -d"
        );
    }
}

#[test]
fn a_closed_stdout_is_an_error_not_dev_null() {
    let Some(bin) = agent_bin() else { return };
    let mut tools = tools_of(&bin);
    tools.push("list".into());
    for tool in tools {
        // `>&-`: descriptor 1 closed, which Rust's runtime would quietly reopen on /dev/null.
        let out = Command::new("sh")
            .args(["-c", "exec \"$@\" >&-", "sh"])
            .arg(&bin)
            .arg(&tool)
            .args(run_args(&tool))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{tool} >&-: {err}");
        assert!(
            err.contains("standard output is closed") && err.contains(">/dev/null"),
            "{tool}: {err}"
        );
    }
    // Whereas >/dev/null is where the user sent it.
    let (code, err) = exit_and_stderr(&bin, &["opensnoop", "-d", "1"]);
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn pids_no_process_can_have_are_usage_errors() {
    let Some(bin) = agent_bin() else { return };
    let pid_max: u64 = std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let tools = tools_of(&bin);
    let mut checked = 0;
    for (tool, flag) in [
        ("opensnoop", "-p"),
        ("opensnoop", "-t"),
        ("statsnoop", "-p"),
        ("syscount", "-p"),
        ("exitsnoop", "-p"),
        ("filetop", "-p"),
    ] {
        if !tools.iter().any(|t| t == tool) {
            continue;
        }
        for pid in [pid_max.to_string(), "99999999".into(), "0".into()] {
            let (code, err) = exit_and_stderr(&bin, &[tool, flag, &pid, "-d", "1"]);
            assert_eq!(code, Some(2), "{tool} {flag} {pid}: {err}");
            assert!(err.contains(flag), "{tool} {flag} {pid}: {err}");
            if pid != "0" {
                assert!(
                    err.contains(&format!("pid_max is {pid_max}")),
                    "{tool}: {err}"
                );
            }
        }
        checked += 1;
    }
    assert!(checked > 0);
}

#[test]
fn durations_and_intervals_are_capped_with_words() {
    let Some(bin) = agent_bin() else { return };
    for tool in tools_of(&bin) {
        let (code, err) = exit_and_stderr(&bin, &[&tool, "--duration", "99999999999999999999"]);
        assert_eq!(code, Some(2), "{tool}: {err}");
        assert!(
            err.contains("at most 10 years") && !err.contains("panic"),
            "{err}"
        );
    }
    for args in [
        &["filetop", "99999999999999999999", "1"][..],
        &["syscount", "-i", "99999999999999999999"],
    ] {
        if !tools_of(&bin).iter().any(|t| t == args[0]) {
            continue;
        }
        let (code, err) = exit_and_stderr(&bin, args);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(err.contains("at most 10 years"), "{err}");
    }
    // Rust's words rewritten in ours, naming both forms of the flag.
    let (code, err) = exit_and_stderr(&bin, &["opensnoop", "-p", "12x"]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("-p/--pid") && !err.contains("invalid digit"),
        "{err}"
    );
}

/// Files a user names are read with a bound: /dev/zero as a BPF object, a collector config, a
/// kernel config or a watch list, and a gzip bomb as a kernel config, each end at once in a
/// usage error naming the limit, not in all of the machine's memory.
#[test]
fn endless_or_huge_files_a_user_names_are_usage_errors_naming_the_limit() {
    let Some(bin) = agent_bin() else { return };
    let dir = common::scratch_dir("bounded");
    let config = dir.join("config");
    std::fs::write(&config, vec![b'#'; 17 << 20]).unwrap();
    let gz = Command::new("gzip")
        .arg("-f")
        .arg(&config)
        .status()
        .unwrap();
    assert!(gz.success());
    let bomb = dir.join("config.gz").display().to_string();
    let cases: [(&[&str], &str); 6] = [
        (&["run", "/dev/zero"], "more than 64 MiB"),
        (&["collect", "--config", "/dev/zero"], "more than 1 MiB"),
        (&["check", "--config", "/dev/zero"], "more than 16 MiB"),
        (
            &["check", "--config", &bomb],
            "more than 16 MiB (uncompressed)",
        ),
        (
            &["filewatch", "--file", "/dev/zero"],
            "larger than 65536 bytes",
        ),
        (&["funccount", "u:/dev/zero:f"], "/dev/zero"),
    ];
    let tools = tools_of(&bin);
    for (args, says) in cases {
        let tool_missing =
            !tools.iter().any(|t| t == args[0]) && !["run", "collect", "check"].contains(&args[0]);
        if tool_missing {
            continue;
        }
        let mut child = Command::new(&bin)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(st) = child.try_wait().unwrap() {
                break st;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{args:?} still runs after 30 s: read without a bound?");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        assert_eq!(status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?} should say {says:?}: {err}");
        assert!(
            err.lines().count() <= 2 && !err.contains("panic"),
            "{args:?}: {err}"
        );
    }
}

/// Every hook holds a file descriptor: a tool raises its soft open-files limit to the hard one
/// for as many hooks as a pattern names, and where the hard limit is too low says so and how
/// to raise it, in one line and the fix.
#[test]
fn hooks_beyond_the_open_files_limit_raise_it_or_name_the_fix() {
    let Some(bin) = agent_bin() else { return };
    if !tools_of(&bin).iter().any(|t| t == "funccount") {
        return;
    }
    // About 70 tracepoints on every kernel of these years: more than 40 descriptors.
    let run = |limit: &str| {
        Command::new("prlimit")
            .arg(format!("--nofile={limit}"))
            .arg("--")
            .arg(&bin)
            .args(["funccount", "-d", "1", "t:syscalls:sys_enter_s*"])
            .output()
            .expect("prlimit (util-linux)")
    };
    let out = run("40:4096");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("syscalls:sys_enter_"), "{text}");
    let out = run("40:40");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("No file descriptors available")
            && err.contains("may have 40")
            && err.contains("ulimit -Hn"),
        "{err}"
    );
    assert!(err.lines().count() <= 2, "{err}");
}

#[test]
fn sighup_ends_a_tool_with_its_final_report() {
    let Some(bin) = agent_bin() else { return };
    let mut agent = common::start_tool(
        &bin,
        &["syscount", "-v", "-p", &std::process::id().to_string()],
    );
    for _ in 0..50 {
        std::hint::black_box(std::os::unix::process::parent_id());
    }
    let pid = nix::unistd::Pid::from_raw(agent.child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGHUP).unwrap();
    let mut out = String::new();
    agent
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let status = agent.child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{status}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("getppid ") && l.ends_with(" 50")),
        "the final report: {out}"
    );
}

/// As nobody, without capabilities: `list` and `check` name the missing privileges, not the
/// tracefs they cannot read.
#[test]
fn unprivileged_list_and_check_name_privileges() {
    let Some(bin) = agent_bin() else { return };
    let nobody = |args: &[&str]| {
        Command::new("setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "--inh-caps=-all",
            ])
            .arg(&bin)
            .args(args)
            .output()
            .unwrap()
    };
    let out = nobody(&["list"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    for tool in tools_of(&bin) {
        assert!(
            text.lines().any(|l| l.starts_with(&tool)
                && l.contains("missing")
                && l.ends_with("needs root or CAP_BPF+CAP_PERFMON")),
            "{text}"
        );
    }
    assert!(!text.contains("mount"), "{text}");
    let out = nobody(&["check"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        text.contains("privileges: needs root or CAP_BPF+CAP_PERFMON"),
        "{text}"
    );
    assert!(!text.contains("mount -t tracefs"), "{text}");
}

/// Where tracefs is not mounted, a tool mounts it to find its hooks and unmounts it when it
/// ends: the system is left as it was. In a mount namespace of the test's own; tracefs mounted
/// elsewhere (a chroot's /sys, a container's) is none of the tool's business.
#[test]
fn tracefs_mounted_for_a_run_is_unmounted_after_it() {
    let Some(bin) = agent_bin() else { return };
    let script = format!(
        "umount -l /sys/kernel/tracing 2>/dev/null; umount -l /sys/kernel/debug 2>/dev/null; \
         t=' /sys/kernel/(debug/)?tracing tracefs '; \
         if grep -qE \"$t\" /proc/self/mounts; then echo still-mounted; exit 9; fi; \
         {} opensnoop -v -d 1 >/dev/null 2>/tmp/.tracefs-$$ || {{ cat /tmp/.tracefs-$$; exit 8; }}; \
         grep -q 'mounted tracefs' /tmp/.tracefs-$$ || echo not-mounted-by-us; rm -f /tmp/.tracefs-$$; \
         grep -cE \"$t\" /proc/self/mounts",
        bin.display()
    );
    let out = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", &script])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout.trim(),
        "0",
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// (tool, arguments, extra capability, workload, what its output must hold)
type CapsCase = (
    &'static str,
    Vec<String>,
    &'static str,
    Vec<&'static str>,
    String,
);

/// Each tool with no more than it needs: CAP_BPF and CAP_PERFMON as uid 65534, and
/// CAP_DAC_READ_SEARCH only for the tools that attach tracepoints (tracefs is mode 0700).
#[test]
fn every_tool_runs_with_cap_bpf_and_cap_perfmon() {
    let Some(bin) = agent_bin() else { return };
    let m = marker("caps");
    let tools = tools_of(&bin);
    let dir = format!("/tmp/{m}");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(format!("{dir}/watched"), b"x").unwrap();
    std::fs::write(format!("{dir}/read-{m}"), b"x").unwrap();
    // (tool, arguments, extra capability, workload, what its output must hold)
    let cases: Vec<CapsCase> = vec![
        (
            "opensnoop",
            vec![],
            "",
            vec!["cat", "/nonexistent/M"],
            "/nonexistent/M".into(),
        ),
        (
            "statsnoop",
            vec![],
            "",
            vec!["stat", "/nonexistent/M"],
            "/nonexistent/M".into(),
        ),
        (
            "execsnoop",
            vec![],
            "",
            vec!["/bin/sh", "-c", ": M"],
            ": M".into(),
        ),
        (
            "filewatch",
            vec![format!("{dir}/watched")],
            "",
            vec!["cat", "D/watched"],
            format!("{dir}/watched"),
        ),
        (
            "syscount",
            vec!["-P".into()],
            "",
            vec!["true"],
            "\"pid\":".into(),
        ),
        (
            "exitsnoop",
            vec![],
            "dac_read_search",
            vec!["sh", "-c", "exit 7"],
            "\"exit_code\":7".into(),
        ),
        (
            "filetop",
            // Every row: on a busy machine one small read need not be in the top 20.
            vec!["-C".into(), "-r".into(), "10240".into(), "1".into()],
            "dac_read_search",
            vec!["cat", "D/read-M"],
            "\"file\":\"read-M\"".into(),
        ),
    ];
    for (tool, args, extra, work, want) in cases {
        if !tools.iter().any(|t| t == tool) {
            continue;
        }
        let caps = if extra.is_empty() {
            "+bpf,+perfmon".to_string()
        } else {
            format!("+bpf,+perfmon,+{extra}")
        };
        let mut cmd = Command::new("setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(format!("--inh-caps={caps}"))
            .arg(format!("--ambient-caps={caps}"))
            .arg(&bin)
            .arg(tool)
            .args(&args)
            .args(["--json", "-v"]);
        let agent = start(cmd);
        let fix = |s: &str| s.replace('M', &m).replace('D', &dir);
        let work: Vec<String> = work.iter().map(|w| fix(w)).collect();
        let _ = Command::new(&work[0])
            .args(&work[1..])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        std::thread::sleep(Duration::from_millis(if tool == "filetop" {
            1500
        } else {
            400
        }));
        let (out, _) = agent.stop();
        let want = fix(&want);
        assert!(
            out.contains(&want),
            "{tool} with {caps}: no {want:?} in {out}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
