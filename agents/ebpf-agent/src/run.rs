//! `ebpf-agent run PROG.bpf.o`: loads and runs a CO-RE object the user compiled with plain
//! `clang -target bpf`, and presents it the way the tools present theirs (docs/run.md).
//!
//! Options come from `--set` into its `const volatile` globals; every program attaches by its
//! section name (`sections`); every ring buffer is streamed, each record decoded by the BTF
//! type the object names for it; hash and array maps are printed every `--map-interval` and
//! at the end (`dump`); `bpf_printk` lines are echoed (`printk`); a verifier rejection says
//! where and why (`verifier`). The runner does the rest, as for a tool: privileges and BTF,
//! load, attach, the `-v` "tracing:" line, the event loop, exit codes.

use std::os::fd::RawFd;
use std::time::{Duration, Instant};

use agent_core::bpf::Object;
use agent_core::btf::decode;
use agent_core::btf::types::{Types, PTR};
use agent_core::cli;
use agent_core::error::{Error, Result, EXIT_USAGE};
use agent_core::evloop::{self, Source};
use agent_core::hooks::{Hook, Kernel, Plan};
use agent_core::input;
use agent_core::interval::{IntervalOptions, Tick};
use agent_core::output::{Flow, Out};
use agent_core::prelude::FromArgs;
use agent_core::time::boot_now_ns;
use agent_core::tool::{self, Handler, Instance};

mod dump;
mod elf;
mod printk;
mod sections;
mod set;
#[cfg(test)]
mod tests;
mod verifier;

/// Its line in `ebpf-agent --help`.
pub const USAGE: &str =
    "       ebpf-agent run PROG.bpf.o      load and run a BPF object you compiled (docs/run.md)\n";
/// `BPF_MAP_TYPE_RINGBUF`.
const RINGBUF: u32 = 27;
/// Keys of every record's JSON object; a field of the same name is written `_<name>`.
const RESERVED: &[&str] = &["type", "ts", "time_ns", "ring"];
/// `perf_event` programs sample at this rate unless `--perf` says otherwise.
const DEFAULT_PERF_HZ: u64 = 49;

#[derive(FromArgs, Debug)]
/// Load and run a BPF object you compiled (clang -target bpf -g -O2 -c PROG.bpf.c): attach
/// its programs by their section names, stream its ring buffers, print its maps and its
/// bpf_printk lines. See docs/run.md for the conventions it reads.
pub struct Args {
    /// set a const volatile global before load, NAME=VALUE (repeat for more)
    #[argh(option, short = 's')]
    pub set: Vec<String>,
    /// print the maps at this interval too (5, 500ms, ...; default: only at the end)
    #[argh(option, from_str_fn(parse_duration))]
    pub map_interval: Option<Duration>,
    /// what perf_event programs sample: cpu-clock:HZ (default cpu-clock:49)
    #[argh(option)]
    pub perf: Option<String>,
    /// the BPF object file
    #[argh(positional)]
    pub file: String,
}

fn parse_duration(s: &str) -> std::result::Result<Duration, String> {
    cli::parse_duration(s)
}

/// One ring buffer: its map, the record type, and the text columns.
struct Ring {
    name: String,
    /// BTF type of its records (None: unknown, records shown as hex).
    ty: Option<u32>,
    /// Text columns: name, type, byte offset, bitfield info, width.
    cols: Vec<(String, u32, u32, u32, usize)>,
}

/// The record type of ring `ring`: a global `<ring>_record` (its type, or what it points
/// to), else `struct event`.
fn record_type(t: &Types, ring: &str) -> Option<u32> {
    if let Some(ty) = t.var_type(&format!("{ring}_record")) {
        let r = t.resolve(ty);
        return Some(if t.kind(r) == PTR { t.target(r) } else { ty });
    }
    t.find(agent_core::btf::types::STRUCT, "event")
}

/// The width of a text column for a field of type `ty` named `name`.
fn width(t: &Types, ty: u32, name: &str) -> usize {
    let natural = if let Some(i) = t.int(ty) {
        match (i.bool, i.size) {
            (true, _) => 5,
            (_, 1) => 3,
            (_, 2) => 5,
            (_, 4) => 7,
            _ => 10,
        }
    } else if let Some((_, len)) = t.array(ty) {
        (len as usize).clamp(4, 16)
    } else {
        8
    };
    natural.max(name.len())
}

impl Ring {
    fn new(t: &Types, name: &str) -> Ring {
        let ty = record_type(t, name);
        let cols = ty.map_or_else(Vec::new, |ty| {
            decode::fields(t, ty)
                .into_iter()
                .map(|(n, fty, off, bits)| {
                    let w = width(t, fty, &n);
                    (n, fty, off, bits, w)
                })
                .collect()
        });
        Ring {
            name: name.to_string(),
            ty,
            cols,
        }
    }
}

/// What `run` does with a loaded object: the runner's [`Handler`].
struct Run {
    file: String,
    types: Types,
    progs: Vec<sections::Prog>,
    rings: Vec<Ring>,
    maps: Vec<dump::MapDump>,
    map_interval: Option<Duration>,
    notes: Vec<String>,
    json: bool,
    /// The object's printk formats, when its programs print: trace_pipe opens after load,
    /// before attach, so that its stale lines are dropped and none of ours are.
    printk: Option<Vec<String>>,
    pipe: Option<printk::TracePipe>,
}

impl Handler for Run {
    fn plan(&mut self, plan: &mut Plan, kernel: &dyn Kernel) -> Result<()> {
        let chosen = sections::choose(&self.progs, kernel).map_err(|e| in_file(e, &self.file))?;
        chosen.into_plan(plan);
        Ok(())
    }

    fn configure(&mut self, obj: &mut Object, plan: &Plan) -> Result<()> {
        // SEC("?...") programs are not loaded unless asked for: the plan asks for its own.
        for p in plan.programs() {
            obj.set_autoload(p, true)?;
        }
        Ok(())
    }

    fn loaded(&mut self, _obj: &mut Object) -> Result<()> {
        if let Some(formats) = &self.printk {
            self.pipe = Some(printk::TracePipe::open(formats)?);
            self.notes.push(if formats.is_empty() {
                "bpf_printk: every trace_pipe line (the object's formats are not in .rodata)".into()
            } else {
                format!(
                    "bpf_printk: trace_pipe lines fitting its {} formats",
                    formats.len()
                )
            });
        }
        Ok(())
    }

    fn note(&self) -> String {
        self.notes.join("; ")
    }

    fn header(&mut self, out: &mut Out) {
        if out.json() {
            return;
        }
        let mut s = format!("Running {}", self.file);
        if !self.maps.is_empty() {
            s.push_str(match self.map_interval {
                Some(_) => ", printing its maps every interval and at the end",
                None => ", printing its maps at the end",
            });
        }
        s.push_str("... Ctrl-C to end.\n");
        if let [r] = &self.rings[..] {
            if r.ty.is_some() {
                s.push_str("TIME    ");
                for (i, c) in r.cols.iter().enumerate() {
                    s.push(' ');
                    let name = c.0.to_ascii_uppercase();
                    if i + 1 == r.cols.len() {
                        s.push_str(&name);
                    } else {
                        agent_core::text::push_left(&mut s, &name, c.4);
                    }
                }
                s.push('\n');
            }
        }
        out.push(&s);
    }

    fn rings(&self) -> Vec<String> {
        self.rings.iter().map(|r| r.name.clone()).collect()
    }

    fn record(&mut self, ring: usize, data: &[u8], out: &mut Out) {
        let Some(r) = self.rings.get(ring) else {
            return;
        };
        let now = boot_now_ns();
        if out.json() {
            let mut o = out.event("event", now);
            o.str("ring", &r.name);
            match r.ty {
                Some(ty) => decode::json_fields(&self.types, ty, data, o.raw(), RESERVED),
                None => {
                    o.u64("size", data.len() as u64);
                    o.key("data_hex");
                    agent_core::json::push_hex(o.raw(), data);
                }
            }
            o.end();
            return;
        }
        let mut s = out.take_line();
        out.push_hms(&mut s, now);
        let several = self.rings.len() > 1;
        if several {
            s.push(' ');
            s.push_str(&r.name);
            s.push(':');
        }
        match r.ty {
            Some(_) => {
                for (i, (name, ty, off, bits, w)) in r.cols.iter().enumerate() {
                    s.push(' ');
                    let start = s.len();
                    if several {
                        s.push_str(name);
                        s.push('=');
                    }
                    let last = i + 1 == r.cols.len();
                    let d = data.get(*off as usize..).unwrap_or(&[]);
                    decode::text_field(&self.types, *ty, d, *bits, last, &mut s);
                    let used = s[start..].chars().count();
                    if !several && !last && used < *w {
                        s.extend(std::iter::repeat_n(' ', w - used));
                    }
                }
            }
            None => {
                s.push_str(&format!(" {} bytes: ", data.len()));
                for b in data {
                    s.push_str(&format!("{b:02x}"));
                }
            }
        }
        s.push('\n');
        out.put_line(s);
    }

    fn schedule(&self) -> Option<IntervalOptions> {
        (!self.maps.is_empty()).then_some(IntervalOptions {
            interval: self.map_interval,
            count: None,
            duration: None,
        })
    }

    fn report(&mut self, obj: &Object, tick: &Tick, out: &mut Out) -> Result<()> {
        dump::report(&self.maps, &self.types, obj, tick, out)
    }

    fn lost_reason(&self) -> &'static str {
        "ring buffer full"
    }
}

/// The event loop's source: the instance, and trace_pipe when the programs print.
struct Loop {
    inst: Instance,
    pipe: Option<printk::TracePipe>,
}

impl Source for Loop {
    fn fds(&self) -> Vec<RawFd> {
        let mut v = self.inst.fds();
        v.extend(self.pipe.as_ref().map(|p| p.fd()));
        v
    }

    fn run(&mut self, now: Instant) -> Flow {
        if let Some(p) = &mut self.pipe {
            p.pump(self.inst.out());
        }
        self.inst.run(now)
    }

    fn wake_at(&self) -> Option<Instant> {
        self.inst.wake_at()
    }

    fn polls(&self) -> bool {
        self.pipe.is_some() || self.inst.polls()
    }

    fn finish(&mut self) {
        if let Some(p) = &mut self.pipe {
            // bpf_printk lines of the last moments are still in the buffer.
            p.pump(self.inst.out());
            if p.others > 0 {
                log::debug!(
                    "{} trace_pipe lines were not from this object's programs",
                    p.others
                );
            }
        }
        self.inst.finish()
    }

    fn done(&self) -> bool {
        self.inst.done()
    }

    fn flush(&mut self) {
        self.inst.flush()
    }
}

/// `e`, said of `file`: its message prefixed with the file's name, its code, fix and detail.
fn in_file(e: Error, file: &str) -> Error {
    let mut out = Error::new(format!("{file}: {}", e.message())).code(e.exit_code);
    if let Some(h) = e.hint_text() {
        out = out.hint(h);
    }
    if let Some(d) = e.detail_text() {
        out = out.detail(d);
    }
    out
}

/// The `.rodata*` sections of an object not yet loaded: name and initial bytes.
fn rodata_sections(obj: &mut Object) -> Vec<(String, Vec<u8>)> {
    let names: Vec<String> = obj
        .maps()
        .into_iter()
        .map(|(n, _)| n)
        .filter(|n| n.contains(".rodata"))
        .collect();
    let mut out = Vec::new();
    for n in names {
        // libbpf names internal maps `<object>.rodata`; their BTF section is `.rodata`.
        let sec = n[n.find(".rodata").unwrap_or(0)..].to_string();
        if let Ok(d) = obj.section_data_mut(&sec) {
            out.push((sec, d.to_vec()));
        }
    }
    out
}

/// The largest object `run` reads (a BPF object of the biggest kernel-version matrix with its
/// BTF is a few MiB).
const OBJECT_MAX_BYTES: u64 = 64 << 20;

/// `ebpf-agent run ARGS`.
pub fn main(argv: &[String]) -> Result<()> {
    let (common, args) = cli::parse_tool::<Args>("run", argv, None)?;
    agent_core::logging::verbose(common.verbose);
    let perf_hz = args
        .perf
        .as_deref()
        .map(sections::parse_perf)
        .transpose()?
        .unwrap_or(DEFAULT_PERF_HZ);
    let file = args.file.clone();
    let bytes = input::read_file(file.as_ref(), OBJECT_MAX_BYTES, "a BPF object").map_err(|e| {
        let code = if matches!(
            e.kind(),
            std::io::ErrorKind::NotFound | std::io::ErrorKind::InvalidData
        ) {
            EXIT_USAGE
        } else {
            1
        };
        Error::new(format!("cannot read {file}: {e}")).code(code)
    })?;
    elf::check(&bytes, &file)?;
    let base = std::path::Path::new(&file)
        .file_name()
        .map_or("prog".into(), |n| n.to_string_lossy().into_owned());
    let name = base.split('.').next().unwrap_or("prog").to_string();
    let mut obj = Object::open_image(&name, bytes).map_err(|e| {
        Error::usage(format!("{file}: libbpf cannot open it: {}", e.message()))
            .hint("it is no BPF object libbpf understands; -v shows libbpf's messages")
    })?;
    let types = match obj.btf_types() {
        None => {
            return Err(Error::usage(format!("{file} has no BTF (.BTF section)"))
                .hint("compile with -g: clang -target bpf -g -O2 -c PROG.bpf.c (BTF is how run reads records and options)"))
        }
        Some(Err(e)) => return Err(Error::usage(format!("{file}: its BTF is malformed: {e}"))),
        Some(Ok(t)) => t,
    };
    // libbpf drops the `?` of a section name and leaves the program out of the load instead.
    let list: Vec<(String, String)> = obj
        .programs()
        .into_iter()
        .map(|(n, s)| {
            let s = if obj.autoload(&n) { s } else { format!("?{s}") };
            (n, s)
        })
        .collect();
    let progs = sections::programs(&list, perf_hz).map_err(|e| in_file(e, &file))?;
    let probes_regs = progs.iter().any(|p| {
        matches!(
            p.hook,
            Hook::Kprobe(_) | Hook::Kretprobe(_) | Hook::Uprobe { .. } | Hook::CpuClock { .. }
        )
    });
    if let Some(arch) = elf::regs_arch(&types).filter(|a| probes_regs && *a != elf::native_arch()) {
        return Err(Error::usage(format!(
            "{file} was compiled for {arch} registers (-D__TARGET_ARCH_{arch}), but this machine is {}",
            std::env::consts::ARCH
        ))
        .hint(format!("compile it with -D__TARGET_ARCH_{}", elf::native_arch())));
    }
    let mut notes = Vec::new();
    if !args.set.is_empty() {
        let rodata = obj.section_data_mut(".rodata").map_err(|_| {
            Error::usage(format!(
                "--set: {file} has no const volatile globals (.rodata)"
            ))
            .hint("declare options as const volatile globals: const volatile __u32 target_pid = 0;")
        })?;
        let set = set::apply(&types, rodata, &args.set).map_err(|e| in_file(e, &file))?;
        notes.push(format!("set {}", set.join(" ")));
    }
    let decls = obj.map_decls();
    let rings: Vec<Ring> = decls
        .iter()
        .filter(|(_, d)| d.ty == RINGBUF)
        .map(|(n, _)| Ring::new(&types, n))
        .collect();
    for r in &rings {
        match r.ty {
            Some(ty) => notes.push(format!("ring {} records {}", r.name, types.describe(ty))),
            None => log::warn!(
                "ring buffer {}: no record type in the BTF (declare struct event, or a global `struct X *{}_record;`): records are shown as hex",
                r.name, r.name
            ),
        }
    }
    let maps = dump::dumpable(&decls, &types);
    if maps.is_empty() && args.map_interval.is_some() {
        log::warn!("--map-interval: {file} has no hash or array maps to print");
    }
    // A program prints if it calls bpf_trace_printk, or if bpf_printk left a format in
    // .rodata (its call may be in a function libbpf appends to the program only at load).
    let formats = printk::formats(&types, &rodata_sections(&mut obj));
    let printk = !formats.is_empty()
        || progs
            .iter()
            .any(|p| obj.calls_helper(&p.name, printk::HELPERS));
    let formats = printk.then_some(formats);
    let mut run = Run {
        file: file.clone(),
        types,
        progs,
        rings,
        maps,
        map_interval: args.map_interval,
        notes,
        json: common.json,
        printk: formats,
        pipe: None,
    };
    let (obj, _) =
        tool::load_object("run", obj, &[], &mut run).map_err(|e| verifier::explain(e, &file))?;
    let pipe = run.pipe.take();
    let out = Out::stdout(run.json);
    let inst = Instance::new("run", obj, Box::new(run), &common, out)?;
    let mut lp = Loop { inst, pipe };
    let signals = evloop::Signals::install()?;
    evloop::run(&mut [&mut lp], &signals, evloop::stop_on_any)?;
    lp.inst.result()
}
