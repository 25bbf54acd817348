//! A small safe layer over libbpf: open an embedded object, set its options, load, attach.

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::ptr::NonNull;
use std::sync::Mutex;

use libbpf_sys as sys;

use crate::btf::{Btf, Layout};
use crate::error::{libc_errno, Error, Result, EXIT_UNSUPPORTED};
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
}

unsafe extern "C" fn libbpf_print(
    level: sys::libbpf_print_level,
    fmt: *const c_char,
    ap: *mut sys::__va_list_tag,
) -> c_int {
    let mut buf = [0u8; 1024];
    let n = vsnprintf(buf.as_mut_ptr() as *mut c_char, buf.len(), fmt, ap);
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
    unsafe {
        sys::libbpf_set_print(Some(libbpf_print));
    }
}

fn errno_of(ptr: *const c_void) -> i32 {
    let e = unsafe { sys::libbpf_get_error(ptr) };
    if e != 0 {
        (-e) as i32
    } else {
        std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc_errno::EINVAL)
    }
}

fn cstring(s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::new(format!("name with a NUL byte: {s:?}")))
}

/// An open (and, after [`Object::load`], loaded) BPF object with its attached links.
pub struct Object {
    raw: NonNull<sys::bpf_object>,
    name: String,
    links: Vec<NonNull<sys::bpf_link>>,
    /// Receives the verifier log. Allocated zeroed, so pages the kernel never writes cost no
    /// memory; libbpf keeps a pointer to it for the object's life.
    log_buf: Vec<u8>,
}

/// Size of the verifier log buffer: enough for the tail of a rejected program's log.
const LOG_BUF_SIZE: usize = 4 << 20;

impl Object {
    /// Opens an object embedded in the binary. Nothing touches the kernel yet.
    pub fn open(name: &str, bytes: &'static [u8]) -> Result<Object> {
        let cname = cstring(name)?;
        let mut log_buf = vec![0u8; LOG_BUF_SIZE];
        let opts = sys::bpf_object_open_opts {
            sz: std::mem::size_of::<sys::bpf_object_open_opts>() as sys::size_t,
            object_name: cname.as_ptr(),
            kernel_log_buf: log_buf.as_mut_ptr() as *mut c_char,
            kernel_log_size: LOG_BUF_SIZE as sys::size_t,
            ..Default::default()
        };
        let raw = unsafe {
            sys::bpf_object__open_mem(
                bytes.as_ptr() as *const c_void,
                bytes.len() as sys::size_t,
                &opts,
            )
        };
        let raw = NonNull::new(raw).ok_or_else(|| {
            Error::os(
                format!("{name}: cannot open the embedded BPF object"),
                errno_of(raw as *const c_void),
            )
        })?;
        Ok(Object {
            raw,
            name: name.to_string(),
            links: Vec::new(),
            log_buf,
        })
    }

    /// The object's own BTF (the types the BPF C declared).
    pub fn btf(&self) -> Option<Btf<'_>> {
        let raw = unsafe { sys::bpf_object__btf(self.raw.as_ptr()) };
        (!raw.is_null()).then(|| unsafe { Btf::from_raw(raw) })
    }

    /// Layout of a struct declared by the BPF program.
    pub fn struct_layout(&self, name: &str) -> Option<Layout> {
        self.btf()?.struct_layout(name)
    }

    /// Writes `value` over the `const volatile` global `var` in `.rodata`: the tool's options,
    /// fixed before load so the verifier prunes what they turn off. The size must match the
    /// C variable's, which catches a Rust struct that drifted from its C twin.
    pub fn set_rodata<T: Copy>(&mut self, var: &str, value: &T) -> Result<()> {
        let (offset, size) = self
            .btf()
            .and_then(|b| b.var_in_section(".rodata", var))
            .ok_or_else(|| Error::new(format!("{}: no variable {var} in .rodata", self.name)))?;
        if size != std::mem::size_of::<T>() {
            return Err(Error::new(format!(
                "{}: .rodata variable {var} is {size} bytes in BPF but {} in Rust",
                self.name,
                std::mem::size_of::<T>()
            )));
        }
        let map = self.map_ptr(".rodata")?;
        let mut total: sys::size_t = 0;
        let data = unsafe { sys::bpf_map__initial_value(map, &mut total) };
        if data.is_null() || offset + size > total as usize {
            return Err(Error::new(format!(
                "{}: .rodata is not writable before load",
                self.name
            )));
        }
        unsafe {
            std::ptr::copy_nonoverlapping(
                value as *const T as *const u8,
                (data as *mut u8).add(offset),
                size,
            );
        }
        Ok(())
    }

    fn map_ptr(&self, name: &str) -> Result<*mut sys::bpf_map> {
        let c = cstring(name)?;
        let map = unsafe { sys::bpf_object__find_map_by_name(self.raw.as_ptr(), c.as_ptr()) };
        if map.is_null() {
            return Err(Error::new(format!("{}: no map named {name}", self.name)));
        }
        Ok(map)
    }

    fn prog_ptr(&self, name: &str) -> Result<*mut sys::bpf_program> {
        let c = cstring(name)?;
        let prog = unsafe { sys::bpf_object__find_program_by_name(self.raw.as_ptr(), c.as_ptr()) };
        if prog.is_null() {
            return Err(Error::new(format!(
                "{}: no program named {name}",
                self.name
            )));
        }
        Ok(prog)
    }

    /// Sets a map's size before load (ring buffer bytes, table entries).
    pub fn set_max_entries(&mut self, map: &str, entries: u32) -> Result<()> {
        let m = self.map_ptr(map)?;
        let rc = unsafe { sys::bpf_map__set_max_entries(m, entries) };
        if rc != 0 {
            return Err(Error::os(
                format!("{}: cannot size map {map}", self.name),
                -rc,
            ));
        }
        Ok(())
    }

    /// Leaves a program out of the load (a hook this kernel lacks, a path not chosen).
    pub fn set_autoload(&mut self, prog: &str, load: bool) -> Result<()> {
        let p = self.prog_ptr(prog)?;
        let rc = unsafe { sys::bpf_program__set_autoload(p, load) };
        if rc != 0 {
            return Err(Error::os(
                format!("{}: cannot set autoload of {prog}", self.name),
                -rc,
            ));
        }
        Ok(())
    }

    /// Loads every program and map into the kernel. On failure the error names the fix and,
    /// for a verifier rejection, carries the log's tail as detail.
    pub fn load(&mut self) -> Result<()> {
        *CAPTURE.lock().unwrap() = Some(Vec::new());
        let rc = unsafe { sys::bpf_object__load(self.raw.as_ptr()) };
        let lines = CAPTURE.lock().unwrap().take().unwrap_or_default();
        if rc == 0 {
            return Ok(());
        }
        Err(self.load_error(-rc, &lines))
    }

    fn verifier_log(&self) -> String {
        let end = self
            .log_buf
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(self.log_buf.len());
        String::from_utf8_lossy(&self.log_buf[..end]).into_owned()
    }

    fn load_error(&self, errno: i32, libbpf_lines: &[String]) -> Error {
        let what = format!("{}: loading the BPF programs failed", self.name);
        if !probe::btf_present() {
            return Error::os(what, errno).code(EXIT_UNSUPPORTED).hint(
                "this kernel exposes no BTF (/sys/kernel/btf/vmlinux): build it with CONFIG_DEBUG_INFO_BTF=y \
                 (needs pahole on the build host)",
            );
        }
        let log = self.verifier_log();
        let tail_of =
            |lines: Vec<&str>| lines[lines.len().saturating_sub(VERIFIER_TAIL)..].join("\n");
        if !log.trim().is_empty() {
            return Error::os(format!("{what} (the verifier rejected a program)"), errno)
                .hint("run with -v for the verifier log's tail; the kernel may be older than 5.10 or lack a helper")
                .detail(tail_of(log.lines().collect()));
        }
        Error::os(what, errno).detail(tail_of(libbpf_lines.iter().map(String::as_str).collect()))
    }

    /// Attaches a program to a tracepoint (tracefs `events/<category>/<name>`).
    pub fn attach_tracepoint(&mut self, prog: &str, category: &str, name: &str) -> Result<()> {
        let p = self.prog_ptr(prog)?;
        let (c, n) = (cstring(category)?, cstring(name)?);
        let link = unsafe { sys::bpf_program__attach_tracepoint(p, c.as_ptr(), n.as_ptr()) };
        self.keep_link(link, &format!("tracepoint {category}:{name}"), || {
            if probe::tracefs_root().is_none() {
                "mount tracefs: mount -t tracefs tracefs /sys/kernel/tracing (CONFIG_TRACING)".to_string()
            } else {
                format!("the kernel has no tracepoint {category}:{name}: enable CONFIG_FTRACE_SYSCALLS / the subsystem's tracepoints")
            }
        })
    }

    /// Attaches a program the way its SEC() name says (kprobe/..., raw_tp/..., fentry/...).
    pub fn attach_auto(&mut self, prog: &str) -> Result<()> {
        let p = self.prog_ptr(prog)?;
        let section = unsafe { CStr::from_ptr(sys::bpf_program__section_name(p)) }
            .to_string_lossy()
            .into_owned();
        let link = unsafe { sys::bpf_program__attach(p) };
        self.keep_link(link, &section, || {
            format!("the kernel does not support the hook {section}")
        })
    }

    fn keep_link(
        &mut self,
        link: *mut sys::bpf_link,
        what: &str,
        missing: impl FnOnce() -> String,
    ) -> Result<()> {
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
                    libc_errno::ENOENT | libc_errno::ENOTSUP | libc_errno::EINVAL => {
                        err.code(EXIT_UNSUPPORTED).hint(missing())
                    }
                    _ => err,
                })
            }
        }
    }

    /// File descriptor of a loaded map.
    pub fn map_fd(&self, name: &str) -> Result<i32> {
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
    pub fn map_update<K: Copy, V: Copy>(&self, map: &str, key: &K, value: &V) -> Result<()> {
        let m = self.map_ptr(map)?;
        let rc = unsafe {
            sys::bpf_map__update_elem(
                m,
                key as *const K as *const c_void,
                std::mem::size_of::<K>() as sys::size_t,
                value as *const V as *const c_void,
                std::mem::size_of::<V>() as sys::size_t,
                0,
            )
        };
        if rc != 0 {
            return Err(Error::os(
                format!("{}: cannot write map {map}", self.name),
                -rc,
            ));
        }
        Ok(())
    }

    /// Sum over CPUs of a per-CPU u64 counter at index `key` of `map`.
    pub fn percpu_u64_sum(&self, map: &str, key: u32) -> Result<u64> {
        let fd = self.map_fd(map)?;
        let cpus = unsafe { sys::libbpf_num_possible_cpus() };
        if cpus <= 0 {
            return Err(Error::os("cannot count possible CPUs", -cpus));
        }
        // Per-CPU values are padded to 8 bytes each, which a u64 already is.
        let mut values = vec![0u64; cpus as usize];
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
                errno_of(std::ptr::null()),
            ));
        }
        Ok(values.iter().sum())
    }

    /// Events the BPF side could not put in the ring buffer (see `DEFINE_EVENTS_RINGBUF`).
    pub fn lost_events(&self) -> u64 {
        self.percpu_u64_sum("lost_events", 0).unwrap_or(0)
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for Object {
    fn drop(&mut self) {
        // Detaching a tracepoint link waits for an RCU grace period in the kernel (tens of
        // milliseconds each, measured); links detached one after another add them up (1.2 s
        // for filewatch's 18 links), so each goes in its own thread and the waits overlap.
        let links: Vec<usize> = self.links.drain(..).map(|l| l.as_ptr() as usize).collect();
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
        unsafe { sys::bpf_object__close(self.raw.as_ptr()) };
    }
}
