//! Reading BTF: type layouts of a BPF object, and facts of the running kernel.
//!
//! An object's BTF places options at the right offset of `.rodata`, and lets the tests prove
//! each Rust event struct has the same size and field offsets as the C struct the BPF program
//! writes. The kernel's own BTF ([`KernelBtf`]) says what CO-RE cannot: a tracepoint's
//! arguments (their number and order changed between kernels) and the values of enums.
//! [`types`] parses a whole BTF blob in safe code and [`decode`] turns bytes into JSON or text
//! by their BTF type: what `run` needs for objects the user compiled.

pub mod decode;
pub mod types;

use std::ffi::{CStr, CString};

use libbpf_sys as sys;

/// A field of a struct, as the compiler laid it out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    /// Offset in bytes from the start of the struct.
    pub offset: usize,
    /// Size in bytes.
    pub size: usize,
}

/// A struct's size and fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub name: String,
    pub size: usize,
    pub fields: Vec<Field>,
}

impl Layout {
    /// Does the Rust twin `want` (from [`crate::pod!`]) have this C struct's size, field names
    /// and offsets? Err says what differs and how to fix it.
    pub fn check(&self, want: &crate::pod::Layout) -> std::result::Result<(), String> {
        let c: Vec<(&str, usize)> = self
            .fields
            .iter()
            .map(|f| (f.name.as_str(), f.offset))
            .collect();
        let (fields, size) = want.c_shape();
        if c != fields || self.size != size {
            return Err(format!(
                "struct {} differs between C ({} bytes: {c:?}) and Rust ({size} bytes: {fields:?}): \
                 make the Rust pod! declaration match bpf/*.h",
                self.name, self.size
            ));
        }
        Ok(())
    }

    /// Panics unless the struct is `size` bytes and its fields are exactly `fields` (name,
    /// offset), in order: how a tool's test proves that its `#[repr(C)]` twin (sizes and
    /// offsets from `size_of`/`offset_of!`) matches the C struct the BPF side was compiled with.
    pub fn assert_matches(&self, size: usize, fields: &[(&str, usize)]) {
        let c: Vec<(&str, usize)> = self
            .fields
            .iter()
            .map(|f| (f.name.as_str(), f.offset))
            .collect();
        assert_eq!(c, fields, "fields of struct {}", self.name);
        assert_eq!(self.size, size, "sizeof(struct {})", self.name);
    }
}

/// Borrowed view of a `struct btf` owned by libbpf.
pub struct Btf<'a> {
    raw: *const sys::btf,
    _owner: std::marker::PhantomData<&'a ()>,
}

/// The three words every `struct btf_type` starts with.
#[repr(C)]
struct TypeHead {
    name_off: u32,
    info: u32,
    size_or_type: u32,
}

#[repr(C)]
struct Member {
    name_off: u32,
    type_id: u32,
    offset: u32,
}

/// A function prototype's parameter (`struct btf_param`), and an enum's value (`struct
/// btf_enum`): two words each.
#[repr(C)]
struct Pair {
    name_off: u32,
    value: u32,
}

#[repr(C)]
struct VarSecinfo {
    type_id: u32,
    offset: u32,
    size: u32,
}

impl<'a> Btf<'a> {
    /// # Safety
    /// `raw` must be a valid btf pointer that outlives `'a`.
    pub unsafe fn from_raw(raw: *const sys::btf) -> Self {
        Btf {
            raw,
            _owner: std::marker::PhantomData,
        }
    }

    /// The id of `typedef <name>`.
    pub fn typedef_id(&self, name: &str) -> Option<u32> {
        self.find(name, types::TYPEDEF)
    }

    /// The id of function `<name>`.
    pub fn func_id(&self, name: &str) -> Option<u32> {
        self.find(name, types::FUNC)
    }

    fn find(&self, name: &str, kind: u8) -> Option<u32> {
        let c = CString::new(name).ok()?;
        // SAFETY: a valid BTF (see from_raw) and a NUL-terminated name.
        let id = unsafe { sys::btf__find_by_name_kind(self.raw, c.as_ptr(), kind.into()) };
        (id > 0).then_some(id as u32)
    }

    fn head(&self, id: u32) -> &TypeHead {
        // SAFETY: `id` came from this BTF, so btf__type_by_id returns a valid btf_type, which
        // starts with the three words of TypeHead and lives as long as the BTF.
        unsafe { &*(sys::btf__type_by_id(self.raw, id) as *const TypeHead) }
    }

    fn name(&self, off: u32) -> String {
        // SAFETY: a valid BTF; the offset comes from one of its types.
        let p = unsafe { sys::btf__name_by_offset(self.raw, off) };
        if p.is_null() {
            return String::new();
        }
        // SAFETY: non-null names of the BTF string section are NUL-terminated.
        unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
    }

    fn vlen(&self, id: u32) -> usize {
        (self.head(id).info & 0xffff) as usize
    }

    fn kind(&self, id: u32) -> u8 {
        ((self.head(id).info >> 24) & 0x1f) as u8
    }

    /// The layout of `struct <name>`, or None if the object has no such struct.
    pub fn struct_layout(&self, name: &str) -> Option<Layout> {
        let id = self
            .find(name, types::STRUCT)
            .or_else(|| self.find(name, types::UNION))?;
        let head = self.head(id);
        let kflag = head.info >> 31 == 1;
        // SAFETY: a struct or union type is followed by vlen btf_member records (three words
        // each, as Member), all inside the BTF's type section.
        let members = unsafe {
            let first = (head as *const TypeHead).add(1) as *const Member;
            std::slice::from_raw_parts(first, self.vlen(id))
        };
        let fields = members
            .iter()
            .map(|m| {
                let bits = if kflag {
                    m.offset & 0xff_ffff
                } else {
                    m.offset
                };
                Field {
                    name: self.name(m.name_off),
                    offset: (bits / 8) as usize,
                    // SAFETY: a valid BTF and one of its type ids.
                    size: unsafe { sys::btf__resolve_size(self.raw, m.type_id) }.max(0) as usize,
                }
            })
            .collect();
        Some(Layout {
            name: name.to_string(),
            size: head.size_or_type as usize,
            fields,
        })
    }

    /// The `vlen` two-word records after type `id` (parameters, enum values).
    fn pairs(&self, id: u32) -> &[Pair] {
        let head = self.head(id);
        // SAFETY: FUNC_PROTO and ENUM types are followed by vlen two-word records (btf_param,
        // btf_enum), all inside the BTF's type section, which lives as long as the BTF.
        unsafe {
            std::slice::from_raw_parts(
                (head as *const TypeHead).add(1) as *const Pair,
                self.vlen(id),
            )
        }
    }

    /// `id` with typedefs and modifiers (const, volatile) skipped.
    fn resolve(&self, id: u32) -> u32 {
        // SAFETY: a valid BTF and one of its type ids.
        let r = unsafe { sys::btf__resolve_type(self.raw, id) };
        if r > 0 {
            r as u32
        } else {
            id
        }
    }

    /// Where `struct <name> *` is among the arguments of tracepoint `tp` (0 = the first,
    /// after the hidden `void *__data`), read from the kernel's prototype for BTF-typed
    /// programs, `typedef void (*btf_trace_<tp>)(void *, ...)`. None if this BTF has no such
    /// prototype or no such argument.
    pub fn tracepoint_arg(&self, tp: &str, name: &str) -> Option<usize> {
        let id = self.find(&format!("btf_trace_{tp}"), types::TYPEDEF)?;
        let ptr = self.resolve(id);
        if self.kind(ptr) != types::PTR {
            return None;
        }
        let proto = self.resolve(self.head(ptr).size_or_type);
        if self.kind(proto) != types::FUNC_PROTO {
            return None;
        }
        self.pairs(proto).iter().skip(1).position(|p| {
            let t = self.resolve(p.value);
            if self.kind(t) != types::PTR {
                return false;
            }
            let s = self.resolve(self.head(t).size_or_type);
            self.kind(s) == types::STRUCT && self.name(self.head(s).name_off) == name
        })
    }

    /// The names and values of `enum <name>`, or None if this BTF has no such enum.
    pub fn enum_values(&self, name: &str) -> Option<Vec<(String, i64)>> {
        let id = self.find(name, types::ENUM)?;
        Some(
            self.pairs(id)
                .iter()
                .map(|p| (self.name(p.name_off), p.value as i32 as i64))
                .collect(),
        )
    }

    /// Offset and size of global variable `var` inside data section `section` (".rodata").
    pub fn var_in_section(&self, section: &str, var: &str) -> Option<(usize, usize)> {
        let id = self.find(section, types::DATASEC)?;
        let head = self.head(id);
        // SAFETY: a DATASEC type is followed by vlen btf_var_secinfo records (as VarSecinfo).
        let vars = unsafe {
            let first = (head as *const TypeHead).add(1) as *const VarSecinfo;
            std::slice::from_raw_parts(first, self.vlen(id))
        };
        vars.iter()
            .find(|v| {
                self.kind(v.type_id) == types::VAR
                    && self.name(self.head(v.type_id).name_off) == var
            })
            .map(|v| (v.offset as usize, v.size as usize))
    }
}

/// The running kernel's BTF, parsed (`/sys/kernel/btf/vmlinux`, or the BTF shipped for this
/// kernel: see [`crate::probe::custom_btf`]). Some megabytes while it lives: drop it before
/// loading programs, when libbpf parses its own copy.
pub struct KernelBtf {
    raw: std::ptr::NonNull<sys::btf>,
}

impl KernelBtf {
    /// The BTF CO-RE relocates against: the shipped file if one is set (see
    /// [`crate::probe::custom_btf`]), else the kernel's own. None if there is none (or it does
    /// not parse).
    pub fn load() -> Option<KernelBtf> {
        match crate::probe::custom_btf_cstr() {
            // SAFETY: a NUL-terminated path; no base BTF.
            Some(path) => {
                Self::own(unsafe { sys::btf__parse(path.as_ptr(), std::ptr::null_mut()) })
            }
            None => Self::vmlinux(),
        }
    }

    /// The kernel's own BTF (`/sys/kernel/btf/vmlinux`): what BTF-typed programs attach by.
    pub fn vmlinux() -> Option<KernelBtf> {
        // SAFETY: no arguments; libbpf reads /sys/kernel/btf/vmlinux (or other known paths).
        Self::own(unsafe { sys::btf__load_vmlinux_btf() })
    }

    fn own(raw: *mut sys::btf) -> Option<KernelBtf> {
        // libbpf returns NULL on error (an error-encoded pointer in old versions).
        // SAFETY: libbpf_get_error only inspects the pointer value.
        if raw.is_null() || unsafe { sys::libbpf_get_error(raw as *const _) } != 0 {
            return None;
        }
        std::ptr::NonNull::new(raw).map(|raw| KernelBtf { raw })
    }

    pub fn view(&self) -> Btf<'_> {
        // SAFETY: owned and valid until drop, which the borrow cannot outlive.
        unsafe { Btf::from_raw(self.raw.as_ptr()) }
    }
}

impl Drop for KernelBtf {
    fn drop(&mut self) {
        // SAFETY: parsed by us, freed once.
        unsafe { sys::btf__free(self.raw.as_ptr()) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against this machine's kernel (skipped without BTF): prototypes and enums read right.
    #[test]
    fn tracepoint_arguments_and_enums_of_the_running_kernel() {
        let Some(k) = KernelBtf::load() else {
            eprintln!("skipped: no kernel BTF here");
            return;
        };
        let b = k.view();
        // sched_switch(bool preempt, struct task_struct *prev, struct task_struct *next, ...)
        assert_eq!(b.tracepoint_arg("sched_switch", "task_struct"), Some(1));
        assert_eq!(b.tracepoint_arg("sched_switch", "no_such_struct"), None);
        assert_eq!(b.tracepoint_arg("no_such_tracepoint", "task_struct"), None);
        if b.tracepoint_arg("block_rq_complete", "request").is_some() {
            assert_eq!(b.tracepoint_arg("block_rq_complete", "request"), Some(0));
        }
        let states = b.enum_values("bpf_map_type").expect("enum bpf_map_type");
        assert!(states.contains(&("BPF_MAP_TYPE_RINGBUF".to_string(), 27)));
        assert!(b.enum_values("no_such_enum").is_none());
    }
}
