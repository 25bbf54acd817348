//! Running the real static agent against the host kernel, for the integration tests.
//!
//! The binary is `target/dist/x86_64-unknown-linux-musl/ebpf-agent` (built by `ci/build`), or
//! `$EBPF_AGENT_BIN`. Without root or without that binary the tests say so and pass vacuously,
//! unless `EBPF_AGENT_REQUIRE_HOST=1` (set by `ci/test`) makes that a failure.

#![allow(dead_code)]

pub mod cwork;
pub mod net;
pub mod stacks;

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

/// This test process's own directory under the system's temporary directory, made at the
/// first call and removed when the process exits (the test harness ends through libc's exit,
/// which runs atexit handlers). Directories of earlier test processes that are gone (killed by
/// a timeout, say) are removed when it is made. Nothing is removed while a filesystem is
/// mounted below it.
pub fn process_dir() -> &'static std::path::Path {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        const PREFIX: &str = "ebpf-rust-tests-";
        let tmp = std::env::temp_dir();
        for e in std::fs::read_dir(&tmp).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(pid) = name.strip_prefix(PREFIX) else {
                continue;
            };
            if pid.parse::<u32>().is_ok() && !std::path::Path::new("/proc").join(pid).exists() {
                remove_unmounted(&e.path());
            }
        }
        let dir = tmp.join(format!("{PREFIX}{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        extern "C" fn at_exit() {
            if let Some(dir) = DIR.get() {
                remove_unmounted(dir);
            }
        }
        // SAFETY: at_exit is a plain extern "C" function that neither unwinds nor returns
        // anything; registering it has no other effect.
        unsafe { libc::atexit(at_exit) };
        dir
    })
}

/// Removes `dir` and what it holds unless a filesystem is mounted at or below it.
fn remove_unmounted(dir: &std::path::Path) {
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    let prefix = dir.to_string_lossy();
    let mounted = mounts.lines().any(|l| {
        l.split(' ')
            .nth(1)
            .is_some_and(|m| m == prefix || m.starts_with(&format!("{prefix}/")))
    });
    if !mounted {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// A new directory below [`process_dir`], its name made of `tag` and [`marker`].
pub fn scratch_dir(tag: &str) -> PathBuf {
    let dir = process_dir().join(marker(tag));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn agent_bin() -> Option<PathBuf> {
    let require = std::env::var("EBPF_AGENT_REQUIRE_HOST").is_ok_and(|v| v == "1");
    let bin = std::env::var_os("EBPF_AGENT_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../target/dist/x86_64-unknown-linux-musl/ebpf-agent")
        });
    let why = if !nix::unistd::geteuid().is_root() {
        "not root"
    } else if !bin.exists() {
        "no static agent (run ci/build)"
    } else {
        return Some(bin);
    };
    assert!(
        !require,
        "host integration test cannot run: {why} ({})",
        bin.display()
    );
    eprintln!("skipped: {why}");
    None
}

/// A tool running in the background with its stdout collected.
pub struct Running {
    pub child: Child,
    pub stdout: Option<ChildStdout>,
    pub stderr: mpsc::Receiver<String>,
    stderr_seen: Vec<String>,
}

/// Starts `cmd` (with `-v`, which makes a tool say "tracing:" once attached) and waits until
/// it is attached.
pub fn start(mut cmd: Command) -> Running {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the agent");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let stdout = child.stdout.take();
    let mut r = Running {
        child,
        stdout,
        stderr: rx,
        stderr_seen: Vec::new(),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match r.stderr.recv_timeout(Duration::from_millis(200)) {
            Ok(line) => {
                let ready = line.contains(": tracing:");
                r.stderr_seen.push(line);
                if ready {
                    return r;
                }
            }
            Err(_) => {
                if let Some(status) = r.child.try_wait().unwrap() {
                    panic!(
                        "agent exited before attaching ({status}):\n{}",
                        r.stderr_seen.join("\n")
                    );
                }
                assert!(
                    Instant::now() < deadline,
                    "agent did not attach in 30 s:\n{}",
                    r.stderr_seen.join("\n")
                );
            }
        }
    }
}

/// Starts `bin ARGS` (`-v` among them) and waits until it is attached.
pub fn start_tool(bin: &std::path::Path, args: &[&str]) -> Running {
    let mut cmd = Command::new(bin);
    cmd.args(args);
    start(cmd)
}

impl Drop for Running {
    /// A test that panicked must not leave its agent running.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Running {
    /// The "tracing: ..." line it printed once attached (-v): the hooks it picked.
    pub fn tracing_line(&self) -> &str {
        self.stderr_seen
            .iter()
            .find(|l| l.contains(": tracing:"))
            .map_or("", String::as_str)
    }

    /// Waits for the tool to end by itself (a count, a duration): its status and stdout.
    pub fn wait(mut self) -> (std::process::ExitStatus, String) {
        self.output_and_status()
    }

    /// Reads stdout to its end, then reaps the tool: its status and stdout.
    fn output_and_status(&mut self) -> (std::process::ExitStatus, String) {
        let mut out = String::new();
        self.stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        (self.child.wait().unwrap(), out)
    }

    /// Sends SIGINT, waits for a clean exit, and returns stdout.
    pub fn stop(mut self) -> (String, Vec<String>) {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGINT,
        )
        .unwrap();
        let (status, out) = self.output_and_status();
        // Every line up to the end of stderr (the reader thread ends there).
        while let Ok(l) = self.stderr.recv_timeout(Duration::from_secs(5)) {
            self.stderr_seen.push(l);
        }
        assert!(
            status.success(),
            "agent exit status {status} after SIGINT:\n{}",
            self.stderr_seen.join("\n")
        );
        (out, std::mem::take(&mut self.stderr_seen))
    }

    /// Gives the tool time to read what the workload made, then stops it: its stdout.
    pub fn settle_and_stop(self) -> String {
        std::thread::sleep(Duration::from_millis(300));
        self.stop().0
    }
}

impl Running {
    /// Waits (at most `limit`) for the tool to end by itself (a count, a duration), checks it
    /// exited 0, and returns stdout.
    pub fn wait_output(mut self, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        while self.child.try_wait().unwrap().is_none() {
            assert!(
                Instant::now() < deadline,
                "the tool did not end in {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let (status, out) = self.output_and_status();
        self.stderr_seen.extend(self.stderr.try_iter());
        assert!(
            status.success(),
            "agent exit status {status}:\n{}",
            self.stderr_seen.join("\n")
        );
        out
    }
}

/// Parses JSON Lines output: every line must be one complete object.
pub fn json_lines(out: &str) -> Vec<Value> {
    assert!(
        out.is_empty() || out.ends_with('\n'),
        "output ends mid-line"
    );
    out.lines()
        .map(|l| {
            let v: Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("invalid JSON line ({e}): {l}"));
            assert!(v.is_object(), "not an object: {l}");
            v
        })
        .collect()
}

/// A documented schema: `schema![name: Kind, ...]` is `&[("name", Ty::Kind), ...]`.
#[macro_export]
macro_rules! schema {
    ($($name:ident: $ty:ident),* $(,)?) => {
        &[$((stringify!($name), $crate::common::Ty::$ty)),*]
    };
}

/// The schema of a typed object: `type`, then the given fields.
#[macro_export]
macro_rules! typed_schema {
    ($($name:ident: $ty:ident),* $(,)?) => {
        &[
            ("type", $crate::common::Ty::Str),
            $((stringify!($name), $crate::common::Ty::$ty)),*
        ]
    };
}

/// An event's schema: docs/json.md's `type`, `ts` and `time_ns`, then the given fields.
#[macro_export]
macro_rules! event_schema {
    ($($name:ident: $ty:ident),* $(,)?) => {
        &[
            ("type", $crate::common::Ty::Str),
            ("ts", $crate::common::Ty::Str),
            ("time_ns", $crate::common::Ty::Uint),
            $((stringify!($name), $crate::common::Ty::$ty)),*
        ]
    };
}

/// What a field of a documented schema holds.
#[derive(Clone, Copy)]
pub enum Ty {
    Str,
    Uint,
    Int,
    Bool,
    /// Any JSON number (integer or not).
    Num,
    StrArray,
    /// A string, or null when there is nothing to say.
    StrOrNull,
    /// An unsigned integer, or null when it is not known.
    UintOrNull,
    /// An array of objects (checked on their own).
    ObjArray,
    /// An object (checked on its own).
    Obj,
}

fn matches(v: &Value, ty: Ty) -> bool {
    match ty {
        Ty::Str => v.is_string(),
        Ty::Uint => v.is_u64(),
        Ty::Int => v.is_i64(),
        Ty::Bool => v.is_boolean(),
        Ty::Num => v.is_number(),
        Ty::StrArray => v.as_array().is_some_and(|a| a.iter().all(Value::is_string)),
        Ty::StrOrNull => v.is_string() || v.is_null(),
        Ty::UintOrNull => v.is_u64() || v.is_null(),
        Ty::ObjArray => v.as_array().is_some_and(|a| a.iter().all(Value::is_object)),
        Ty::Obj => v.is_object(),
    }
}

/// Checks one object against a schema: every required field with its type, optional fields
/// (the `_hex` companions) typed when present, and nothing undocumented.
pub fn check_schema(v: &Value, required: &[(&str, Ty)], optional: &[(&str, Ty)]) {
    let obj = v.as_object().unwrap();
    for (k, ty) in required {
        let f = obj
            .get(*k)
            .unwrap_or_else(|| panic!("missing field {k}: {v}"));
        assert!(matches(f, *ty), "field {k} has the wrong type: {v}");
    }
    for (k, f) in obj {
        if required.iter().any(|(r, _)| r == k) {
            continue;
        }
        let ty = optional
            .iter()
            .find(|(o, _)| o == k)
            .unwrap_or_else(|| panic!("undocumented field {k}: {v}"))
            .1;
        assert!(matches(f, ty), "field {k} has the wrong type: {v}");
    }
}

/// Checks a stream tool's lines: each one an event of type `ty` with its schema, or a `lost`
/// line.
pub fn check_events(events: &[Value], ty: &str, required: &[(&str, Ty)], optional: &[(&str, Ty)]) {
    for e in events {
        match e["type"].as_str() {
            Some(t) if t == ty => check_schema(e, required, optional),
            Some("lost") => check_schema(e, LOST_REQUIRED, &[]),
            _ => panic!("unknown type: {e}"),
        }
    }
}

/// Lowercase hex of bytes, as the `_hex` companions carry them.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The bytes a `_hex` companion holds.
pub fn unhex(h: &str) -> Vec<u8> {
    (0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
        .collect()
}

/// A marker unique to this test run, so events from anything else on the machine never match.
pub fn marker(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("ebpf-rust-test-{tag}-{}-{nanos}", std::process::id())
}

/// The field names documented in `docs/<file>` under the `##` heading that starts with
/// `heading`.
pub fn documented_fields(file: &str, heading: &str) -> Vec<String> {
    let path = format!("{}/../../docs/{file}", env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let section = doc
        .split("\n## ")
        .find(|s| s.starts_with(heading))
        .unwrap_or_else(|| panic!("no section {heading} in docs/{file}"));
    let mut names = Vec::new();
    for row in section.lines().filter(|l| l.starts_with("| `")) {
        let first = row.split('|').nth(1).unwrap();
        names.extend(
            first
                .split(',')
                .map(|n| n.trim().trim_matches('`').to_string()),
        );
    }
    names
}

/// Asserts that a test's schema lists exactly the fields the documentation does.
pub fn assert_documented(
    file: &str,
    heading: &str,
    required: &[(&str, Ty)],
    optional: &[(&str, Ty)],
) {
    let mut doc = documented_fields(file, heading);
    let mut ours: Vec<String> = required
        .iter()
        .chain(optional)
        .map(|(n, _)| n.to_string())
        .collect();
    doc.sort();
    ours.sort();
    assert_eq!(
        doc, ours,
        "docs/{file} section {heading} and the test's schema differ"
    );
}

/// A python3 workload run in steps, for tools that must be pointed at a pid (`-p`) before the
/// workload starts: the process exists first, and each [`Phases::run`] makes it do one step.
///
/// `script` defines `phase_<name>()` functions; each returns what the step prints back (one
/// line, or nothing for "done").
pub struct Phases {
    child: Child,
    stdin: Option<std::process::ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl Phases {
    pub fn spawn(script: &str) -> Phases {
        Phases::spawn_with(&[], script)
    }

    /// The same, run through `prefix` (a command that execs the rest in place, keeping the
    /// pid: `ip netns exec NS`, `setpriv --reuid=...`).
    pub fn spawn_with(prefix: &[&str], script: &str) -> Phases {
        let program = format!(
            "import os, sys\n{script}\nprint('ready', flush=True)\nfor line in sys.stdin:\n    \
             name, *args = line.split()\n    \
             print(globals()['phase_' + name](*args) or 'done', flush=True)\n"
        );
        // Debian's interpreter itself, not a wrapper (pyenv shims are shell scripts).
        let (cmd, pre) = match prefix.split_first() {
            Some((c, rest)) => (*c, rest),
            None => ("/usr/bin/python3", &[][..]),
        };
        let mut command = Command::new(cmd);
        command.args(pre);
        if !prefix.is_empty() {
            command.arg("/usr/bin/python3");
        }
        let mut child = command
            .args(["-c", &program])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn python3");
        let stdin = child.stdin.take();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        // Started up (imports done) before any tool is pointed at it.
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        assert_eq!(line, "ready\n", "the workload did not start");
        Phases {
            child,
            stdin,
            stdout,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Runs `phase_<name>()` in the child and returns the line it printed.
    pub fn run(&mut self, name: &str) -> String {
        self.call(name, &[])
    }

    /// Runs `phase_<name>(*args)` (arguments without spaces) and returns the line it printed.
    pub fn call(&mut self, name: &str, args: &[&str]) -> String {
        use std::io::Write;
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{name} {}", args.join(" ")).unwrap();
        stdin.flush().unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        assert!(!line.is_empty(), "workload died in phase {name}");
        line.trim_end().to_string()
    }

    /// Ends the child (end of input) and checks it exited cleanly.
    pub fn finish(mut self) {
        drop(self.stdin.take());
        assert!(self.child.wait().unwrap().success(), "workload failed");
    }
}

/// docs/json.md, "Lost events": the lost lines every tool prints.
pub const LOST_REQUIRED: &[(&str, Ty)] = typed_schema![ts: Str, lost: Uint, lost_total: Uint];

/// [`assert_usage_error`] for each (arguments, flag named).
pub fn assert_usage_errors(bin: &std::path::Path, tool: &str, cases: &[(&[&str], &str)]) {
    for (args, flag) in cases {
        assert_usage_error(bin, tool, args, flag);
    }
}

/// Runs `bin ARGS` to its end: its exit code and stderr.
pub fn exit_and_stderr(bin: &std::path::Path, args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(bin).args(args).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `bin ARGS` to its end: it must exit 0; returns its stdout.
pub fn run_to_end(bin: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new(bin).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The id of a process that ran and was reaped: no process has it now, and the kernel hands
/// ids out in increasing order, so none will for a long while. (An id above pid_max is a usage
/// error, not a process that does not exist.)
pub fn gone_pid() -> String {
    let mut child = Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    pid.to_string()
}

/// A symlink named `name` to the agent in a directory of its own: the busybox-style call.
pub fn link_named(bin: &std::path::Path, name: &str) -> PathBuf {
    let dir = process_dir().join(format!("link-{name}"));
    std::fs::create_dir_all(&dir).unwrap();
    let link = dir.join(name);
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(bin, &link).unwrap();
    link
}

/// Starts the tool of `cmd`, runs phase `phase` of the workload, gives the tool time to read
/// its ring buffer, stops it: its stdout.
pub fn trace_phase(cmd: Command, w: &mut Phases, phase: &str) -> String {
    let agent = start(cmd);
    w.run(phase);
    agent.settle_and_stop()
}

/// Runs `bin <tool> <args>` and asserts a usage error: exit code 2, `flag` named on stderr.
pub fn assert_usage_error(bin: &std::path::Path, tool: &str, args: &[&str], flag: &str) {
    let out = Command::new(bin).arg(tool).args(args).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{tool} {args:?}: {err}");
    assert!(
        err.contains(flag),
        "{tool} {args:?} should name {flag}: {err}"
    );
}

/// Runs `bin <tool> --json -p PID --duration 1` on a process that is gone: the tool runs its
/// second, sees nothing and exits 0.
pub fn assert_gone_pid_prints_nothing(bin: &std::path::Path, tool: &str) {
    let gone = gone_pid();
    let out = run_to_end(bin, &[tool, "--json", "-p", &gone, "--duration", "1"]);
    assert_eq!(out, "", "{tool} -p {gone}");
}

/// Whether this kernel has kprobes; says the test is skipped if so (the tests that call it
/// check what is refused without them).
pub fn skipped_for_kprobes() -> bool {
    let has = std::path::Path::new("/sys/kernel/tracing/kprobe_events").exists();
    if has {
        eprintln!("skipped: this kernel has kprobes");
    }
    has
}

/// Runs `bin <tool> <args>` as nobody without capabilities: exit code 4, and the message names
/// the capabilities to grant.
pub fn assert_needs_privileges(bin: &std::path::Path, tool: &str, args: &[&str]) {
    let out = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
        ])
        .arg(bin)
        .arg(tool)
        .args(args)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(
        err.contains("CAP_BPF") && err.contains("CAP_PERFMON"),
        "{err}"
    );
}

/// Parses an interval tool's output (docs/json.md): every line an `interval` object, checked
/// against `required`, whose rows `row(interval, row)` checks, or a `lost` line. Returns the
/// interval objects.
pub fn interval_objects(
    out: &str,
    required: &[(&str, Ty)],
    row: impl Fn(&Value, &Value),
) -> Vec<Value> {
    let mut found = Vec::new();
    for e in json_lines(out) {
        match e["type"].as_str() {
            Some("interval") => {
                check_schema(&e, required, &[]);
                for r in e["rows"].as_array().unwrap() {
                    row(&e, r);
                }
                found.push(e);
            }
            Some("lost") => check_schema(&e, LOST_REQUIRED, &[]),
            _ => panic!("unknown type: {e}"),
        }
    }
    found
}

pub mod blk;

/// The 32-bit test program (tests/compat32.c), built for the host's compat entry (i386 on
/// x86_64) once per test binary: its path, or None (said why) where it cannot be built.
pub fn compat32() -> Option<PathBuf> {
    static BUILT: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            if std::env::consts::ARCH != "x86_64" {
                eprintln!("skipped: the host compat program is built for x86_64 hosts");
                return None;
            }
            let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/compat32.c");
            let out = process_dir().join("compat32");
            let status = Command::new("cc")
                .args([
                    "-m32",
                    "-nostdlib",
                    "-static",
                    "-ffreestanding",
                    "-fno-pie",
                    "-no-pie",
                ])
                .args(["-fno-stack-protector", "-O2", "-o"])
                .arg(&out)
                .arg(&src)
                .status();
            match status {
                Ok(s) if s.success() => Some(out),
                _ => {
                    let require = std::env::var("EBPF_AGENT_REQUIRE_HOST").is_ok_and(|v| v == "1");
                    assert!(!require, "cannot build {} with cc -m32", src.display());
                    eprintln!("skipped: cc -m32 cannot build {}", src.display());
                    None
                }
            }
        })
        .clone()
}

/// Runs the 32-bit test program with `args`: it must exit 0.
pub fn run_compat32(prog: &std::path::Path, args: &[&str]) -> u32 {
    let mut child = Command::new(prog).args(args).spawn().unwrap();
    let pid = child.id();
    let status = child.wait().unwrap();
    assert!(status.success(), "compat32 {args:?}: {status}");
    pid
}

/// The tools of the binary (what `list --json` names).
pub fn tools_of(bin: &std::path::Path) -> Vec<String> {
    let out = Command::new(bin).args(["list", "--json"]).output().unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect()
}

/// A test program of tests/<name>.c, built with the host's cc once per test binary.
pub fn helper(name: &str) -> PathBuf {
    static BUILT: std::sync::Mutex<Vec<(String, PathBuf)>> = std::sync::Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap();
    if let Some((_, p)) = built.iter().find(|(n, _)| n == name) {
        return p.clone();
    }
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/{name}.c"));
    let out = process_dir().join(name);
    let status = Command::new("cc")
        .args(["-O2", "-Wall", "-o"])
        .arg(&out)
        .arg(&src)
        .status()
        .unwrap();
    assert!(status.success(), "cc {}", src.display());
    built.push((name.to_string(), out.clone()));
    out
}

/// The feature object named `name` of a `check --json` or `verify --json` report.
pub fn feature<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == name)
        .unwrap_or_else(|| panic!("no feature {name}: {v}"))
}

/// Python for a workload script: `open_too_long(base, c)` tries to open a path of 4,000 bytes
/// below `base` (names of 200 `c`s, then `y`s to the length) that does not exist, and returns
/// its length. Added after the script: the phases look it up when they run.
pub const PY_OPEN_TOO_LONG: &str = "
def open_too_long(base, c):
    long = base + '/' + '/'.join([c * 200] * 19)
    long = long + '/' + 'y' * (3999 - len(long))
    try:
        os.open(long, os.O_RDONLY)
    except FileNotFoundError:
        pass
    return len(long)
";
