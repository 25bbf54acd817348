//! A small safe layer over libbpf: open an object (embedded and compressed, or a file), set its
//! options, load, attach, read its maps.

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::ptr::NonNull;
use std::sync::Mutex;

use libbpf_sys as sys;

use crate::btf::{Btf, Layout};
use crate::error::{Error, Result, EXIT_UNSUPPORTED};
use crate::opts::{ObjectOpenOpts, UprobeOpts};
use crate::pod::{self, Pod};
use crate::probe;

/// libbpf's messages while a load is under way: kept to show the verifier log's tail.
static CAPTURE: Mutex<Option<Vec<String>>> = Mutex::new(None);

/// How many lines of the verifier log an error shows (with --verbose).
const VERIFIER_TAIL: usize = 40;

extern "C" {
    fn vsnprintf(
        buf: *mut c_char,
        size: usize,
        fmt: *const c_char,
        ap: *mut sys::__va_list_tag,
    ) -> c_int;
    /// zlib's one-shot inflate (the zlib that libbpf-sys links for libelf).
    fn uncompress(
        dest: *mut u8,
        dest_len: *mut libc::c_ulong,
        source: *const u8,
        source_len: libc::c_ulong,
    ) -> c_int;
}

unsafe extern "C" fn libbpf_print(
    level: sys::libbpf_print_level,
    fmt: *const c_char,
    ap: *mut sys::__va_list_tag,
) -> c_int {
    let mut buf = [0u8; 1024];
    // SAFETY: libbpf passes a printf format and its matching va_list; vsnprintf writes at
    // most buf.len() bytes, NUL included.
    let n = unsafe { vsnprintf(buf.as_mut_ptr() as *mut c_char, buf.len(), fmt, ap) };
    if n < 0 {
        return 0;
    }
    let len = (n as usize).min(buf.len() - 1);
    let text = String::from_utf8_lossy(&buf[..len]);
    let text = text.trim_end();
    if let Ok(mut cap) = CAPTURE.lock() {
        if let Some(lines) = cap.as_mut() {
            lines.extend(text.lines().map(str::to_owned));
        }
    }
    // libbpf's warnings are explained by our own errors; they are details for --verbose.
    match level {
        sys::LIBBPF_WARN => log::info!(target: "libbpf", "{text}"),
        sys::LIBBPF_INFO => log::debug!(target: "libbpf", "{text}"),
        _ => log::trace!(target: "libbpf", "{text}"),
    }
    n
}

/// Routes libbpf's own log through `log`. Called once, before any object is opened.
pub fn init_libbpf_logging() {
    // SAFETY: libbpf_print matches libbpf's print callback type and lives forever.
    unsafe {
        sys::libbpf_set_print(Some(libbpf_print));
    }
}

/// The errno behind a failed libbpf call returning a pointer (or an error-encoded pointer).
fn errno_of(ptr: *const c_void) -> i32 {
    // SAFETY: libbpf_get_error only inspects the pointer value.
    let e = unsafe { sys::libbpf_get_error(ptr) };
    if e != 0 {
        (-e) as i32
    } else {
        last_errno()
    }
}

/// The calling thread's errno.
pub fn last_errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EINVAL)
}

fn cstring(s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::new(format!("name with a NUL byte: {s:?}")))
}

/// The file offset a uprobe "function" names when written `0x<hex>`.
pub fn uprobe_offset(func: &str) -> Option<u64> {
    func.strip_prefix("0x")
        .and_then(|h| u64::from_str_radix(h, 16).ok())
}

/// A BPF object compiled by the build and embedded in the binary, zlib-compressed.
#[derive(Clone, Copy)]
pub struct Embedded {
    pub name: &'static str,
    /// The object, as a zlib stream (RFC 1950).
    pub zlib: &'static [u8],
    /// Its size once inflated.
    pub len: usize,
}

impl Embedded {
    /// The object's bytes, inflated with the zlib already linked for libelf.
    pub fn inflate(&self) -> Result<Vec<u8>> {
        let mut out = vec![0u8; self.len];
        let mut out_len = self.len as libc::c_ulong;
        // SAFETY: `out` has room for out_len bytes and `zlib` is a valid slice; uncompress
        // writes at most out_len bytes and stores how many it wrote.
        let rc = unsafe {
            uncompress(
                out.as_mut_ptr(),
                &mut out_len,
                self.zlib.as_ptr(),
                self.zlib.len() as libc::c_ulong,
            )
        };
        if rc != 0 || out_len as usize != self.len {
            return Err(Error::new(format!(
                "{}: the embedded BPF object does not inflate (zlib error {rc}): the binary is damaged",
                self.name
            )));
        }
        Ok(out)
    }
}

/// A map as the object declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MapDecl {
    /// `BPF_MAP_TYPE_*`.
    pub ty: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    /// BTF type ids of key and value (0: not declared with `__type`).
    pub key_type: u32,
    pub value_type: u32,
    /// A global data section (.rodata, .bss, ...), not a map of the program's own.
    pub internal: bool,
}

/// An open (and, after [`Object::load`], loaded) BPF object with its attached links.
pub struct Object {
    raw: NonNull<sys::bpf_object>,
    name: String,
    links: Vec<NonNull<sys::bpf_link>>,
    /// Receives the verifier log. Allocated zeroed, so pages the kernel never writes cost no
    /// memory; libbpf keeps a pointer to it for the object's life.
    log_buf: Vec<u8>,
    /// The ELF image: libbpf reads it until the object is loaded.
    _image: Vec<u8>,
    /// The drained hash maps (maps::drain_hash) whose spare is the one in use now.
    spare_live: std::cell::RefCell<Vec<String>>,
}

/// Size of the verifier log buffer: enough for the tail of a rejected program's log.
const LOG_BUF_SIZE: usize = 4 << 20;

impl Object {
    /// Opens an object embedded in the binary. Nothing touches the kernel yet.
    pub fn open_embedded(obj: &Embedded) -> Result<Object> {
        Object::open_image(obj.name, obj.inflate()?)
    }

    /// Opens an object from its ELF bytes (a file the user compiled, an inflated embedded
    /// one). Nothing touches the kernel yet.
    pub fn open_image(name: &str, image: Vec<u8>) -> Result<Object> {
        let cname = cstring(name)?;
        let mut log_buf = vec![0u8; LOG_BUF_SIZE];
        let opts = ObjectOpenOpts {
            object_name: cname.as_ptr(),
            kernel_log_buf: log_buf.as_mut_ptr() as *mut c_char,
            kernel_log_size: LOG_BUF_SIZE as sys::size_t,
            btf_custom_path: probe::custom_btf_cstr().map_or(std::ptr::null(), |c| c.as_ptr()),
            ..Default::default()
        };
        // SAFETY: `image` and `opts` (and the strings it points to) are valid for the call;
        // `opts` has the C layout of bpf_object_open_opts on this target (crate::opts); the
        // image stays alive in the Object for as long as libbpf may read it.
        let raw = unsafe {
            sys::bpf_object__open_mem(
                image.as_ptr() as *const c_void,
                image.len() as sys::size_t,
                &opts as *const ObjectOpenOpts as *const sys::bpf_object_open_opts,
            )
        };
        let raw = NonNull::new(raw).ok_or_else(|| {
            Error::os(
                format!("{name}: cannot open the BPF object"),
                errno_of(raw as *const c_void),
            )
        })?;
        Ok(Object {
            raw,
            name: name.to_string(),
            links: Vec::new(),
            log_buf,
            _image: image,
            spare_live: Default::default(),
        })
    }

    pub fn raw(&self) -> *mut sys::bpf_object {
        self.raw.as_ptr()
    }

    /// The object's own BTF (the types the BPF C declared).
    pub fn btf(&self) -> Option<Btf<'_>> {
        // SAFETY: the object is valid; the BTF it returns lives as long as the object.
        let raw = unsafe { sys::bpf_object__btf(self.raw.as_ptr()) };
        // SAFETY: non-null BTF owned by the object, borrowed for the object's lifetime.
        (!raw.is_null()).then(|| unsafe { Btf::from_raw(raw) })
    }

    /// Layout of a struct declared by the BPF program.
    pub fn struct_layout(&self, name: &str) -> Option<Layout> {
        self.btf()?.struct_layout(name)
    }

    /// The object's BTF parsed in full ([`crate::btf::types`]): None if it has none, Err if
    /// it is malformed.
    pub fn btf_types(&self) -> Option<std::result::Result<crate::btf::types::Types, String>> {
        // SAFETY: the object is valid; its BTF lives as long as it does.
        let raw = unsafe { sys::bpf_object__btf(self.raw.as_ptr()) };
        if raw.is_null() {
            return None;
        }
        let mut size: u32 = 0;
        // SAFETY: a valid BTF; libbpf returns its raw bytes (owned by the BTF) and their size.
        let data = unsafe { sys::btf__raw_data(raw, &mut size) };
        if data.is_null() {
            return Some(Err("cannot read the object's BTF".into()));
        }
        // SAFETY: `size` bytes at `data`, alive while the object is (borrowed only here).
        let bytes = unsafe { std::slice::from_raw_parts(data as *const u8, size as usize) };
        Some(crate::btf::types::Types::parse(bytes))
    }

    /// The initial contents of global data section `section` (".rodata", ".bss", ".data"),
    /// writable until the object is loaded: options are set there.
    pub fn section_data_mut(&mut self, section: &str) -> Result<&mut [u8]> {
        let map = self.map_ptr(section)?;
        let mut total: sys::size_t = 0;
        // SAFETY: `map` belongs to this object; libbpf returns its initial image, if any.
        let data = unsafe { sys::bpf_map__initial_value(map, &mut total) };
        if data.is_null() {
            return Err(Error::new(format!(
                "{}: {section} is not writable (already loaded?)",
                self.name
            )));
        }
        // SAFETY: `total` bytes that libbpf owns for the object's life and lets us write before
        // load; the slice borrows the object mutably.
        Ok(unsafe { std::slice::from_raw_parts_mut(data as *mut u8, total as usize) })
    }

    /// Does program `prog` call BPF helper `id` (6: bpf_trace_printk)? Read from its
    /// instructions, before load.
    pub fn calls_helper(&self, prog: &str, ids: &[i32]) -> bool {
        let Ok(p) = self.prog_ptr(prog) else {
            return false;
        };
        // SAFETY: a program of this object; libbpf returns its instructions and their count.
        let (insns, n) = unsafe { (sys::bpf_program__insns(p), sys::bpf_program__insn_cnt(p)) };
        if insns.is_null() {
            return false;
        }
        // SAFETY: `n` instructions at `insns`, owned by the program.
        let insns = unsafe { std::slice::from_raw_parts(insns, n as usize) };
        insns.iter().any(|i| {
            // A helper call: BPF_JMP | BPF_CALL with src_reg 0 (1 and 2 are bpf-to-bpf and
            // kfunc calls).
            i.code == (sys::BPF_JMP | sys::BPF_CALL) as u8
                && i.src_reg() == 0
                && ids.contains(&i.imm)
        })
    }

    /// What the object declares of each map: (name, [`MapDecl`]), in order.
    pub fn map_decls(&self) -> Vec<(String, MapDecl)> {
        let decl = |m: *mut sys::bpf_map| {
            // SAFETY: a valid map of this object; its name is a NUL-terminated string it owns.
            unsafe {
                let name = CStr::from_ptr(sys::bpf_map__name(m));
                let d = MapDecl {
                    ty: sys::bpf_map__type(m),
                    key_size: sys::bpf_map__key_size(m),
                    value_size: sys::bpf_map__value_size(m),
                    max_entries: sys::bpf_map__max_entries(m),
                    key_type: sys::bpf_map__btf_key_type_id(m),
                    value_type: sys::bpf_map__btf_value_type_id(m),
                    internal: sys::bpf_map__is_internal(m),
                };
                (name.to_string_lossy().into_owned(), d)
            }
        };
        self.raw_maps().into_iter().map(decl).collect()
    }

    /// Writes `value` over the `const volatile` global `var` in `.rodata`: the tool's options,
    /// fixed before load so the verifier prunes what they turn off. The size must match the
    /// C variable's, which catches a Rust struct that drifted from its C twin.
    pub fn set_rodata<T: Pod>(&mut self, var: &str, value: &T) -> Result<()> {
        let bytes = pod::bytes_of(value);
        let (offset, size) = self
            .btf()
            .and_then(|b| b.var_in_section(".rodata", var))
            .ok_or_else(|| Error::new(format!("{}: no variable {var} in .rodata", self.name)))?;
        if size != bytes.len() {
            return Err(Error::new(format!(
                "{}: .rodata variable {var} is {size} bytes in BPF but {} in Rust",
                self.name,
                bytes.len()
            )));
        }
        let map = self.map_ptr(".rodata")?;
        let mut total: sys::size_t = 0;
        // SAFETY: `map` belongs to this unloaded object; libbpf returns its initial image.
        let data = unsafe { sys::bpf_map__initial_value(map, &mut total) };
        if data.is_null() || offset + size > total as usize {
            return Err(Error::new(format!(
                "{}: .rodata is not writable before load",
                self.name
            )));
        }
        // SAFETY: offset + size lies inside the `total` bytes of the map's initial value, which
        // libbpf owns and lets us write before load; `bytes` is exactly `size` bytes.
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), (data as *mut u8).add(offset), size);
        }
        Ok(())
    }

    /// [`Object::set_rodata`] of the tool's options, the global `config`.
    pub fn set_config<T: Pod>(&mut self, value: &T) -> Result<()> {
        self.set_rodata("config", value)
    }

    fn map_ptr(&self, name: &str) -> Result<*mut sys::bpf_map> {
        let c = cstring(name)?;
        // SAFETY: valid object and NUL-terminated name.
        let map = unsafe { sys::bpf_object__find_map_by_name(self.raw.as_ptr(), c.as_ptr()) };
        if map.is_null() {
            return Err(Error::new(format!("{}: no map named {name}", self.name)));
        }
        Ok(map)
    }

    /// Is the spare of the drained hash map `name` the one in use (maps::drain_hash)?
    pub(crate) fn spare_live(&self, name: &str) -> bool {
        self.spare_live.borrow().iter().any(|n| n == name)
    }

    /// After a swap: the other map of `name` is the one in use.
    pub(crate) fn swapped(&self, name: &str) {
        let mut names = self.spare_live.borrow_mut();
        match names.iter().position(|n| n == name) {
            Some(i) => drop(names.swap_remove(i)),
            None => names.push(name.to_string()),
        }
    }

    /// Does the object define a map of this name?
    pub fn has_map(&self, name: &str) -> bool {
        self.map_ptr(name).is_ok()
    }

    fn prog_ptr(&self, name: &str) -> Result<*mut sys::bpf_program> {
        let c = cstring(name)?;
        // SAFETY: valid object and NUL-terminated name.
        let prog = unsafe { sys::bpf_object__find_program_by_name(self.raw.as_ptr(), c.as_ptr()) };
        if prog.is_null() {
            return Err(Error::new(format!(
                "{}: no program named {name}",
                self.name
            )));
        }
        Ok(prog)
    }

    /// Every element libbpf's iterator `next` yields, from the first (`next(null)`) on.
    fn walk<P>(next: impl Fn(*mut P) -> *mut P) -> Vec<*mut P> {
        let mut all = Vec::new();
        let mut p = next(std::ptr::null_mut());
        while !p.is_null() {
            all.push(p);
            p = next(p);
        }
        all
    }

    /// The object's own programs, in order.
    fn raw_programs(&self) -> Vec<*mut sys::bpf_program> {
        let obj = self.raw.as_ptr();
        // SAFETY: iterating the object's own programs; the argument is null or one of them.
        Self::walk(|p| unsafe { sys::bpf_object__next_program(obj, p) })
    }

    /// The object's own maps, in order.
    fn raw_maps(&self) -> Vec<*mut sys::bpf_map> {
        let obj = self.raw.as_ptr();
        // SAFETY: iterating the object's own maps; the argument is null or one of them.
        Self::walk(|m| unsafe { sys::bpf_object__next_map(obj, m) })
    }

    /// The names and section names of every program in the object.
    pub fn programs(&self) -> Vec<(String, String)> {
        let progs = self.raw_programs();
        let text = |s: *const std::ffi::c_char| {
            // SAFETY: a valid program's name and section are NUL-terminated strings it owns.
            unsafe { CStr::from_ptr(s) }.to_string_lossy().into_owned()
        };
        // SAFETY (both calls): `p` is a valid program of this object.
        let named = |p: *mut sys::bpf_program| unsafe {
            (
                text(sys::bpf_program__name(p)),
                text(sys::bpf_program__section_name(p)),
            )
        };
        progs.into_iter().map(named).collect()
    }

    /// The names and types of every map in the object.
    pub fn maps(&self) -> Vec<(String, u32)> {
        let maps = self.raw_maps();
        let named = |m: *mut sys::bpf_map| {
            // SAFETY: `m` is a valid map of this object; its name is a NUL-terminated string
            // it owns.
            let name = unsafe { CStr::from_ptr(sys::bpf_map__name(m)) };
            // SAFETY: a valid map.
            let ty = unsafe { sys::bpf_map__type(m) };
            (name.to_string_lossy().into_owned(), ty)
        };
        maps.into_iter().map(named).collect()
    }

    /// Ok for a libbpf return code of 0, else the error (`-rc`) of what `what` says failed.
    fn check(&self, rc: i32, what: impl FnOnce() -> String) -> Result<()> {
        if rc == 0 {
            return Ok(());
        }
        Err(Error::os(format!("{}: {}", self.name, what()), -rc))
    }

    /// Sets a map's size before load (ring buffer bytes, table entries).
    pub fn set_max_entries(&mut self, map: &str, entries: u32) -> Result<()> {
        let m = self.map_ptr(map)?;
        // SAFETY: a map of this unloaded object.
        let rc = unsafe { sys::bpf_map__set_max_entries(m, entries) };
        self.check(rc, || format!("cannot size map {map}"))
    }

    /// The size a map was declared (or set) with.
    pub fn max_entries(&self, map: &str) -> Result<u32> {
        // SAFETY: a map of this object.
        Ok(unsafe { sys::bpf_map__max_entries(self.map_ptr(map)?) })
    }

    /// Will the program be loaded? False for a program libbpf was told to leave out, and
    /// for one whose section starts with `?` (libbpf's "not by default"), until set.
    pub fn autoload(&self, prog: &str) -> bool {
        // SAFETY: a program of this object.
        self.prog_ptr(prog)
            .is_ok_and(|p| unsafe { sys::bpf_program__autoload(p) })
    }

    /// Leaves a program out of the load (a hook this kernel lacks, a path not chosen).
    pub fn set_autoload(&mut self, prog: &str, load: bool) -> Result<()> {
        let p = self.prog_ptr(prog)?;
        // SAFETY: a program of this unloaded object.
        let rc = unsafe { sys::bpf_program__set_autoload(p, load) };
        self.check(rc, || format!("cannot set autoload of {prog}"))
    }

    /// Loads every program and map into the kernel. On failure the error names the fix and,
    /// for a verifier rejection, carries the log's tail as detail.
    pub fn load(&mut self) -> Result<()> {
        *CAPTURE.lock().unwrap_or_else(|p| p.into_inner()) = Some(Vec::new());
        // SAFETY: a valid, not yet loaded object.
        let rc = unsafe { sys::bpf_object__load(self.raw.as_ptr()) };
        let lines = CAPTURE
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .unwrap_or_default();
        if rc == 0 {
            return Ok(());
        }
        Err(self.load_error(-rc, &lines))
    }

    /// What the verifier wrote while loading (empty if it wrote nothing).
    pub fn verifier_log(&self) -> String {
        let end = self
            .log_buf
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(self.log_buf.len());
        String::from_utf8_lossy(&self.log_buf[..end]).into_owned()
    }

    fn load_error(&self, errno: i32, libbpf_lines: &[String]) -> Error {
        let what = format!("{}: loading the BPF programs failed", self.name);
        if let Some(why) = probe::btf_missing() {
            return Error::os(format!("{what}: {why}"), errno)
                .code(EXIT_UNSUPPORTED)
                .hint(probe::no_btf_fix());
        }
        let log = self.verifier_log();
        let tail_of =
            |lines: Vec<&str>| lines[lines.len().saturating_sub(VERIFIER_TAIL)..].join("\n");
        if !log.trim().is_empty() {
            // libbpf names the program it could not load; the log is that program's.
            let prog = libbpf_lines
                .iter()
                .find_map(|l| {
                    let l = l.strip_prefix("libbpf: ").unwrap_or(l);
                    l.strip_prefix("prog '")?
                        .split_once("': BPF program load failed")
                })
                .map_or_else(|| "a program".to_string(), |(p, _)| format!("program {p}"));
            // The verifier's EACCES is no missing privilege: the program is at fault.
            return Error::os(format!("{what} (the verifier rejected {prog})"), errno)
                .code(crate::error::EXIT_FAILURE)
                .hint("run with -v for the verifier log's tail; the kernel may be older than 5.10 or lack a helper")
                .detail(tail_of(log.lines().collect()));
        }
        Error::os(what, errno).detail(tail_of(libbpf_lines.iter().map(String::as_str).collect()))
    }

    /// Attaches a program to a tracepoint (tracefs `events/<category>/<name>`).
    pub fn attach_tracepoint(&mut self, prog: &str, category: &str, name: &str) -> Result<()> {
        self.attach_tracepoint_cookie(prog, category, name, 0)
    }

    /// [`Object::attach_tracepoint`] with a BPF cookie on the link (0: none; others need 5.15).
    pub fn attach_tracepoint_cookie(
        &mut self,
        prog: &str,
        category: &str,
        name: &str,
        cookie: u64,
    ) -> Result<()> {
        let p = self.prog_ptr(prog)?;
        let (c, n) = (cstring(category)?, cstring(name)?);
        let opts = sys::bpf_tracepoint_opts {
            sz: std::mem::size_of::<sys::bpf_tracepoint_opts>() as sys::size_t,
            bpf_cookie: cookie,
        };
        // SAFETY: a program of this loaded object, NUL-terminated names and valid options.
        let link =
            unsafe { sys::bpf_program__attach_tracepoint_opts(p, c.as_ptr(), n.as_ptr(), &opts) };
        self.keep_link(link, &format!("tracepoint {category}:{name}"), || {
            if probe::tracefs_root().is_none() {
                "mount tracefs: mount -t tracefs tracefs /sys/kernel/tracing (CONFIG_TRACING)"
                    .to_string()
            } else {
                format!(
                    "the kernel has no tracepoint {category}:{name}: enable {}",
                    probe::tracepoint_config(category)
                )
            }
        })
    }

    /// Attaches a program to a raw tracepoint by name (`raw_tp`).
    pub fn attach_raw_tp(&mut self, prog: &str, name: &str) -> Result<()> {
        let p = self.prog_ptr(prog)?;
        let n = cstring(name)?;
        // SAFETY: a program of this loaded object and a NUL-terminated name.
        let link = unsafe { sys::bpf_program__attach_raw_tracepoint(p, n.as_ptr()) };
        self.keep_link(link, &format!("raw tracepoint {name}"), || {
            format!("the kernel has no tracepoint {name} (CONFIG_TRACEPOINTS)")
        })
    }

    /// Attaches a program whose target was fixed at load (tp_btf, fentry, fexit).
    pub fn attach_trace(&mut self, prog: &str, what: &str) -> Result<()> {
        let p = self.prog_ptr(prog)?;
        // SAFETY: a program of this loaded object.
        let link = unsafe { sys::bpf_program__attach_trace(p) };
        self.keep_link(link, what, || {
            format!("the kernel cannot attach {what}: it needs BPF trampolines (x86_64, arm64 from 6.0) and kernel BTF")
        })
    }

    /// Attaches a kprobe (or, with `ret`, a kretprobe) on kernel function `func`.
    pub fn attach_kprobe(&mut self, prog: &str, func: &str, ret: bool) -> Result<()> {
        let p = self.prog_ptr(prog)?;
        let f = cstring(func)?;
        // SAFETY: a program of this loaded object and a NUL-terminated function name.
        let link = unsafe { sys::bpf_program__attach_kprobe(p, ret, f.as_ptr()) };
        let what = format!("{} {func}", if ret { "kretprobe" } else { "kprobe" });
        self.keep_link(link, &what, || {
            if probe::kprobes_supported() {
                format!("kernel function {func} cannot be probed (inlined, renamed, notrace or blacklisted)")
            } else {
                "enable CONFIG_KPROBES and CONFIG_KPROBE_EVENTS".to_string()
            }
        })
    }

    /// Attaches a uprobe (or uretprobe) on function `func` of the ELF file `path`, in every
    /// process (`pid` None) or one. libbpf resolves the symbol from the file's symbol tables;
    /// `0x<hex>` is a file offset instead.
    pub fn attach_uprobe(
        &mut self,
        prog: &str,
        path: &str,
        func: &str,
        ret: bool,
        pid: Option<u32>,
    ) -> Result<()> {
        self.attach_uprobe_cookie(prog, path, func, ret, pid, 0)
    }

    /// [`Object::attach_uprobe`] with a BPF cookie on the link (0: none; others need 5.15).
    pub fn attach_uprobe_cookie(
        &mut self,
        prog: &str,
        path: &str,
        func: &str,
        ret: bool,
        pid: Option<u32>,
        cookie: u64,
    ) -> Result<()> {
        let p = self.prog_ptr(prog)?;
        let (cpath, cfunc) = (cstring(path)?, cstring(func)?);
        // `0x...`: a file offset, for code no symbol names (a stripped binary).
        let offset = uprobe_offset(func);
        let opts = UprobeOpts {
            retprobe: ret,
            func_name: if offset.is_some() {
                std::ptr::null()
            } else {
                cfunc.as_ptr()
            },
            bpf_cookie: cookie,
            ..Default::default()
        };
        let pid = pid.map_or(-1, |p| p as i32);
        let off = offset.unwrap_or(0) as sys::size_t;
        // SAFETY: a program of this loaded object; the strings and opts (with the C layout of
        // bpf_uprobe_opts on this target) outlive the call.
        let link = unsafe {
            sys::bpf_program__attach_uprobe_opts(
                p,
                pid,
                cpath.as_ptr(),
                off,
                &opts as *const UprobeOpts as *const sys::bpf_uprobe_opts,
            )
        };
        let what = format!("{} {path}:{func}", if ret { "uretprobe" } else { "uprobe" });
        self.keep_link(link, &what, || {
            format!("{path} has no function {func} in its symbol tables, or the kernel lacks CONFIG_UPROBE_EVENTS")
        })
    }

    /// Attaches a program to an open perf event (one per CPU for sampling). The link takes
    /// the descriptor: libbpf closes it when the link goes (closing it here too closed a
    /// number that may by then be another file's).
    pub fn attach_perf_event(
        &mut self,
        prog: &str,
        fd: std::os::fd::OwnedFd,
        what: &str,
    ) -> Result<()> {
        use std::os::fd::AsRawFd;
        let p = self.prog_ptr(prog)?;
        // SAFETY: a program of this loaded object and an open perf event descriptor.
        let link = unsafe { sys::bpf_program__attach_perf_event(p, fd.as_raw_fd()) };
        self.keep_link(link, what, || {
            "the kernel cannot attach BPF to perf events (CONFIG_PERF_EVENTS, CONFIG_BPF_EVENTS)"
                .to_string()
        })?;
        let _ = std::os::fd::IntoRawFd::into_raw_fd(fd);
        Ok(())
    }

    fn keep_link(
        &mut self,
        link: *mut sys::bpf_link,
        what: &str,
        missing: impl FnOnce() -> String,
    ) -> Result<()> {
        // SAFETY: libbpf_get_error only inspects the pointer value.
        match NonNull::new(link) {
            Some(l) if unsafe { sys::libbpf_get_error(link as *const c_void) } == 0 => {
                self.links.push(l);
                log::debug!("attached {what} ({} programs)", self.name);
                Ok(())
            }
            _ => {
                let errno = errno_of(link as *const c_void);
                let err = Error::os(format!("{}: cannot attach {what}", self.name), errno);
                Err(match errno {
                    libc::ENOENT | libc::ENOTSUP | libc::EINVAL | 524 => {
                        // 524: ENOTSUPP, the kernel's internal "not supported".
                        err.code(EXIT_UNSUPPORTED).hint(missing())
                    }
                    _ => err,
                })
            }
        }
    }

    /// File descriptor of a loaded map.
    pub fn map_fd(&self, name: &str) -> Result<i32> {
        // SAFETY: a map of this object.
        let fd = unsafe { sys::bpf_map__fd(self.map_ptr(name)?) };
        if fd < 0 {
            return Err(Error::new(format!(
                "{}: map {name} is not loaded",
                self.name
            )));
        }
        Ok(fd)
    }

    /// Writes one entry of a loaded map (a table the tool fills before it attaches). `K` and
    /// `V` must have the sizes of the map's key and value, which libbpf checks.
    pub fn map_update<K: Pod, V: Pod>(&self, map: &str, key: &K, value: &V) -> Result<()> {
        let m = self.map_ptr(map)?;
        let (k, v) = (pod::bytes_of(key), pod::bytes_of(value));
        // SAFETY: key and value point to k.len() and v.len() initialized bytes (Pod); libbpf
        // refuses sizes that differ from the map's.
        let rc = unsafe {
            sys::bpf_map__update_elem(
                m,
                k.as_ptr() as *const c_void,
                k.len() as sys::size_t,
                v.as_ptr() as *const c_void,
                v.len() as sys::size_t,
                0,
            )
        };
        self.check(rc, || format!("cannot write map {map}"))
    }

    /// Reads one entry of a loaded map (None: no such key). `K` and `V` must have the sizes
    /// of the map's key and value, which libbpf checks.
    pub fn map_lookup<K: Pod, V: Pod>(&self, map: &str, key: &K) -> Result<Option<V>> {
        let m = self.map_ptr(map)?;
        let k = pod::bytes_of(key);
        let mut v = pod::zeroed::<V>();
        let size = std::mem::size_of::<V>();
        // SAFETY: `k` holds the key's bytes and `v` has room for `size` bytes of a Pod value
        // (any bytes are valid); libbpf refuses sizes that differ from the map's.
        let rc = unsafe {
            sys::bpf_map__lookup_elem(
                m,
                k.as_ptr() as *const c_void,
                k.len() as sys::size_t,
                &mut v as *mut V as *mut c_void,
                size as sys::size_t,
                0,
            )
        };
        match rc {
            0 => Ok(Some(v)),
            e if e == -libc::ENOENT => Ok(None),
            e => Err(Error::os(
                format!("{}: cannot read map {map}", self.name),
                -e,
            )),
        }
    }

    /// Sets the kernel function a tracing program (fentry, fexit) attaches to, before load.
    pub fn set_attach_target(&mut self, prog: &str, func: &str) -> Result<()> {
        let p = self.prog_ptr(prog)?;
        let f = cstring(func)?;
        // SAFETY: a program of this unloaded object and a NUL-terminated name (0: vmlinux).
        let rc = unsafe { sys::bpf_program__set_attach_target(p, 0, f.as_ptr()) };
        if rc != 0 {
            return Err(
                Error::os(format!("{}: cannot aim {prog} at {func}", self.name), -rc)
                    .code(EXIT_UNSUPPORTED),
            );
        }
        Ok(())
    }

    /// Deletes one entry of a loaded map (none there is no error).
    pub fn map_delete<K: Pod>(&self, map: &str, key: &K) -> Result<()> {
        let m = self.map_ptr(map)?;
        let k = pod::bytes_of(key);
        // SAFETY: the key points to k.len() initialized bytes; libbpf checks the size.
        let rc = unsafe {
            sys::bpf_map__delete_elem(m, k.as_ptr() as *const c_void, k.len() as sys::size_t, 0)
        };
        if rc != 0 && -rc != libc::ENOENT {
            return Err(Error::os(
                format!("{}: cannot write map {map}", self.name),
                -rc,
            ));
        }
        Ok(())
    }

    /// The values of every CPU at index `key` of the per-CPU u64 array `map`.
    pub fn percpu_u64(&self, map: &str, key: u32) -> Result<Vec<u64>> {
        let fd = self.map_fd(map)?;
        let cpus = possible_cpus()?;
        // Per-CPU values are padded to 8 bytes each, which a u64 already is.
        let mut values = vec![0u64; cpus];
        // SAFETY: the key is a u32 and `values` has room for one u64 per possible CPU, which
        // is what the kernel writes for a per-CPU array of u64.
        let rc = unsafe {
            sys::bpf_map_lookup_elem(
                fd,
                &key as *const u32 as *const c_void,
                values.as_mut_ptr() as *mut c_void,
            )
        };
        if rc != 0 {
            return Err(Error::os(
                format!("{}: cannot read map {map}", self.name),
                last_errno(),
            ));
        }
        Ok(values)
    }

    /// Sum over CPUs of a per-CPU u64 counter at index `key` of `map`.
    pub fn percpu_u64_sum(&self, map: &str, key: u32) -> Result<u64> {
        Ok(self.percpu_u64(map, key)?.iter().sum())
    }

    /// Events the BPF side could not put in the ring buffer (see `DEFINE_EVENTS_RINGBUF`).
    pub fn lost_events(&self) -> u64 {
        self.percpu_u64_sum("lost_events", 0).unwrap_or(0)
    }

    /// The descriptors of the attached kprobe and kretprobe links, on kernels whose link info
    /// says so (6.6 on; the count of dropped hits from 6.7).
    pub fn kprobe_links(&self) -> Vec<std::os::fd::RawFd> {
        self.links
            .iter()
            // SAFETY: a link this object attached and still holds.
            .map(|l| unsafe { sys::bpf_link__fd(l.as_ptr()) })
            .filter(|&fd| fd >= 0 && link_kprobe_missed(fd).is_some())
            .collect()
    }

    /// Hits the kernel dropped on `links` (from [`Object::kprobe_links`]) so far: returns of a
    /// kretprobe whose instances were all held by calls in progress, a probe hit while
    /// another ran.
    pub fn kprobe_missed(&self, links: &[std::os::fd::RawFd]) -> u64 {
        links.iter().filter_map(|&fd| link_kprobe_missed(fd)).sum()
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Ids of the loaded programs (for their run-time statistics).
    pub fn prog_ids(&self) -> Vec<u32> {
        let loaded = |p: *mut sys::bpf_program| {
            // SAFETY: a valid program of this object; fd is -1 when it was not loaded.
            let fd = unsafe { sys::bpf_program__fd(p) };
            (fd >= 0)
                .then(|| prog_info(fd))
                .flatten()
                .map(|info| info.id)
        };
        self.raw_programs().into_iter().filter_map(loaded).collect()
    }
}

/// The kernel's information on a loaded program (run time and count with bpf stats on).
pub fn prog_info(fd: i32) -> Option<sys::bpf_prog_info> {
    let mut info = sys::bpf_prog_info::default();
    let mut len = std::mem::size_of::<sys::bpf_prog_info>() as u32;
    // SAFETY: `info` is a zeroed bpf_prog_info of `len` bytes that the kernel fills.
    let rc =
        unsafe { sys::bpf_prog_get_info_by_fd(fd, &mut info as *mut sys::bpf_prog_info, &mut len) };
    (rc == 0).then_some(info)
}

/// How many CPUs the kernel may ever bring up (the length of per-CPU map values).
pub fn possible_cpus() -> Result<usize> {
    // SAFETY: no arguments; libbpf reads /sys/devices/system/cpu/possible.
    let cpus = unsafe { sys::libbpf_num_possible_cpus() };
    if cpus <= 0 {
        return Err(Error::os("cannot count possible CPUs", -cpus));
    }
    Ok(cpus as usize)
}

/// The count of dropped hits in the info of link `fd`, if it is a kprobe or kretprobe link
/// on a kernel that says so (6.6 on; before, a perf-event link's info has no kind).
fn link_kprobe_missed(fd: std::os::fd::RawFd) -> Option<u64> {
    // SAFETY: bpf_link_info is plain data, all zero a valid value.
    let mut info: sys::bpf_link_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<sys::bpf_link_info>() as u32;
    // SAFETY: `info` has room for `len` bytes; the kernel writes at most that.
    let rc = unsafe { sys::bpf_link_get_info_by_fd(fd, &mut info, &mut len) };
    if rc != 0 || info.type_ != sys::BPF_LINK_TYPE_PERF_EVENT {
        return None;
    }
    // SAFETY: a perf-event link's info fills the perf_event member of the union, and its
    // kprobe member for the kprobe types.
    let pe = unsafe { info.__bindgen_anon_1.perf_event };
    if pe.type_ != sys::BPF_PERF_EVENT_KPROBE && pe.type_ != sys::BPF_PERF_EVENT_KRETPROBE {
        return None;
    }
    // SAFETY: as above. (6.6 fills the kind but not yet the count: 0.)
    Some(unsafe { pe.__bindgen_anon_1.kprobe.missed })
}

/// Destroys links, each in its own thread when there are several: detaching a tracepoint link
/// waits for an RCU grace period in the kernel (tens of milliseconds each, measured); links
/// detached one after another add them up (1.2 s for filewatch's 18 links), so the waits
/// overlap.
fn destroy_links(links: Vec<usize>) {
    // SAFETY: each pointer is a link an object created and gave up, destroyed exactly once.
    let destroy = |l: usize| unsafe {
        sys::bpf_link__destroy(l as *mut sys::bpf_link);
    };
    if links.len() > 2 {
        std::thread::scope(|s| {
            for &l in &links {
                // Without a thread (out of memory, limits), the link goes here and now.
                if std::thread::Builder::new()
                    .spawn_scoped(s, move || destroy(l))
                    .is_err()
                {
                    destroy(l);
                }
            }
        });
    } else {
        links.into_iter().for_each(destroy);
    }
}

impl Object {
    /// Detaches the programs of several objects at once (all their links in parallel), for a
    /// process that runs several tools and ends them together.
    pub fn detach_all(objects: &mut [&mut Object]) {
        let links: Vec<usize> = objects
            .iter_mut()
            .flat_map(|o| o.links.drain(..).map(|l| l.as_ptr() as usize))
            .collect();
        destroy_links(links);
    }
}

impl Drop for Object {
    fn drop(&mut self) {
        destroy_links(self.links.drain(..).map(|l| l.as_ptr() as usize).collect());
        // SAFETY: the object is valid and closed once; its links are gone.
        unsafe { sys::bpf_object__close(self.raw.as_ptr()) };
    }
}
