//! `ebpf-agent collect [--config FILE]`: several tools in one process, on one event loop, for
//! weeks: their JSON lines go to rotating files with `tool` and `seq` on every line, a status
//! file says how each is doing, and `/metrics` serves Prometheus (docs/collect.md).
//!
//! A tool that fails to start is reported and the others run. Lines that cannot be written
//! (a full disk) are counted and reported once writing works again. SIGHUP reopens the files
//! (after a log rotation); SIGTERM and SIGINT write out everything and exit 0.

use std::io::Write;
use std::os::fd::RawFd;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use argh::FromArgs;

use agent_core::error::{Error, EXIT_FAILURE};
use agent_core::evloop::{self, OnSignal, Source};
use agent_core::input;
use agent_core::json::Obj;
use agent_core::output::{Flow, Out, Sink};
use agent_core::tool::{Instance, Started};
use agent_core::{cli, Result};

use crate::tools;

mod config;
mod files;
mod http;
mod metrics;
mod value;

use config::Config;
use files::{FileSet, Rotation, State, ToolStat};

#[derive(FromArgs)]
/// Run the tools of a config file in one process: JSON Lines files with rotation, a status
/// file, Prometheus metrics (docs/collect.md).
struct Args {
    /// the config file (default /etc/ebpf-agent/collect.json)
    #[argh(option)]
    config: Option<String>,
    /// check the config (JSON, tools, their arguments) and exit
    #[argh(switch)]
    check: bool,
    /// verbose diagnostics on stderr (which hooks each tool attached)
    #[argh(switch, short = 'v')]
    verbose: bool,
}

/// How often a failing file set tries to write again.
const RETRY: Duration = Duration::from_secs(1);

/// What the tools' writers, the loop's timers and the metrics endpoint share.
pub struct Shared {
    sets: Vec<FileSet>,
    tools: Vec<ToolStat>,
    /// Per tool: the row fields its metrics take as labels (None: the default rule).
    labels: Vec<Option<Vec<String>>>,
    /// Per tool: its tool's name (metric names use it).
    kinds: Vec<&'static str>,
    metrics: Option<metrics::Registry>,
    /// Write at once (flush_ms 0) rather than on the flush timer.
    write_through: bool,
    /// Held while running: a second collector on the same directory is refused.
    lock: Option<std::fs::File>,
}

fn lock(s: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    fn write_tool(&mut self, tool: usize, chunk: &[u8]) {
        if self.tools[tool].interval {
            if let Some(m) = self.metrics.as_mut() {
                let only = self.labels[tool].as_deref();
                for line in chunk.split_inclusive(|&b| b == b'\n') {
                    m.feed(tool, self.kinds[tool], &self.tools[tool].name, only, line);
                }
            }
        }
        let set = self.tools[tool].set;
        let name = std::mem::take(&mut self.tools[tool].name);
        self.sets[set].append(tool, &name, chunk, &mut self.tools);
        self.tools[tool].name = name;
        if self.write_through {
            self.sets[set].flush(&mut self.tools);
        }
    }

    fn flush(&mut self) {
        for s in &mut self.sets {
            s.flush(&mut self.tools);
        }
    }

    fn last_error(&self) -> Option<String> {
        self.sets
            .iter()
            .find_map(|s| s.failing.clone())
            .or_else(|| self.tools.iter().rev().find_map(|t| t.error.clone()))
            .or_else(|| self.sets.iter().find_map(|s| s.last_error.clone()))
    }
}

/// The `Write` a tool's [`Out`] writes to: its lines go to its file set.
struct ToolWriter {
    shared: Arc<Mutex<Shared>>,
    tool: usize,
}

impl Write for ToolWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        lock(&self.shared).write_tool(self.tool, buf);
        // Never an error: a failed write is the file set's to count and report, and the
        // tool goes on.
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A running tool, as the loop drives it: its state and losses kept where the status file
/// and the metrics read them.
struct ToolSource {
    inst: Instance,
    idx: usize,
    shared: Arc<Mutex<Shared>>,
}

impl Source for ToolSource {
    fn fds(&self) -> Vec<RawFd> {
        self.inst.fds()
    }

    fn run(&mut self, now: Instant) -> Flow {
        let f = self.inst.run(now);
        lock(&self.shared).tools[self.idx].kernel_lost = self.inst.lost_total();
        f
    }

    fn wake_at(&self) -> Option<Instant> {
        self.inst.wake_at()
    }

    fn polls(&self) -> bool {
        self.inst.polls()
    }

    fn flush(&mut self) {
        self.inst.flush();
    }

    fn finish(&mut self) {
        self.inst.finish();
        let r = self.inst.result();
        let mut s = lock(&self.shared);
        let t = &mut s.tools[self.idx];
        t.kernel_lost = self.inst.lost_total();
        match r {
            Ok(()) => t.state = State::Ended,
            Err(e) => {
                log::error!("{} stopped: {}", t.name, e.message());
                t.state = State::Failed;
                t.error = Some(e.message().to_string());
            }
        }
    }

    fn done(&self) -> bool {
        self.inst.done()
    }
}

/// The status file: rewritten every interval and at exit.
struct StatusFile {
    path: PathBuf,
    every: Duration,
    next: Instant,
    warned: bool,
}

/// What every status and metrics rendering needs besides [`Shared`].
struct Info {
    config: String,
    dir: PathBuf,
    started_ns: i128,
    listen: Option<String>,
}

fn wall_ns() -> i128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i128)
        .unwrap_or(0)
}

fn status_json(s: &Shared, info: &Info, state: &str) -> Vec<u8> {
    let mut b = Vec::with_capacity(4096);
    let mut o = Obj::new(&mut b);
    o.str("type", "status")
        .str("version", env!("CARGO_PKG_VERSION"))
        .u64("pid", std::process::id().into())
        .str("state", state)
        .str("config", &info.config)
        .str("dir", &info.dir.to_string_lossy())
        .str("started", &agent_core::time::rfc3339_utc(info.started_ns))
        .str("updated", &agent_core::time::rfc3339_utc(wall_ns()));
    match &info.listen {
        Some(l) => o.str("metrics", l),
        None => o.null("metrics"),
    };
    o.objects("tools", s.tools.iter().zip(&s.kinds), |t, (st, kind)| {
        t.str("name", &st.name)
            .str("tool", kind)
            .str("file", &s.sets[st.set].name)
            .str("state", st.state.name())
            .u64("events", st.events)
            .u64("lines", st.lines)
            .u64("bytes", st.bytes)
            .u64("lost_kernel", st.kernel_lost)
            .u64("lost_output", st.output_lost);
        match &st.error {
            Some(e) => t.str("error", e),
            None => t.null("error"),
        };
    });
    o.objects("files", &s.sets, |f, set| {
        f.str("name", &set.name)
            .str("path", &set.path().to_string_lossy())
            .u64("seq", set.written_seq())
            .u64("size", set.size)
            .u64("bytes", set.bytes)
            .u64("rotations", set.rotations)
            .bool("ok", set.failing.is_none());
        match &set.last_error {
            Some(e) => f.str("error", e),
            None => f.null("error"),
        };
    });
    match s.last_error() {
        Some(e) => o.str("last_error", &e),
        None => o.null("last_error"),
    };
    o.end();
    b
}

impl StatusFile {
    fn write(&mut self, s: &Shared, info: &Info, state: &str) {
        let text = status_json(s, info, state);
        let r = (|| {
            if let Some(parent) = self.path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            files::write_atomic(&self.path, &text)
        })();
        match r {
            Ok(()) => self.warned = false,
            Err(e) if !self.warned => {
                log::warn!("cannot write the status file {}: {e}", self.path.display());
                self.warned = true;
            }
            Err(_) => {}
        }
    }
}

/// A metric of the collector's own: name, help, and its value per tool.
type PerTool<'a> = (&'a str, &'a str, fn(&ToolStat) -> u64);
/// A metric per file set: name, help, type, value.
type PerSet<'a> = (&'a str, &'a str, &'a str, fn(&FileSet) -> u64);

/// The collector's own metrics, then the tools' data.
fn metrics_text(s: &Shared, info: &Info) -> Vec<u8> {
    use metrics::{header, labels, sample};
    let mut out = Vec::with_capacity(16 * 1024);
    let per_tool: [PerTool; 2] = [
        (
            "ebpf_collect_events_total",
            "Lines with events (or interval reports) written, per tool",
            |t| t.events,
        ),
        (
            "ebpf_collect_written_bytes_total",
            "Bytes written, per tool",
            |t| t.bytes,
        ),
    ];
    for (name, help, get) in per_tool {
        header(&mut out, name, help, "counter");
        for t in &s.tools {
            sample(&mut out, name, &labels(&[("tool", &t.name)]), get(t), 0);
        }
    }
    let name = "ebpf_collect_lost_total";
    header(
        &mut out,
        name,
        "Events lost: in the kernel (reason=kernel) or lines not written (reason=output)",
        "counter",
    );
    for t in &s.tools {
        for (reason, v) in [("kernel", t.kernel_lost), ("output", t.output_lost)] {
            sample(
                &mut out,
                name,
                &labels(&[("tool", &t.name), ("reason", reason)]),
                v,
                0,
            );
        }
    }
    let name = "ebpf_collect_tool_up";
    header(
        &mut out,
        name,
        "1 while the tool runs, 0 once it failed or ended",
        "gauge",
    );
    for t in &s.tools {
        let up = u64::from(t.state == State::Running);
        sample(&mut out, name, &labels(&[("tool", &t.name)]), up, 0);
    }
    let per_set: [PerSet; 4] = [
        (
            "ebpf_collect_rotations_total",
            "Files rotated, per file set",
            "counter",
            |f| f.rotations,
        ),
        (
            "ebpf_collect_seq",
            "seq of the last line written, per file set",
            "gauge",
            |f| f.written_seq(),
        ),
        (
            "ebpf_collect_file_bytes",
            "Size of the current file, per file set",
            "gauge",
            |f| f.size,
        ),
        (
            "ebpf_collect_output_ok",
            "1 while writing works, 0 while lines are dropped",
            "gauge",
            |f| u64::from(f.failing.is_none()),
        ),
    ];
    for (name, help, kind, get) in per_set {
        header(&mut out, name, help, kind);
        for f in &s.sets {
            sample(&mut out, name, &labels(&[("file", &f.name)]), get(f), 0);
        }
    }
    if let Some(m) = &s.metrics {
        let name = "ebpf_collect_series_refused_total";
        header(
            &mut out,
            name,
            "Metric series of the tools' data not made: over metrics.max_series",
            "counter",
        );
        for (i, t) in s.tools.iter().enumerate() {
            sample(
                &mut out,
                name,
                &labels(&[("tool", &t.name)]),
                m.refused[i],
                0,
            );
        }
    }
    let name = "ebpf_collect_start_time_seconds";
    header(
        &mut out,
        name,
        "When the collector started, in seconds since 1970",
        "gauge",
    );
    sample(
        &mut out,
        name,
        "",
        (info.started_ns / 1_000_000_000) as u64,
        0,
    );
    if let Some(m) = &s.metrics {
        m.render(&mut out);
    }
    out
}

/// The collector's own source: flush and fsync timers, retries of failing files, the status
/// file, the metrics endpoint; it ends the loop once every tool has ended.
struct Hub {
    shared: Arc<Mutex<Shared>>,
    info: Info,
    http: Option<http::Server>,
    status: Option<StatusFile>,
    flush_every: Option<Duration>,
    next_flush: Instant,
    fsync_every: Option<Duration>,
    next_fsync: Instant,
    next_retry: Instant,
    done: bool,
}

impl Hub {
    fn answer(&self, path: &str) -> http::Reply {
        match path {
            "/metrics" => http::Reply {
                status: "200 OK",
                content_type: "text/plain; version=0.0.4; charset=utf-8",
                body: metrics_text(&lock(&self.shared), &self.info),
            },
            "/" => http::Reply {
                status: "200 OK",
                content_type: "text/plain; charset=utf-8",
                body: b"ebpf-agent collect: metrics at /metrics\n".to_vec(),
            },
            _ => http::Reply {
                status: "404 Not Found",
                content_type: "text/plain; charset=utf-8",
                body: b"not found: try /metrics\n".to_vec(),
            },
        }
    }
}

impl Source for Hub {
    fn fds(&self) -> Vec<RawFd> {
        self.http.iter().map(|h| h.fd()).collect()
    }

    fn run(&mut self, now: Instant) -> Flow {
        if let Some(mut h) = self.http.take() {
            h.run(now, &mut |p| self.answer(p));
            self.http = Some(h);
        }
        let mut s = lock(&self.shared);
        if let Some(every) = self.flush_every {
            if now >= self.next_flush {
                s.flush();
                self.next_flush = now + every;
            }
        }
        if let Some(every) = self.fsync_every {
            if now >= self.next_fsync {
                for set in &mut s.sets {
                    set.sync(false);
                }
                self.next_fsync = now + every;
            }
        }
        if now >= self.next_retry {
            let Shared { sets, tools, .. } = &mut *s;
            for set in sets.iter_mut().filter(|x| x.failing.is_some()) {
                set.retry(tools);
            }
            self.next_retry = now + RETRY;
        }
        if let Some(st) = self.status.as_mut() {
            if now >= st.next {
                st.write(&s, &self.info, "running");
                st.next = now + st.every;
            }
        }
        if s.tools.iter().all(|t| t.state != State::Running) {
            return Flow::Stop;
        }
        Flow::Continue
    }

    fn wake_at(&self) -> Option<Instant> {
        let mut w = vec![self.next_retry];
        if self.flush_every.is_some() {
            w.push(self.next_flush);
        }
        if self.fsync_every.is_some() {
            w.push(self.next_fsync);
        }
        if let Some(st) = &self.status {
            w.push(st.next);
        }
        w.extend(self.http.as_ref().and_then(|h| h.wake_at()));
        w.into_iter().min()
    }

    fn polls(&self) -> bool {
        false
    }

    fn finish(&mut self) {
        self.done = true;
    }

    fn done(&self) -> bool {
        self.done
    }
}

/// Opens the output directory (created if missing, locked) and one file set per `file`.
fn open_output(cfg: &Config, file: &str) -> Result<(Vec<FileSet>, std::fs::File)> {
    let dir = &cfg.output.dir;
    let fail = |what: &str, e: std::io::Error| {
        let hint = if e.kind() == std::io::ErrorKind::PermissionDenied {
            " (run as root or as the user that owns it, or set output.dir)"
        } else {
            ""
        };
        Error::new(format!(
            "{file}: output.dir {}: {what}: {e}{hint}",
            dir.display()
        ))
        .code(EXIT_FAILURE)
    };
    std::fs::create_dir_all(dir).map_err(|e| fail("cannot create it", e))?;
    let lock_path = dir.join(".lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| fail("cannot write in it", e))?;
    // SAFETY: flock on a descriptor we own.
    if unsafe {
        libc::flock(
            std::os::fd::AsRawFd::as_raw_fd(&lock),
            libc::LOCK_EX | libc::LOCK_NB,
        )
    } != 0
    {
        return Err(Error::new(format!(
            "{file}: output.dir {}: another collector writes there (it holds {})",
            dir.display(),
            lock_path.display()
        ))
        .code(EXIT_FAILURE));
    }
    let worker = files::worker();
    let opts = Rotation {
        max_bytes: cfg.output.max_bytes,
        max_files: cfg.output.max_files,
    };
    let mut names: Vec<&str> = Vec::new();
    for t in &cfg.tools {
        if !names.contains(&t.file.as_str()) {
            names.push(&t.file);
        }
    }
    let mut sets = Vec::new();
    for (i, n) in names.iter().enumerate() {
        let set = FileSet::open(i, dir, n, opts, worker.clone(), cfg.output.gzip)
            .map_err(|e| fail(&format!("cannot open {n}.jsonl"), e))?;
        sets.push(set);
    }
    Ok((sets, lock))
}

/// Parses every tool's arguments as its command line would be (with `--json`).
fn start_args(cfg: &Config, file: &str) -> Result<Vec<Started>> {
    let mut out = Vec::new();
    for t in &cfg.tools {
        let mut argv = vec!["--json".to_string()];
        argv.extend(t.args.iter().cloned());
        let spec = t.entry.spec;
        match (spec.start)(spec.name, &argv) {
            Ok(s) => out.push(s),
            Err(e) => {
                let what = if e.exit_code == 0 {
                    "prints help or a listing instead of running: remove -h/--help/-l".to_string()
                } else {
                    e.message().lines().next().unwrap_or("").to_string()
                };
                let mut err = Error::usage(format!(
                    "{file}:{}: {}.args: {}: {what}",
                    t.line, t.key, t.name
                ));
                if e.exit_code != 0 {
                    err = err.hint(format!("see `ebpf-agent {} --help`", spec.name));
                }
                return Err(err);
            }
        }
    }
    Ok(out)
}

pub fn main(argv: &[String]) -> Result<()> {
    let args: Args = cli::parse_command("collect", argv, &["config"])?;
    agent_core::logging::verbose(args.verbose);
    let path = args
        .config
        .clone()
        .unwrap_or_else(|| config::DEFAULT_PATH.to_string());
    let text = input::read_file(path.as_ref(), config::MAX_BYTES, "a config").map_err(|e| {
        let fix = if e.kind() == std::io::ErrorKind::InvalidData {
            "pass --config the collector's JSON config (docs/collect.md)"
        } else {
            "write one (docs/collect.md; an example is installed as \
             /usr/share/ebpf-agent/collect.example.json), or pass --config FILE"
        };
        Error::usage(format!("cannot read the config {path}: {e}")).hint(fix)
    })?;
    let cfg = config::parse(&path, &text, tools::ALL)?;
    let started = start_args(&cfg, &path)?;
    if args.check {
        println!(
            "{path}: OK: {} tool(s) ({}) into {}",
            cfg.tools.len(),
            cfg.tools
                .iter()
                .map(|t| t.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            cfg.output.dir.display()
        );
        return Ok(());
    }
    run(cfg, &path, started)
}

fn run(cfg: Config, path: &str, started: Vec<Started>) -> Result<()> {
    let (sets, lock_file) = open_output(&cfg, path)?;
    let http = match &cfg.metrics {
        None => None,
        Some(m) => Some(http::Server::bind(m.listen).map_err(|e| {
            let why = if e.kind() == std::io::ErrorKind::AddrInUse {
                format!(
                    "address in use: another process listens on port {} (`ss -ltnp`); pick \
                     another metrics.listen",
                    m.listen.port()
                )
            } else {
                e.to_string()
            };
            Error::new(format!(
                "{path}:{}: metrics.listen {}: {why}",
                m.line, m.listen
            ))
            .code(EXIT_FAILURE)
        })?),
    };
    let listen = http
        .as_ref()
        .and_then(|h| h.local_addr().ok())
        .map(|a| a.to_string());
    let set_of = |file: &str| sets.iter().position(|s| s.name == file).unwrap_or(0);
    let tools_stat: Vec<ToolStat> = cfg
        .tools
        .iter()
        .zip(&started)
        .map(|(t, s)| ToolStat {
            name: t.name.clone(),
            set: set_of(&t.file),
            interval: s.handler.schedule().is_some(),
            ..Default::default()
        })
        .collect();
    let shared = Arc::new(Mutex::new(Shared {
        labels: cfg.tools.iter().map(|t| t.labels.clone()).collect(),
        kinds: cfg.tools.iter().map(|t| t.entry.name()).collect(),
        metrics: cfg
            .metrics
            .as_ref()
            .map(|m| metrics::Registry::new(m.max_series, cfg.tools.len())),
        write_through: cfg.output.flush_ms == 0,
        sets,
        tools: tools_stat,
        lock: Some(lock_file),
    }));
    let info = Info {
        config: path.to_string(),
        dir: cfg.output.dir.clone(),
        started_ns: wall_ns(),
        listen,
    };
    let signals = evloop::Signals::install()?;

    let mut running: Vec<ToolSource> = Vec::new();
    let mut first_error: Option<Error> = None;
    for (i, (t, s)) in cfg.tools.iter().zip(started).enumerate() {
        let w = ToolWriter {
            shared: shared.clone(),
            tool: i,
        };
        let out = Out::new(Sink::Writer(Box::new(w)), true).with_label(&t.name);
        match Instance::start(t.entry, s, out) {
            Ok(inst) => {
                lock(&shared).tools[i].state = State::Running;
                running.push(ToolSource {
                    inst,
                    idx: i,
                    shared: shared.clone(),
                });
            }
            Err(e) => {
                log::error!("{} did not start: {}", t.name, e.message());
                if let Some(h) = e.hint_text() {
                    log::error!("fix: {h}");
                }
                let mut s = lock(&shared);
                s.tools[i].state = State::Failed;
                s.tools[i].error = Some(e.message().to_string());
                first_error.get_or_insert(e);
            }
        }
    }
    let now = Instant::now();
    let mut hub = Hub {
        shared: shared.clone(),
        info,
        http,
        status: cfg.status.as_ref().map(|s| StatusFile {
            path: s.path.clone(),
            every: Duration::from_millis(s.interval_ms),
            next: now + Duration::from_millis(s.interval_ms),
            warned: false,
        }),
        flush_every: (cfg.output.flush_ms > 0).then(|| Duration::from_millis(cfg.output.flush_ms)),
        next_flush: now + Duration::from_millis(cfg.output.flush_ms),
        fsync_every: (cfg.output.fsync_ms > 0).then(|| Duration::from_millis(cfg.output.fsync_ms)),
        next_fsync: now + Duration::from_millis(cfg.output.fsync_ms),
        next_retry: now + RETRY,
        done: false,
    };
    if let Some(st) = hub.status.as_mut() {
        st.write(&lock(&shared), &hub.info, "running");
    }
    if running.is_empty() {
        finish(&shared, &mut hub, "failed");
        let e = first_error.unwrap_or_else(|| Error::new("no tool started"));
        let code = e.exit_code;
        return Err(Error::new(format!("no tool started: {}", e.message())).code(code));
    }
    log::info!(
        "collecting: {} into {}{}",
        running
            .iter()
            .map(|r| lock(&shared).tools[r.idx].name.clone())
            .collect::<Vec<_>>()
            .join(", "),
        cfg.output.dir.display(),
        hub.info
            .listen
            .as_ref()
            .map(|l| format!("; metrics on http://{l}/metrics"))
            .unwrap_or_default()
    );

    let sighup = shared.clone();
    let loop_result = {
        let mut sources: Vec<&mut dyn Source> =
            running.iter_mut().map(|r| r as &mut dyn Source).collect();
        sources.push(&mut hub);
        evloop::run(&mut sources, &signals, |sig| {
            if sig == libc::SIGHUP {
                log::info!("SIGHUP: reopening the files");
                let mut s = lock(&sighup);
                let Shared { sets, tools, .. } = &mut *s;
                for set in sets.iter_mut() {
                    set.reopen(tools);
                }
                OnSignal::Continue
            } else {
                OnSignal::Stop
            }
        })
    };
    finish(&shared, &mut hub, "stopped");
    loop_result?;
    if evloop::ended_by_signal().is_some() {
        // What a new collector needs at once goes first: the directory's lock, the port.
        lock(&shared).lock = None;
        hub.http = None;
        if detach_after_exit() {
            // The child detaches them; nothing is left to do here.
            std::mem::forget(running);
        }
        return Ok(());
    }
    let mut insts: Vec<&mut Instance> = running.iter_mut().map(|r| &mut r.inst).collect();
    Instance::detach_all(&mut insts);
    // Every tool ended by itself: an error if one failed.
    let s = lock(&shared);
    match s.tools.iter().find(|t| t.state == State::Failed) {
        Some(t) => Err(Error::new(format!(
            "{} failed: {}",
            t.name,
            t.error.clone().unwrap_or_default()
        ))),
        None => Ok(()),
    }
}

/// Lets this process exit at once after a stop request, without waiting for the kernel to
/// detach the programs: when the last program of a tracepoint goes, the kernel waits for an
/// RCU grace period under its event mutex, one tracepoint after another (0.9 s for the 24
/// tracepoints of three tools, measured on a loaded 2-core host). A child holds the
/// descriptors until this process is gone, then exits: the kernel detaches everything then.
/// True if the child took them (false: fork failed, detach here).
fn detach_after_exit() -> bool {
    // SAFETY: getpid/fork have no memory effects; the child calls only async-signal-safe
    // functions (close, getppid, usleep, _exit) and touches nothing the other thread may hold.
    unsafe {
        let me = libc::getpid();
        match libc::fork() {
            0 => {
                // Whoever reads our output sees its end when the parent exits.
                for fd in 0..3 {
                    libc::close(fd);
                }
                // Until the parent has exited (the child is then reparented), at most 10 s.
                for _ in 0..1000 {
                    if libc::getppid() != me {
                        break;
                    }
                    libc::usleep(10_000);
                }
                libc::_exit(0)
            }
            pid => pid > 0,
        }
    }
}

/// Everything written, synced and reported in the status file.
fn finish(shared: &Mutex<Shared>, hub: &mut Hub, state: &str) {
    let mut s = lock(shared);
    let Shared { sets, tools, .. } = &mut *s;
    for set in sets.iter_mut() {
        set.close(tools);
    }
    if let Some(st) = hub.status.as_mut() {
        st.write(&s, &hub.info, state);
    }
}

/// The usage line `ebpf-agent --help` shows.
pub const USAGE: &str =
    "       ebpf-agent collect [--config F]  run tools as a service: rotated files, status, metrics\n";

#[cfg(test)]
mod tests;
