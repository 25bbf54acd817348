//! What this kernel offers: BTF, tracefs, tracepoints, kprobes. Probed, never guessed from the
//! version, so a backported or trimmed kernel is judged by what it really has.

use std::ffi::{CStr, CString};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::btf::KernelBtf;
use crate::hooks::{Hook, HookBuf};

/// The kernel's own BTF, which CO-RE relocations are resolved against.
pub const VMLINUX_BTF: &str = "/sys/kernel/btf/vmlinux";

/// Where images ship BTF for a kernel built without it: `<dir>/<uname -r>.btf`
/// (EBPF_AGENT_BTF_DIR names another directory).
pub const SHIPPED_BTF_DIR: &str = "/usr/lib/ebpf-agent/btf";

/// What a kernel without BTF of its own rules out, even with BTF shipped for it.
pub const NO_KERNEL_BTF_RULES_OUT: &str = "tp_btf and fentry/fexit hooks need the kernel's own \
     BTF: tools take their raw_tp, tracepoint and kprobe paths";

/// Does the kernel expose its own BTF?
pub fn kernel_btf_present() -> bool {
    Path::new(VMLINUX_BTF).exists()
}

/// The running kernel's release (`uname -r`).
pub fn kernel_release() -> String {
    nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Where BTF shipped for this kernel release is looked for.
pub fn shipped_btf_path() -> PathBuf {
    let dir = std::env::var_os("EBPF_AGENT_BTF_DIR").unwrap_or_else(|| SHIPPED_BTF_DIR.into());
    Path::new(&dir).join(format!("{}.btf", kernel_release()))
}

/// Where CO-RE relocations get the kernel's types from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BtfSource {
    /// The kernel's own ([`VMLINUX_BTF`]).
    Kernel,
    /// A file shipped for this kernel release ([`shipped_btf_path`]).
    Shipped(PathBuf),
    /// The file EBPF_AGENT_BTF names (it wins over the others: for tests and odd layouts).
    Named(PathBuf),
    /// None: neither the kernel's, nor a shipped file (or EBPF_AGENT_BTF names no file).
    Missing,
}

/// The BTF to relocate with, in this order: EBPF_AGENT_BTF if set, the kernel's own, the
/// file shipped for this release. Decided once.
pub fn btf_source() -> &'static BtfSource {
    static FOUND: OnceLock<BtfSource> = OnceLock::new();
    FOUND.get_or_init(|| {
        if let Some(p) = std::env::var_os("EBPF_AGENT_BTF") {
            let p = PathBuf::from(p);
            return if p.is_file() {
                BtfSource::Named(p)
            } else {
                BtfSource::Missing
            };
        }
        if kernel_btf_present() {
            return BtfSource::Kernel;
        }
        let p = shipped_btf_path();
        if p.is_file() {
            BtfSource::Shipped(p)
        } else {
            BtfSource::Missing
        }
    })
}

/// BTF to relocate CO-RE programs with instead of the kernel's (shipped or named), if any.
pub fn custom_btf() -> Option<&'static Path> {
    match btf_source() {
        BtfSource::Shipped(p) | BtfSource::Named(p) => Some(p),
        BtfSource::Kernel | BtfSource::Missing => None,
    }
}

/// [`custom_btf`] as the C string libbpf's open options take.
pub fn custom_btf_cstr() -> Option<&'static CStr> {
    static C: OnceLock<Option<CString>> = OnceLock::new();
    C.get_or_init(|| custom_btf().and_then(|p| CString::new(p.as_os_str().as_encoded_bytes()).ok()))
        .as_deref()
}

/// Can CO-RE programs be relocated here: kernel BTF, or BTF shipped for this kernel?
pub fn btf_present() -> bool {
    *btf_source() != BtfSource::Missing
}

/// How many types a BTF file holds (raw BTF or an ELF file with .BTF); None if it is none.
pub fn btf_types(path: &Path) -> Option<u32> {
    let c = CString::new(path.as_os_str().as_encoded_bytes()).ok()?;
    // SAFETY: a NUL-terminated path; libbpf returns a new BTF or an error pointer.
    let btf = unsafe { libbpf_sys::btf__parse(c.as_ptr(), std::ptr::null_mut()) };
    // SAFETY: libbpf_get_error only inspects the pointer value.
    if btf.is_null() || unsafe { libbpf_sys::libbpf_get_error(btf as *const libc::c_void) } != 0 {
        return None;
    }
    // SAFETY: a valid BTF we own; type ids run from 1 (0 is void) to type_cnt - 1.
    let n = unsafe { libbpf_sys::btf__type_cnt(btf) }.saturating_sub(1);
    // SAFETY: freed once, not used after.
    unsafe { libbpf_sys::btf__free(btf) };
    Some(n)
}

/// Which BTF is used, in one line for `check`, `list` and `-v`.
pub fn btf_summary() -> String {
    let types = |p: &Path| match btf_types(p) {
        Some(n) => format!("{n} types"),
        None => "NOT valid BTF".to_string(),
    };
    match btf_source() {
        BtfSource::Kernel => format!("kernel BTF ({VMLINUX_BTF})"),
        BtfSource::Shipped(p) => format!(
            "no kernel BTF; using shipped BTF for {} ({}, {})",
            kernel_release(),
            types(p),
            p.display()
        ),
        BtfSource::Named(p) => format!(
            "{}using EBPF_AGENT_BTF ({}, {})",
            if kernel_btf_present() {
                ""
            } else {
                "no kernel BTF; "
            },
            types(p),
            p.display()
        ),
        BtfSource::Missing => btf_missing().unwrap_or_default(),
    }
}

/// The fix for a kernel without BTF, naming both ways.
pub fn no_btf_fix() -> String {
    format!(
        "build the kernel with CONFIG_DEBUG_INFO_BTF=y (needs pahole on the build host), or ship \
         its BTF as {}: ebpf-min-btf makes it from the kernel's vmlinux (with DWARF), as the \
         Yocto layer and the Buildroot tree do for kernels without BTF",
        shipped_btf_path().display()
    )
}

fn has_events(dir: &Path) -> bool {
    dir.join("events").is_dir()
}

/// The fix when tracefs is there but this process may not read it.
pub const TRACEFS_DENIED_FIX: &str =
    "needs root or CAP_BPF+CAP_PERFMON, and CAP_DAC_READ_SEARCH for tracefs (mode 0700)";

/// What this process finds of tracefs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tracefs {
    /// Mounted and readable here.
    At(PathBuf),
    /// Mounted here, but this process may not read it (not root, no CAP_DAC_READ_SEARCH).
    Denied(PathBuf),
    /// Nowhere, and it could not be mounted.
    Absent,
}

const TRACEFS_DIRS: [&str; 2] = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];

/// The tracefs this process mounted (at /sys/kernel/tracing), unmounted by [`unmount_ours`].
static MOUNTED_BY_US: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Where tracefs is, whether this process can read it; mounts it at /sys/kernel/tracing if it
/// is nowhere (as root), and remembers to unmount it at exit ([`unmount_ours`]).
pub fn tracefs() -> &'static Tracefs {
    static STATE: OnceLock<Tracefs> = OnceLock::new();
    STATE.get_or_init(|| {
        for dir in TRACEFS_DIRS.map(Path::new) {
            match std::fs::metadata(dir.join("events")) {
                Ok(m) if m.is_dir() => return Tracefs::At(dir.to_path_buf()),
                Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                    return Tracefs::Denied(dir.to_path_buf())
                }
                _ => {}
            }
        }
        let target = Path::new(TRACEFS_DIRS[0]);
        let mounted = nix::mount::mount(
            Some("tracefs"),
            target,
            Some("tracefs"),
            nix::mount::MsFlags::empty(),
            None::<&str>,
        );
        match mounted {
            Ok(()) => {
                MOUNTED_BY_US.store(true, std::sync::atomic::Ordering::SeqCst);
                log::debug!(
                    "mounted tracefs at {} (unmounted at exit)",
                    target.display()
                );
                if has_events(target) {
                    Tracefs::At(target.to_path_buf())
                } else {
                    Tracefs::Absent
                }
            }
            Err(nix::errno::Errno::EPERM) if !is_root() => Tracefs::Denied(target.to_path_buf()),
            Err(_) => Tracefs::Absent,
        }
    })
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Where tracefs is mounted and readable; mounts it at /sys/kernel/tracing if it is nowhere
/// (as root).
pub fn tracefs_root() -> Option<&'static Path> {
    match tracefs() {
        Tracefs::At(p) => Some(p),
        _ => None,
    }
}

/// Why tracefs cannot be used here, with the fix (None: it can).
pub fn tracefs_missing() -> Option<String> {
    match tracefs() {
        Tracefs::At(_) => None,
        Tracefs::Denied(p) => Some(format!(
            "cannot read tracefs at {}: {TRACEFS_DENIED_FIX}",
            p.display()
        )),
        Tracefs::Absent => {
            Some("no tracefs: mount -t tracefs tracefs /sys/kernel/tracing (CONFIG_TRACING)".into())
        }
    }
}

/// Unmounts tracefs if this process mounted it: the system is left as it was found. Called
/// once at exit.
pub fn unmount_ours() {
    if MOUNTED_BY_US.swap(false, std::sync::atomic::Ordering::SeqCst) {
        // Detached: a reader that still holds a file open keeps it until it closes it.
        match nix::mount::umount2(TRACEFS_DIRS[0], nix::mount::MntFlags::MNT_DETACH) {
            Ok(()) => log::debug!("unmounted the tracefs mounted at start"),
            Err(e) => log::warn!("cannot unmount the tracefs mounted at start: {e}"),
        }
    }
}

/// Does tracepoint `category:name` exist (tracefs `events/<category>/<name>`)?
pub fn tracepoint_exists(category: &str, name: &str) -> bool {
    tracefs_root().is_some_and(|r| r.join("events").join(category).join(name).is_dir())
}

/// The tracefs category of tracepoint `name` (raw tracepoints are named without one): the
/// first `events/<category>/<name>` there is.
pub fn tracepoint_category(name: &str) -> Option<String> {
    let events = tracefs_root()?.join("events");
    std::fs::read_dir(&events)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|c| events.join(c).join(name).is_dir())
}

/// Can this kernel attach kprobes at all (CONFIG_KPROBE_EVENTS)?
pub fn kprobes_supported() -> bool {
    tracefs_root().is_some_and(|r| r.join("kprobe_events").exists())
}

/// Can a kprobe attach to `func` (kprobes enabled and the function traceable)?
pub fn kprobe_exists(func: &str) -> bool {
    kprobes_exist(&[func])
}

/// The kernel's traceable functions (tracefs `available_filter_functions`), read once: the
/// list is long to make (megabytes; about a second on an emulated board). None if unreadable.
fn traceable_functions() -> Option<&'static std::collections::HashSet<String>> {
    static LIST: OnceLock<Option<std::collections::HashSet<String>>> = OnceLock::new();
    LIST.get_or_init(|| {
        let root = tracefs_root()?;
        let list = std::fs::read_to_string(root.join("available_filter_functions")).ok()?;
        Some(
            list.lines()
                .filter_map(|l| l.split_whitespace().next())
                .map(str::to_owned)
                .collect(),
        )
    })
    .as_ref()
}

/// The traceable kernel functions (not blacklisted) whose names `keep` accepts, sorted: what
/// a pattern of kprobes can attach to. None when the list is unreadable (no tracefs, no
/// function tracer).
pub fn kprobe_functions(mut keep: impl FnMut(&str) -> bool) -> Option<Vec<String>> {
    let list = traceable_functions()?;
    let bl = kprobe_blacklist();
    let mut out: Vec<String> = list
        .iter()
        .filter(|f| keep(f) && !bl.contains(*f))
        .cloned()
        .collect();
    crate::sort::sort_by(&mut out, |a, b| a.cmp(b));
    Some(out)
}

/// Functions the kernel refuses to kprobe (debugfs `kprobes/blacklist`), if readable.
fn kprobe_blacklist() -> &'static std::collections::HashSet<String> {
    static LIST: OnceLock<std::collections::HashSet<String>> = OnceLock::new();
    LIST.get_or_init(|| {
        std::fs::read_to_string("/sys/kernel/debug/kprobes/blacklist")
            .map(|s| {
                s.lines()
                    .filter_map(|l| l.split_whitespace().nth(1))
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    })
}

/// Can kprobes attach to every one of `funcs`: kprobes enabled, each function traceable and
/// not on the kprobe blacklist?
pub fn kprobes_exist(funcs: &[&str]) -> bool {
    funcs.iter().all(|f| kprobe_missing(f).is_none())
}

/// None if a kprobe can attach to `func`, else why not.
pub fn kprobe_missing(func: &str) -> Option<String> {
    if !kprobes_supported() {
        return Some(format!(
            "no kprobes for {func}: enable CONFIG_KPROBES and CONFIG_KPROBE_EVENTS"
        ));
    }
    if kprobe_blacklist().contains(func) {
        return Some(format!("kernel function {func} is on the kprobe blacklist"));
    }
    match traceable_functions() {
        // Without the list, kprobe support is the best we know.
        None => None,
        Some(list) if list.contains(func) => None,
        Some(_) => Some(format!(
            "kernel function {func} cannot be probed (inlined, renamed or notrace)"
        )),
    }
}

/// Does some tracefs category have event `name` (raw tracepoints are named without one)?
fn any_tracepoint(category: &str, name: &str) -> bool {
    tracepoint_exists(category, name)
}

thread_local! {
    /// The kernel's own BTF while a tool starts: parsed once for every probe that needs it.
    static VMLINUX: std::cell::RefCell<Option<Option<std::rc::Rc<KernelBtf>>>> =
        const { std::cell::RefCell::new(None) };
}

/// The kernel's own BTF, parsed on first use and kept until [`release_kernel_btf`]: the
/// start-up's probes and reads share one parse (megabytes, tens of milliseconds on a board).
pub fn kernel_btf() -> Option<std::rc::Rc<KernelBtf>> {
    VMLINUX.with(|v| {
        v.borrow_mut()
            .get_or_insert_with(|| {
                if kernel_btf_present() {
                    KernelBtf::vmlinux().map(std::rc::Rc::new)
                } else {
                    None
                }
            })
            .clone()
    })
}

/// Frees the BTF [`kernel_btf`] keeps (before a load, where libbpf parses its own copy).
pub fn release_kernel_btf() {
    VMLINUX.with(|v| v.borrow_mut().take());
}

/// Does the kernel's BTF declare raw tracepoint `name` (its `btf_trace_<name>` type)?
fn raw_tp_in_btf(name: &str) -> bool {
    kernel_btf()
        .and_then(|b| b.view().typedef_id(&format!("btf_trace_{name}")))
        .is_some()
}

/// Can this kernel load a BTF-typed raw tracepoint program for `name` (tp_btf)? A trial load
/// of a two-instruction program, as the kernel decides it (BTF, program type, lockdown).
pub fn tp_btf_works(name: &str) -> bool {
    let id = kernel_btf().and_then(|b| b.view().typedef_id(&format!("btf_trace_{name}")));
    trial_tracing_load(id, libbpf_sys::BPF_TRACE_RAW_TP)
}

/// Can this kernel attach fentry programs to `func` (BPF trampolines)? Load and attach trial.
pub fn fentry_works(func: &str) -> bool {
    let id = kernel_btf().and_then(|b| b.view().func_id(func));
    trial_tracing_load(id, libbpf_sys::BPF_TRACE_FENTRY)
}

/// Loads and attaches a do-nothing tracing program to kernel BTF type `id`.
fn trial_tracing_load(id: Option<u32>, attach: libbpf_sys::bpf_attach_type) -> bool {
    use libbpf_sys as sys;
    let Some(id) = id else {
        return false;
    };
    // r0 = 0; exit
    let insns = [
        sys::bpf_insn {
            code: (sys::BPF_ALU64 | sys::BPF_MOV | sys::BPF_K) as u8,
            _bitfield_align_1: [],
            _bitfield_1: sys::bpf_insn::new_bitfield_1(0, 0),
            off: 0,
            imm: 0,
        },
        sys::bpf_insn {
            code: (sys::BPF_JMP | sys::BPF_EXIT) as u8,
            _bitfield_align_1: [],
            _bitfield_1: sys::bpf_insn::new_bitfield_1(0, 0),
            off: 0,
            imm: 0,
        },
    ];
    let mut opts = crate::opts::ProgLoadOpts {
        expected_attach_type: attach,
        attach_btf_id: id,
        ..Default::default()
    };
    let license = c"GPL";
    // SAFETY: two valid instructions, a NUL-terminated license and valid options.
    let fd = unsafe {
        sys::bpf_prog_load(
            sys::BPF_PROG_TYPE_TRACING,
            std::ptr::null(),
            license.as_ptr(),
            insns.as_ptr(),
            insns.len() as sys::size_t,
            &mut opts as *mut crate::opts::ProgLoadOpts as *mut sys::bpf_prog_load_opts,
        )
    };
    if fd < 0 {
        return false;
    }
    // SAFETY: fd is a program we own; NULL options are allowed.
    let link = unsafe { sys::bpf_link_create(fd, 0, attach, std::ptr::null()) };
    let ok = link >= 0;
    // SAFETY: closing descriptors we own.
    unsafe {
        if ok {
            libc::close(link);
        }
        libc::close(fd);
    }
    ok
}

/// Can kprobe and uprobe programs read their link's cookie (`bpf_get_attach_cookie`, 5.15)?
pub fn attach_cookies_supported() -> bool {
    // SAFETY: a feature probe: libbpf loads a tiny program calling the helper; no options.
    unsafe {
        libbpf_sys::libbpf_probe_bpf_helper(
            libbpf_sys::BPF_PROG_TYPE_KPROBE,
            libbpf_sys::BPF_FUNC_get_attach_cookie,
            std::ptr::null(),
        ) > 0
    }
}

/// Does the kernel have uprobes (the `uprobe` perf event source)?
pub fn uprobes_supported() -> bool {
    Path::new("/sys/bus/event_source/devices/uprobe/type").exists()
}

/// The CPUs that are online now (`/sys/devices/system/cpu/online`, e.g. `0-3,5`).
pub fn online_cpus() -> crate::Result<Vec<u32>> {
    let text = std::fs::read_to_string("/sys/devices/system/cpu/online")?;
    parse_cpu_list(text.trim())
        .ok_or_else(|| crate::Error::new(format!("cannot parse the online CPU list {text:?}")))
}

/// Parses a kernel CPU list (`0-3,5`).
pub fn parse_cpu_list(s: &str) -> Option<Vec<u32>> {
    let mut out = Vec::new();
    for part in s.split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u32, u32) = (a.parse().ok()?, b.parse().ok()?);
                if b < a || b - a > 65_536 {
                    return None;
                }
                out.extend(a..=b);
            }
            None => out.push(part.parse().ok()?),
        }
    }
    Some(out)
}

/// Opens a software cpu-clock perf event sampling `freq` times a second on `cpu` (every
/// process, or `pid`'s): Err(errno).
pub fn open_cpu_clock(
    freq: u64,
    cpu: u32,
    pid: Option<u32>,
) -> std::result::Result<std::os::fd::OwnedFd, i32> {
    use libbpf_sys as sys;
    use std::os::fd::FromRawFd;
    let mut attr = sys::perf_event_attr {
        type_: sys::PERF_TYPE_SOFTWARE,
        size: std::mem::size_of::<sys::perf_event_attr>() as u32,
        config: sys::PERF_COUNT_SW_CPU_CLOCK as u64,
        ..Default::default()
    };
    attr.__bindgen_anon_1.sample_freq = freq;
    attr.set_freq(1);
    let pid = pid.map_or(-1, |p| p as libc::c_int);
    // SAFETY: a valid perf_event_attr of its own size; the kernel returns a new descriptor.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_perf_event_open,
            &attr as *const sys::perf_event_attr,
            pid,
            cpu as libc::c_int,
            -1 as libc::c_int,
            libbpf_sys::PERF_FLAG_FD_CLOEXEC as libc::c_ulong,
        )
    };
    if fd < 0 {
        return Err(crate::bpf::last_errno());
    }
    // SAFETY: the kernel just gave us this descriptor, owned by nobody else.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as libc::c_int) })
}

/// None if this kernel can attach `hook`, else why not and the fix.
pub fn hook_missing(hook: &HookBuf) -> Option<String> {
    match hook {
        Hook::Tracepoint(c, n) => Need::Tracepoint(c, n).why(),
        Hook::RawTp(c, n) if any_tracepoint(c, n) => None,
        // Raw tracepoints attach by name, without tracefs: where this process may not read it,
        // the kernel's BTF tells whether the tracepoint exists (`btf_trace_<name>`).
        Hook::RawTp(_, n) if tracefs_root().is_none() && raw_tp_in_btf(n) => None,
        Hook::RawTp(c, n) => Need::Tracepoint(c, n).why(),
        Hook::TpBtf(c, n) => {
            if !kernel_btf_present() {
                Some(format!(
                    "tp_btf {n} needs the kernel's own BTF (CONFIG_DEBUG_INFO_BTF)"
                ))
            } else if !any_tracepoint(c, n) {
                Need::Tracepoint(c, n).why()
            } else if !tp_btf_works(n) {
                Some(format!(
                    "the kernel refuses BTF-typed tracepoint programs for {n}"
                ))
            } else {
                None
            }
        }
        Hook::Kprobe(f) | Hook::Kretprobe(f) => kprobe_missing(f),
        Hook::Fentry(f) | Hook::Fexit(f) if !kernel_btf_present() => Some(format!(
            "fentry/fexit on {f} needs the kernel's own BTF (CONFIG_DEBUG_INFO_BTF)"
        )),
        Hook::Fentry(f) | Hook::Fexit(f) => (!fentry_works(f)).then(|| {
            format!(
                "fentry/fexit on {f} needs BPF trampolines (x86_64, or arm64 from 6.0, with \
                 CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS) and kernel BTF"
            )
        }),
        Hook::Uprobe { path, .. } => {
            if !uprobes_supported() {
                Some("no uprobes: enable CONFIG_UPROBES and CONFIG_UPROBE_EVENTS".to_string())
            } else if !Path::new(path).exists() {
                Some(format!("{path} does not exist"))
            } else {
                None
            }
        }
        Hook::CpuClock { .. } => (!Path::new("/sys/bus/event_source/devices/software").exists())
            .then(|| "no software perf events: enable CONFIG_PERF_EVENTS".to_string()),
    }
}

const CAP_SYS_ADMIN: u32 = 21;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;

/// The effective capability set of this process (/proc/self/status `CapEff`).
pub fn effective_caps() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapEff:").map(|v| v.trim().to_string()))
        })
        .and_then(|v| u64::from_str_radix(&v, 16).ok())
        .unwrap_or(0)
}

/// What a process without [`bpf_privileged`] lacks, in `list` and `check`.
pub const NEEDS_PRIVILEGES: &str = "needs root or CAP_BPF+CAP_PERFMON";

/// Can this process load tracing programs: CAP_BPF with CAP_PERFMON, or CAP_SYS_ADMIN?
pub fn bpf_privileged() -> bool {
    let caps = effective_caps();
    let has = |c: u32| caps & (1u64 << c) != 0;
    has(CAP_SYS_ADMIN) || (has(CAP_BPF) && has(CAP_PERFMON))
}

/// The privilege check every tool makes before it loads anything: the error names the fix.
pub fn check_privileges(tool: &str) -> crate::Result<()> {
    use crate::error::{Error, EXIT_PERMISSION};
    if !bpf_privileged() {
        return Err(Error::new(format!("{tool} needs privileges to load BPF programs")).code(EXIT_PERMISSION).hint(
            "run as root, or grant CAP_BPF and CAP_PERFMON (kernel >= 5.8; CAP_SYS_ADMIN before), \
             e.g. setcap cap_bpf,cap_perfmon,cap_dac_read_search+ep /usr/sbin/ebpf-agent",
        ));
    }
    Ok(())
}

/// A tracepoint a hook needs.
enum Need<'a> {
    Tracepoint(&'a str, &'a str),
}

impl Need<'_> {
    /// None if this kernel has it, else why not and the fix.
    fn why(&self) -> Option<String> {
        match *self {
            Need::Tracepoint(c, n) if tracepoint_exists(c, n) => None,
            Need::Tracepoint(c, n) if tracefs_root().is_none() => Some(format!(
                "tracepoint {c}:{n}: {}",
                tracefs_missing().unwrap_or_default()
            )),
            Need::Tracepoint(c, n) => Some(match tracepoint_since(c, n) {
                Some(v) => format!(
                    "no tracepoint {c}:{n}: it came with Linux {v} ({} there)",
                    tracepoint_config(c)
                ),
                None => format!("no tracepoint {c}:{n}: enable {}", tracepoint_config(c)),
            }),
        }
    }
}

/// Tracepoints newer than the oldest kernel we support: a kernel without them is too old,
/// not misconfigured, and the message says so.
pub fn tracepoint_since(category: &str, name: &str) -> Option<&'static str> {
    match (category, name) {
        ("sock", "sock_send_length" | "sock_recv_length") => Some("6.3"),
        _ => None,
    }
}

/// None if CO-RE programs can be relocated here, else why not (the fix: [`no_btf_fix`]).
pub fn btf_missing() -> Option<String> {
    if btf_present() {
        return None;
    }
    if let Some(p) = std::env::var_os("EBPF_AGENT_BTF") {
        return Some(format!(
            "EBPF_AGENT_BTF names no file ({})",
            Path::new(&p).display()
        ));
    }
    Some(format!(
        "no kernel BTF ({VMLINUX_BTF}) and no BTF shipped for {} ({})",
        kernel_release(),
        shipped_btf_path().display()
    ))
}

/// The kernel config symbol that provides tracepoints of a category.
pub fn tracepoint_config(category: &str) -> &'static str {
    match category {
        "syscalls" => "CONFIG_FTRACE_SYSCALLS",
        "block" => "CONFIG_BLOCK and CONFIG_TRACEPOINTS",
        "sched" | "sock" | "tcp" => "CONFIG_TRACEPOINTS",
        _ => "CONFIG_TRACEPOINTS",
    }
}

/// The most files this process may have open (the soft RLIMIT_NOFILE), if known.
// rlim_t is u64 with musl and 64-bit glibc, u32 with 32-bit glibc.
#[allow(clippy::useless_conversion)]
pub fn open_files_limit() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit through a valid pointer.
    (unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0)
        .then_some(u64::from(lim.rlim_cur))
}

/// Every hook holds a file descriptor (`funccount 't:syscalls:*'` attaches 700 of them, and a
/// BusyBox board's soft limit is 1024): the soft limit goes up to the hard one, as any process
/// may do, but not past 65536, which the children a tool starts inherit. Returns the limit now.
pub fn raise_open_files_limit() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit through a valid pointer.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return None;
    }
    let want = lim.rlim_max.min(65536);
    if lim.rlim_cur < want {
        lim.rlim_cur = want;
        // SAFETY: setrlimit reads one valid rlimit; raising the soft limit up to the hard one
        // needs no privilege, and a failure leaves the limit as it was.
        unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) };
    }
    open_files_limit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0-3,5"), Some(vec![0, 1, 2, 3, 5]));
        assert_eq!(parse_cpu_list("0"), Some(vec![0]));
        assert_eq!(parse_cpu_list("3-1"), None);
        assert_eq!(parse_cpu_list("x"), None);
    }

    #[test]
    fn tracepoints_of_this_kernel() {
        if tracefs_root().is_none() {
            eprintln!("skipped: no tracefs here");
            return;
        }
        // Present on every kernel with CONFIG_TRACEPOINTS.
        assert!(tracepoint_exists("sched", "sched_process_exec"));
        assert!(!tracepoint_exists("sched", "no_such_tracepoint_here"));
        let tp = |c: &str, n: &str| Hook::Tracepoint(c.to_string(), n.to_string());
        assert!(hook_missing(&tp("syscalls", "no_such_syscall"))
            .unwrap()
            .contains("CONFIG_FTRACE_SYSCALLS"));
        assert!(hook_missing(&Hook::RawTp("sched".into(), "sched_switch".into())).is_none());
        assert_eq!(
            tracepoint_category("sched_switch").as_deref(),
            Some("sched")
        );
        assert_eq!(tracepoint_category("no_such_tracepoint_here"), None);
    }
}
