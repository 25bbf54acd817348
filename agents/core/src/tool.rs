//! The tool runner: what every tool does, done once.
//!
//! A tool is a [`Spec`] (name, hooks, the structs it shares with its BPF program, self-test)
//! and a type implementing [`Tool`] (its flags and how it starts) and [`Handler`] (what it
//! sets before load, and how it prints records or reports). The runner parses the command line
//! (the flags every tool shares, `--json`, `--duration`, `-v`, included), checks privileges and
//! BTF, opens the embedded object, resolves the declared hooks against this kernel, leaves
//! every unused program out of the load, loads, attaches, says what it attached (`-v`:
//! "tracing: ..."), prints the header, runs the event loop with lost-event accounting, and maps
//! errors to exit codes.

use std::os::fd::RawFd;
use std::ptr::NonNull;
use std::time::{Duration, Instant};

use libbpf_sys as sys;

use crate::bpf::{Embedded, Object};
use crate::cli::{self, Common};
use crate::error::{Error, Result, EXIT_FAILURE, EXIT_UNSUPPORTED};
use crate::evloop::{self, Source};
use crate::hooks::{self, Choices, ForcedHook, Group, Kernel, Plan};
use crate::interval::{IntervalOptions, LostCounter, Schedule, Tick};
use crate::output::{Flow, Out};
use crate::pod::Layout;
use crate::probe;
use crate::time::boot_now_ns;

/// What the runner asks of a running tool. Streaming tools implement [`Handler::record`];
/// interval tools [`Handler::schedule`] and [`Handler::report`].
pub trait Handler {
    /// Turns hook groups on or off, or forces an alternative (before the plan is made).
    fn choose(&self, _choices: &mut Choices) {}
    /// Adds hooks worked out at run time (what the user named: functions, patterns, files) to
    /// the plan made from the declared groups. Their programs are listed in
    /// [`Spec::dynamic`]. Err if the kernel cannot attach them (say why and the fix).
    fn plan(&mut self, _plan: &mut Plan, _kernel: &dyn Kernel) -> Result<()> {
        Ok(())
    }
    /// Before load, with the plan made: options in `.rodata`, map sizes.
    fn configure(&mut self, _obj: &mut Object, _plan: &Plan) -> Result<()> {
        Ok(())
    }
    /// After load, before attach: tables the kernel side reads.
    fn loaded(&mut self, _obj: &mut Object) -> Result<()> {
        Ok(())
    }
    /// Once attached, before the `-v` line: what needs the programs running (a tool that
    /// learns kernel objects from its own calls).
    fn attached(&mut self, _obj: &mut Object) -> Result<()> {
        Ok(())
    }
    /// The tool's `--hook` option: the alternative it forces (after [`Handler::choose`]) and
    /// the fix to suggest when this kernel lacks it.
    fn hook(&self) -> Option<&dyn ForcedHook> {
        None
    }
    /// Added to the `-v` "tracing:" line (`; ` and the note), e.g. what is watched.
    fn note(&self) -> String {
        String::new()
    }
    /// Printed once attached (BCC's column headers, a banner).
    fn header(&mut self, _out: &mut Out) {}
    /// One record from ring buffer `ring` (0: `events`; more with [`Handler::rings`]).
    fn record(&mut self, _ring: usize, _data: &[u8], _out: &mut Out) {}
    /// Ring buffer maps to read, in order (default: `events`, if the object has it).
    fn rings(&self) -> Vec<String> {
        vec!["events".to_string()]
    }
    /// How long the run lasts when the tool's own arguments say so (BCC's positional
    /// duration); `--duration` otherwise.
    fn duration(&self) -> Option<Duration> {
        None
    }
    /// Some: an interval tool, reporting on this schedule.
    fn schedule(&self) -> Option<IntervalOptions> {
        None
    }
    /// One interval's report: drain the maps, print.
    fn report(&mut self, _obj: &Object, _tick: &Tick, _out: &mut Out) -> Result<()> {
        Ok(())
    }
    /// Why events get lost, for the warning and the `lost` line.
    fn lost_reason(&self) -> &'static str {
        if self.schedule().is_some() {
            "a full map"
        } else {
            "ring buffer full"
        }
    }
    /// Called once at the end, after the last record or report.
    fn finish(&mut self, _out: &mut Out) {}
}

/// How a tool is built from its command line.
pub trait Tool: Handler + Sized + 'static {
    type Args: argh::FromArgs;
    /// BCC's short flag for the duration, where the tool has one (`-d`).
    const DURATION_SHORT: Option<char> = None;
    /// Checks the arguments (usage errors name the flag) and builds the tool.
    fn new(args: Self::Args, common: &Common) -> Result<Self>;
}

/// Declares `pub struct $name { args: Args }` and its [`Tool`] impl, for a tool whose whole
/// state is its arguments, checked by argh alone. `duration_short = 'd'` gives `--duration`
/// BCC's short form.
#[macro_export]
macro_rules! args_tool {
    ($name:ident $(, duration_short = $d:literal)?) => {
        pub struct $name {
            args: Args,
        }

        impl $crate::tool::Tool for $name {
            type Args = Args;
            $(const DURATION_SHORT: Option<char> = Some($d);)?
            fn new(args: Args, _: &$crate::cli::Common) -> $crate::Result<Self> {
                Ok($name { args })
            }
        }
    };
}

/// A pid filter as the BPF side's options take it: (target pid, whether to filter).
pub fn pid_filter(pid: Option<u32>) -> (u32, u8) {
    (pid.unwrap_or(0), pid.is_some() as u8)
}

/// A parsed command line, ready to run.
pub struct Started {
    pub handler: Box<dyn Handler>,
    pub common: Common,
}

/// Parses `argv` for tool `T` and builds it: the `start` of its [`Spec`].
pub fn start<T: Tool>(name: &'static str, argv: &[String]) -> Result<Started> {
    let (common, args) = cli::parse_tool::<T::Args>(name, argv, T::DURATION_SHORT)?;
    let tool = T::new(args, &common)?;
    Ok(Started {
        handler: Box::new(tool),
        common,
    })
}

/// How `ebpf-agent verify` proves a tool works on this kernel, and how `ebpf-agent overhead`
/// measures what it costs.
pub struct SelfTest {
    /// Arguments added to `<tool> --json -v` for the run.
    pub args: fn(marker: &str) -> Vec<String>,
    /// Makes events the tool must see, tagged with `marker` (a unique ASCII string). Returns the
    /// strings that must each appear in the tool's JSON output (most often the marker itself).
    pub workload: fn(marker: &str) -> std::io::Result<Vec<String>>,
    /// Makes the tool's events as fast as it can until `until`; returns how many operations
    /// it made (each one event or more). None: the workload, repeated.
    pub storm: Option<fn(marker: &str, until: Instant) -> std::io::Result<u64>>,
}

impl SelfTest {
    /// A self-test of `workload`, with no arguments of its own; its storm is the workload,
    /// repeated.
    pub const fn new(workload: fn(marker: &str) -> std::io::Result<Vec<String>>) -> SelfTest {
        SelfTest {
            args: |_| Vec::new(),
            workload,
            storm: None,
        }
    }
    /// With these arguments.
    pub const fn args(mut self, args: fn(marker: &str) -> Vec<String>) -> SelfTest {
        self.args = args;
        self
    }
    /// With a storm of its own.
    pub const fn storm(
        mut self,
        storm: fn(marker: &str, until: Instant) -> std::io::Result<u64>,
    ) -> SelfTest {
        self.storm = Some(storm);
        self
    }
}

/// Self-test arguments that trace the agent's own process (`-p PID`), then `more`.
pub fn own_pid_and(more: &[&dyn std::fmt::Display]) -> Vec<String> {
    let mut v = vec!["-p".to_string(), std::process::id().to_string()];
    v.extend(more.iter().map(|m| m.to_string()));
    v
}

/// Everything the agent knows of a tool before running it.
pub struct Spec {
    pub name: &'static str,
    /// One line for `--help` and `list`.
    pub about: &'static str,
    /// What it attaches to (see [`hooks`]).
    pub hooks: &'static [Group],
    /// The structs shared with the BPF program, checked against the object's BTF.
    pub structs: &'static [Layout],
    /// Programs attached to hooks worked out at run time ([`Handler::plan`]), not declared.
    pub dynamic: &'static [&'static str],
    /// Parses the command line and builds the tool: [`start::<T>`](start).
    pub start: fn(&'static str, &[String]) -> Result<Started>,
    pub selftest: SelfTest,
}

/// A tool of the binary: its spec and its embedded BPF object.
pub struct Entry {
    pub spec: &'static Spec,
    pub object: Embedded,
}

impl Entry {
    pub fn name(&self) -> &'static str {
        self.spec.name
    }

    /// Why `kernel` cannot run the tool with its default options (empty: it can).
    pub fn missing(&self, kernel: &dyn Kernel) -> Vec<String> {
        let mut why = Vec::new();
        if !probe::bpf_privileged() {
            // Without privileges tracefs and trial loads fail too: name the cause, not them.
            why.push(probe::NEEDS_PRIVILEGES.to_string());
            return why;
        }
        if let Some(b) = probe::btf_missing() {
            why.push(b);
        }
        if let Err(e) = hooks::resolve(self.spec.hooks, &Choices::default(), kernel) {
            why.push(e);
        }
        why
    }

    /// Would the tool lack a way to run on a kernel that has everything but hooks of `kind`?
    pub fn requires(&self, kind: hooks::Kind) -> bool {
        let without = hooks::Without {
            base: &AllHooks,
            kind,
        };
        hooks::resolve(self.spec.hooks, &Choices::default(), &without).is_err()
    }
}

/// A kernel with every hook (what a tool could do at best).
struct AllHooks;
impl Kernel for AllHooks {
    fn missing(&self, _: &hooks::HookBuf) -> Option<String> {
        None
    }
}

/// Runs a tool as the command `ebpf-agent <tool> ARGS` (or its symlink): output on stdout.
pub fn main(entry: &Entry, argv: &[String]) -> Result<()> {
    crate::output::require_stdout()?;
    let started = (entry.spec.start)(entry.spec.name, argv)?;
    crate::logging::verbose(started.common.verbose);
    let out = Out::stdout(started.common.json);
    // Before the "tracing:" line: a signal sent as soon as it shows ends the run cleanly.
    let signals = evloop::Signals::install()?;
    let mut inst = Instance::start(entry, started, out)?;
    evloop::run(&mut [&mut inst], &signals, evloop::stop_on_any)?;
    inst.result()
}

/// State the ring buffer callbacks reach through a stable pointer.
struct State {
    handler: Box<dyn Handler>,
    out: Out,
    stopped: bool,
}

struct RingCtx {
    state: *mut State,
    ring: usize,
}

unsafe extern "C" fn on_record(
    ctx: *mut libc::c_void,
    data: *mut libc::c_void,
    size: sys::size_t,
) -> libc::c_int {
    // SAFETY: `ctx` is a RingCtx that the Instance owns for as long as the ring buffer
    // exists, and its `state` points into the same Instance's boxed State; libbpf calls this
    // only from ring_buffer__consume, during which the Instance touches State only through
    // this pointer. `data` holds `size` bytes of one record.
    let (ctx, record) = unsafe {
        (
            &*(ctx as *const RingCtx),
            std::slice::from_raw_parts(data as *const u8, size as usize),
        )
    };
    // SAFETY: see above; no other reference to State is alive during the callback.
    let state = unsafe { &mut *ctx.state };
    state.handler.record(ctx.ring, record, &mut state.out);
    if state.out.flow() == Flow::Stop {
        state.stopped = true;
        return -1;
    }
    0
}

/// A loaded, attached tool, driven by the event loop.
pub struct Instance {
    name: &'static str,
    rb: Option<NonNull<sys::ring_buffer>>,
    /// Boxed: libbpf holds their addresses, which must not move when the Vec grows.
    #[allow(clippy::vec_box)]
    _rings: Vec<Box<RingCtx>>,
    state: Box<State>,
    obj: Object,
    schedule: Option<Schedule>,
    deadline: Option<Instant>,
    lost: LostCounter,
    has_lost_map: bool,
    /// Hits the kernel dropped on the kprobe links (kretprobe instances all held).
    missed: LostCounter,
    kprobe_links: Vec<RawFd>,
    next_lost_check: Instant,
    finished: bool,
    /// The report with `last` set was made (a count ended the run).
    last_reported: bool,
    error: Option<Error>,
}

/// Why the kernel drops kprobe hits: a kretprobe has a fixed pool of instances, one per call
/// in progress, and a probe hit while another probe's handler runs is skipped.
const KPROBE_MISSED: &str = "dropped by the kernel's kprobes: kretprobe instances all held \
                             by calls in progress, or a probe hit inside another";

/// How often a streaming tool checks its lost-event counter.
const LOST_CHECK: Duration = Duration::from_secs(1);

/// Loads `obj` for a tool named `name` with declared hook `groups`: privileges and BTF
/// checked, the hooks this kernel has picked (and the handler's own added), every other
/// program left out, loaded, tables filled, attached. The `-v` "tracing:" line says what.
pub fn load_object(
    name: &str,
    mut obj: Object,
    groups: &[Group],
    handler: &mut dyn Handler,
) -> Result<(Object, Plan)> {
    probe::check_privileges(name)?;
    if let Some(why) = probe::btf_missing() {
        return Err(
            Error::new(format!("{name} cannot run on this kernel: {why}"))
                .code(EXIT_UNSUPPORTED)
                .hint(probe::no_btf_fix()),
        );
    }
    log::debug!("btf: {}", probe::btf_summary());
    let mut choices = Choices::default();
    handler.choose(&mut choices);
    if let Some(h) = handler.hook() {
        choices.force_hook(h);
    }
    let kernel = hooks::Running::default();
    let unsupported = |why: String| {
        let e =
            Error::new(format!("{name} cannot run on this kernel: {why}")).code(EXIT_UNSUPPORTED);
        match handler.hook().and_then(|h| h.hint()) {
            Some(h) => e.hint(h),
            None => e,
        }
    };
    let mut plan = hooks::resolve(groups, &choices, &kernel).map_err(unsupported)?;
    handler.plan(&mut plan, &kernel)?;
    handler.configure(&mut obj, &plan)?;
    hooks::select(&mut obj, &plan)?;
    // libbpf parses the kernel's BTF itself: ours goes first, so the peak holds one copy.
    probe::release_kernel_btf();
    obj.load()?;
    handler.loaded(&mut obj)?;
    hooks::attach(&mut obj, &plan)?;
    handler.attached(&mut obj)?;
    let note = handler.note();
    log::debug!(
        "tracing: {}{}{}",
        plan.describe(),
        if note.is_empty() || plan.texts.is_empty() {
            ""
        } else {
            "; "
        },
        note
    );
    Ok((obj, plan))
}

impl Instance {
    /// Loads and attaches a tool of the binary ([`load_object`]), ready for the loop.
    pub fn start(entry: &Entry, started: Started, out: Out) -> Result<Instance> {
        let Started {
            mut handler,
            common,
        } = started;
        let obj = Object::open_embedded(&entry.object)?;
        let (obj, _) = load_object(entry.spec.name, obj, entry.spec.hooks, handler.as_mut())?;
        Instance::new(entry.spec.name, obj, handler, &common, out)
    }

    /// A loaded and attached object driven by `handler`: its ring buffers, report schedule
    /// and duration; prints the header.
    pub fn new(
        name: &'static str,
        obj: Object,
        handler: Box<dyn Handler>,
        common: &Common,
        out: Out,
    ) -> Result<Instance> {
        let now = Instant::now();
        let duration = handler.duration().or(common.duration);
        let schedule = handler.schedule().map(|mut o| {
            if o.duration.is_none() {
                o.duration = duration;
            }
            Schedule::new(o, now, boot_now_ns())
        });
        let deadline = duration.and_then(|d| now.checked_add(d));
        let mut state = Box::new(State {
            handler,
            out,
            stopped: false,
        });
        state.handler.header(&mut state.out);
        let has_lost_map = obj.has_map("lost_events");
        let kprobe_links = obj.kprobe_links();
        let mut inst = Instance {
            name,
            rb: None,
            _rings: Vec::new(),
            state,
            obj,
            schedule,
            deadline,
            lost: LostCounter::default(),
            has_lost_map,
            missed: LostCounter::default(),
            kprobe_links,
            next_lost_check: now + LOST_CHECK,
            finished: false,
            last_reported: false,
            error: None,
        };
        inst.open_rings()?;
        Ok(inst)
    }

    fn open_rings(&mut self) -> Result<()> {
        let names = self.state.handler.rings();
        let state: *mut State = &mut *self.state;
        for (i, name) in names.iter().enumerate() {
            if !self.obj.has_map(name) {
                continue;
            }
            let fd = self.obj.map_fd(name)?;
            let ctx = Box::new(RingCtx { state, ring: i });
            let ctx_ptr = &*ctx as *const RingCtx as *mut libc::c_void;
            self._rings.push(ctx);
            match self.rb {
                None => {
                    // SAFETY: a loaded ring buffer map's fd, our callback, and a context that
                    // lives as long as the ring buffer (freed first in Drop).
                    let rb = unsafe {
                        sys::ring_buffer__new(fd, Some(on_record), ctx_ptr, std::ptr::null())
                    };
                    self.rb = Some(NonNull::new(rb).ok_or_else(|| {
                        Error::os("cannot open the ring buffer", crate::bpf::last_errno())
                    })?);
                }
                Some(rb) => {
                    // SAFETY: as above, adding one more ring to the same manager.
                    let rc =
                        unsafe { sys::ring_buffer__add(rb.as_ptr(), fd, Some(on_record), ctx_ptr) };
                    if rc != 0 {
                        return Err(Error::os(format!("cannot read ring buffer {name}"), -rc));
                    }
                }
            }
        }
        Ok(())
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    pub fn object(&self) -> &Object {
        &self.obj
    }

    /// Detaches the programs of several instances at once (see [`Object::detach_all`]): a
    /// collector ends its tools together in the time of one.
    pub fn detach_all(instances: &mut [&mut Instance]) {
        let mut objs: Vec<&mut Object> = instances.iter_mut().map(|i| &mut i.obj).collect();
        Object::detach_all(&mut objs);
    }

    /// The tool's output (the collector reopens and inspects it).
    pub fn out(&mut self) -> &mut Out {
        &mut self.state.out
    }

    /// How the run went: Ok, or the error that ended it (output that failed included).
    pub fn result(&mut self) -> Result<()> {
        match self.error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Events lost in the kernel so far: not put in the ring buffer, or dropped by the
    /// kernel's kprobes.
    pub fn lost_total(&self) -> u64 {
        self.lost.total() + self.missed.total()
    }

    fn consume(&mut self) {
        if let Some(rb) = self.rb {
            // SAFETY: a live ring buffer; callbacks reach State through their own pointer and
            // nothing here touches State while libbpf runs them.
            let rc = unsafe { sys::ring_buffer__consume(rb.as_ptr()) };
            if rc < 0 && rc != -libc::EINTR && !self.state.stopped && self.error.is_none() {
                self.error = Some(Error::os("reading the ring buffer failed", -rc));
            }
        }
    }

    fn check_lost(&mut self) {
        if self.has_lost_map {
            if let Some((new, _)) = self.lost.update(self.obj.lost_events()) {
                let why = self.state.handler.lost_reason();
                let total = self.lost_total();
                self.state.out.lost(new, total, why);
            }
        }
        if !self.kprobe_links.is_empty() {
            let missed = self.obj.kprobe_missed(&self.kprobe_links);
            if let Some((new, _)) = self.missed.update(missed) {
                let total = self.lost_total();
                self.state.out.lost(new, total, KPROBE_MISSED);
            }
        }
    }

    fn report(&mut self, now: Instant, stopping: bool) -> Flow {
        let Some(sched) = self.schedule.as_mut() else {
            return Flow::Continue;
        };
        let tick = sched.tick(now, boot_now_ns(), stopping);
        self.last_reported |= tick.last;
        self.check_lost();
        let state = &mut *self.state;
        if let Err(e) = state.handler.report(&self.obj, &tick, &mut state.out) {
            self.error = Some(e);
            return Flow::Stop;
        }
        state.out.flush();
        if state.out.broken() || tick.last {
            Flow::Stop
        } else {
            Flow::Continue
        }
    }
}

impl Source for Instance {
    fn fds(&self) -> Vec<RawFd> {
        // SAFETY: a live ring buffer.
        self.rb
            .map(|rb| vec![unsafe { sys::ring_buffer__epoll_fd(rb.as_ptr()) }])
            .unwrap_or_default()
    }

    fn run(&mut self, now: Instant) -> Flow {
        self.consume();
        if self.state.stopped || self.error.is_some() {
            return Flow::Stop;
        }
        if self.schedule.is_none() && now >= self.next_lost_check {
            self.next_lost_check = now + LOST_CHECK;
            self.check_lost();
        }
        if self.deadline.is_some_and(|d| now >= d) {
            // finish() makes the last report.
            return Flow::Stop;
        }
        if self.schedule.as_ref().is_some_and(|s| s.due(now)) {
            return self.report(now, false);
        }
        Flow::Continue
    }

    fn wake_at(&self) -> Option<Instant> {
        let mut w = self.deadline;
        if let Some(s) = &self.schedule {
            w = match (w, s.wake_at()) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        } else if self.has_lost_map || !self.kprobe_links.is_empty() {
            w = Some(w.map_or(self.next_lost_check, |d| d.min(self.next_lost_check)));
        }
        w
    }

    fn polls(&self) -> bool {
        self.rb.is_some()
    }

    fn flush(&mut self) {
        self.state.out.flush();
    }

    fn finish(&mut self) {
        if self.finished {
            return;
        }
        self.finished = true;
        let stopped_by_reader = self.state.stopped || self.state.out.broken();
        if !stopped_by_reader {
            // Whatever the kernel already wrote is still delivered.
            self.consume();
        }
        if self.schedule.is_some() {
            if !stopped_by_reader && self.error.is_none() && !self.last_reported {
                let now = Instant::now();
                let _ = self.report(now, true);
            }
        } else if !stopped_by_reader {
            self.check_lost();
        }
        let state = &mut *self.state;
        state.handler.finish(&mut state.out);
        // Everything buffered goes out, unless the reader stopped reading: an alarm interrupts
        // a write that blocks past the grace period. A signal armed it already.
        if evloop::ended_by_signal().is_none() {
            evloop::arm_output_grace();
        }
        state.out.flush();
        evloop::disarm_output_grace();
        let lost = self.lost.total();
        if lost > 0 && self.schedule.is_none() {
            log::warn!(
                "{}{lost} events were lost in all (the ring buffer was full)",
                state.out.label()
            );
        }
        let missed = self.missed.total();
        if missed > 0 {
            log::warn!(
                "{}{missed} events were lost in all ({KPROBE_MISSED})",
                state.out.label()
            );
        }
        if let (None, Some(e)) = (&self.error, state.out.error()) {
            if e.kind() != std::io::ErrorKind::BrokenPipe
                && e.kind() != std::io::ErrorKind::Interrupted
            {
                // The log line names the tool already.
                let err = Error::new(format!("cannot write the output: {e}")).code(EXIT_FAILURE);
                self.error = Some(if e.raw_os_error() == Some(libc::ENOSPC) {
                    err.hint("free space where the output goes, or send it elsewhere")
                } else {
                    err
                });
            }
        }
    }

    fn done(&self) -> bool {
        self.finished
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        if let Some(rb) = self.rb.take() {
            // SAFETY: the ring buffer is freed once, before the contexts and the object.
            unsafe { sys::ring_buffer__free(rb.as_ptr()) };
        }
    }
}

/// For tool tests: runs `argv` through the tool's own parsing and feeds it records as the
/// kernel would send them; returns what it printed (header included).
pub fn feed<T: Tool>(name: &'static str, argv: &[&str], records: &[&[u8]]) -> Result<String> {
    let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
    let (common, args) = cli::parse_tool::<T::Args>(name, &argv, T::DURATION_SHORT)?;
    let mut t = T::new(args, &common)?;
    let mut out = Out::memory(common.json);
    t.header(&mut out);
    for r in records {
        t.record(0, r, &mut out);
    }
    t.finish(&mut out);
    Ok(out.memory_text())
}
