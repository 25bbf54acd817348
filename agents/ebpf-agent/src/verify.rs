//! `ebpf-agent verify [--json]`: the on-device verification that images run at first boot and
//! field scripts collect. It runs `check`, then each tool briefly against a workload it makes
//! itself, and confirms the tool saw its own events. Exit 0 only if everything applicable passed.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use argh::FromArgs;

use agent_core::cli;
use agent_core::error::{Error, EXIT_FAILURE};
use agent_core::json::Obj;
use agent_core::time;
use agent_core::Result;

use crate::check::{self, Feature};
use agent_core::hooks::Running;
use agent_core::tool::Entry;

use crate::tools;

#[derive(FromArgs)]
/// Verify that every tool works on this kernel: one report, exit 0 only if all passed.
struct Args {
    /// print one JSON object (schema: docs/verify.md)
    #[argh(switch)]
    json: bool,
    /// only these tools (comma-separated)
    #[argh(option)]
    tools: Option<String>,
    /// verbose diagnostics on stderr
    #[argh(switch, short = 'v')]
    verbose: bool,
}

/// How long a tool may take to attach (emulated CPUs are slow), and to exit after SIGINT (the
/// stack tools name their frames then: a pass over /proc/kallsyms takes seconds on an
/// emulated board).
const ATTACH_TIMEOUT: Duration = Duration::from_secs(15);
const EXIT_TIMEOUT: Duration = Duration::from_secs(30);

pub enum Status {
    Pass,
    Fail,
    Skip,
}

pub struct ToolResult {
    pub name: &'static str,
    pub status: Status,
    pub reason: String,
    pub millis: u64,
}

pub fn marker(tool: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("ebpf-verify-{tool}-{}-{nanos}", std::process::id())
}

/// Reads a child's stderr on a thread, so a chatty tool never blocks on a full pipe.
fn lines_of(stream: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream)
            .lines()
            .map_while(std::result::Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn wait_timeout(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(Some(s)) = child.try_wait() {
            return Some(s);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A tool running as a child process, attached (its "tracing:" line seen).
pub struct Attached {
    pub child: Child,
    stderr: mpsc::Receiver<String>,
    pub log: Vec<String>,
}

impl Attached {
    /// Starts `ebpf-agent <tool> -v ARGS` and waits until it is attached; `stdout` is where
    /// its output goes.
    pub fn start(
        tool: &str,
        args: &[String],
        stdout: Stdio,
    ) -> std::result::Result<Attached, String> {
        let exe = std::env::current_exe().map_err(|e| format!("cannot find own binary: {e}"))?;
        let mut cmd = Command::new(exe);
        cmd.arg(tool).arg("-v").args(args);
        cmd.stdin(Stdio::null())
            .stdout(stdout)
            .stderr(Stdio::piped())
            .env_remove("RUST_LOG");
        let mut child = cmd.spawn().map_err(|e| format!("cannot start: {e}"))?;
        let stderr = lines_of(child.stderr.take().unwrap());
        let mut a = Attached {
            child,
            stderr,
            log: Vec::new(),
        };
        let deadline = Instant::now() + ATTACH_TIMEOUT;
        loop {
            match a.stderr.recv_timeout(Duration::from_millis(50)) {
                Ok(l) => {
                    let ready = l.contains(": tracing:");
                    a.log.push(l);
                    if ready {
                        return Ok(a);
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) if Instant::now() < deadline => {}
                Err(_) => {
                    let _ = a.child.kill();
                    let _ = a.child.wait();
                    return Err(format!("did not attach: {}", a.tail()));
                }
            }
        }
    }

    /// The last lines it wrote on stderr.
    pub fn tail(&self) -> String {
        let n = self.log.len();
        self.log[n.saturating_sub(3)..].join(" | ")
    }

    /// Sends SIGINT and waits for the exit (killed past the timeout).
    pub fn stop(&mut self) -> std::result::Result<std::process::ExitStatus, String> {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGINT,
        );
        let status = wait_timeout(&mut self.child, EXIT_TIMEOUT);
        self.log.extend(self.stderr.try_iter());
        status.ok_or_else(|| "did not exit after SIGINT".to_string())
    }
}

/// Runs one tool's self-test: Ok(()) or why it failed.
fn selftest(tool: &Entry) -> std::result::Result<(), String> {
    let m = marker(tool.name());
    let selftest = &tool.spec.selftest;
    let mut args = vec!["--json".to_string(), "--duration".into(), "60".into()];
    args.extend((selftest.args)(&m));
    let mut run = Attached::start(tool.name(), &args, Stdio::piped())?;
    let stdout_rx = {
        let mut out = run.child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut s = Vec::new();
            let _ = out.read_to_end(&mut s);
            let _ = tx.send(s);
        });
        rx
    };
    let expected = (selftest.workload)(&m).map_err(|e| format!("workload failed: {e}"));
    // The tool reads its ring buffer at least every 100 ms.
    std::thread::sleep(Duration::from_millis(400));
    let status = run.stop();
    let expected = expected?;
    let status = status?;
    let out = stdout_rx.recv_timeout(EXIT_TIMEOUT).unwrap_or_default();
    if !status.success() {
        return Err(format!("exited with {status}: {}", run.tail()));
    }
    let out = String::from_utf8_lossy(&out);
    if let Some(bad) = out
        .lines()
        .find(|l| !(l.starts_with('{') && l.ends_with('}')))
    {
        return Err(format!("output line is not a JSON object: {bad:.80}"));
    }
    let missing: Vec<&String> = expected
        .iter()
        .filter(|e| !out.contains(e.as_str()))
        .collect();
    if !missing.is_empty() {
        // What the tool did say about the marker, if anything: the field engineer's clue.
        let near = match out.lines().find(|l| l.contains(m.as_str())) {
            Some(l) => format!("; the line naming it: {l:.400}"),
            None => "; no line names it".to_string(),
        };
        return Err(format!(
            "its own events were not seen (looked for {missing:?} in {} lines{near})",
            out.lines().count()
        ));
    }
    Ok(())
}

pub fn run_tools(only: Option<&[&str]>, features_ok: bool) -> Vec<ToolResult> {
    let kernel = Running::default();
    tools::ALL
        .iter()
        .filter(|t| only.is_none_or(|o| o.contains(&t.name())))
        .map(|t| {
            let start = Instant::now();
            let missing = t.missing(&kernel);
            let (status, reason) = if !features_ok {
                (
                    Status::Skip,
                    "required kernel features are missing (see features)".to_string(),
                )
            } else if !missing.is_empty() {
                (Status::Skip, missing.join("; "))
            } else {
                match selftest(t) {
                    Ok(()) => (Status::Pass, "saw its own events".to_string()),
                    Err(e) => (Status::Fail, e),
                }
            };
            ToolResult {
                name: t.name(),
                status,
                reason,
                millis: start.elapsed().as_millis() as u64,
            }
        })
        .collect()
}

fn status_str(s: &Status) -> &'static str {
    match s {
        Status::Pass => "pass",
        Status::Fail => "fail",
        Status::Skip => "skip",
    }
}

pub fn main(args: &[String]) -> Result<()> {
    let args: Args = cli::parse_command("verify", args, &["tools"])?;
    agent_core::logging::verbose(args.verbose);
    let started = Instant::now();
    let wall = time::rfc3339_utc(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as i128)
            .unwrap_or(0),
    );
    let only: Option<Vec<&str>> = args
        .tools
        .as_deref()
        .map(|s| s.split(',').map(str::trim).collect());
    if let Some(o) = &only {
        if let Some(bad) = o.iter().find(|n| tools::find(n).is_none()) {
            return Err(Error::usage(format!("--tools: no tool named {bad:?}"))
                .hint("`ebpf-agent list` names the tools"));
        }
    }
    let features: Vec<Feature> = check::run_checks(None)?;
    let features_ok = features.iter().all(|f| f.ok || !f.required);
    let results = run_tools(only.as_deref(), features_ok);
    let passed = features_ok
        && results.iter().all(|r| !matches!(r.status, Status::Fail))
        && results.iter().any(|r| matches!(r.status, Status::Pass));
    let hostname = nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut stdout = std::io::stdout().lock();
    if args.json {
        let mut buf = Vec::new();
        let mut o = Obj::new(&mut buf);
        o.str("type", "verify")
            .str("ts", &wall)
            .str("hostname", &hostname)
            .str("kernel", &check::kernel_release())
            .str("arch", std::env::consts::ARCH)
            .str("version", env!("CARGO_PKG_VERSION"))
            .bool("passed", passed)
            .u64("duration_ms", started.elapsed().as_millis() as u64);
        check::features_json(&mut o, &features);
        o.objects("tools", &results, |t, r| {
            t.str("name", r.name)
                .str("status", status_str(&r.status))
                .str("reason", &r.reason)
                .u64("duration_ms", r.millis);
        });
        o.end();
        stdout.write_all(&buf)?;
    } else {
        let mut s = format!(
            "ebpf-agent {} verify on {hostname}, kernel {} ({}), {wall}\n\n",
            env!("CARGO_PKG_VERSION"),
            check::kernel_release(),
            std::env::consts::ARCH
        );
        check::features_text(&mut s, &features);
        s.push_str(&format!(
            "\n{:<12} {:<6} {:>7} REASON\n",
            "TOOL", "STATUS", "SECONDS"
        ));
        for r in &results {
            s.push_str(&format!(
                "{:<12} {:<6} {:>7} {}\n",
                r.name,
                status_str(&r.status),
                agent_core::text::Fixed::ratio(r.millis.into(), 1000, 1),
                r.reason
            ));
        }
        s.push_str(&format!("\n{}\n", if passed { "PASSED" } else { "FAILED" }));
        stdout.write_all(s.as_bytes())?;
    }
    stdout.flush()?;
    if passed {
        Ok(())
    } else {
        Err(Error::new("verification failed (see the report)").code(EXIT_FAILURE))
    }
}
