//! Reading type layouts from a BPF object's BTF.
//!
//! Used to place options at the right offset of `.rodata`, and by the tests that prove each Rust
//! event struct has the same size and field offsets as the C struct the BPF program writes.
//! [`types`] parses a whole BTF blob in safe code and [`decode`] turns bytes into JSON or text
//! by their BTF type: what `run` needs for objects the user compiled.

pub mod decode;
pub mod types;

use std::ffi::{CStr, CString};

use libbpf_sys as sys;

const BTF_KIND_STRUCT: u32 = 4;
const BTF_KIND_UNION: u32 = 5;
const BTF_KIND_VAR: u32 = 14;
const BTF_KIND_DATASEC: u32 = 15;

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

    fn find(&self, name: &str, kind: u32) -> Option<u32> {
        let c = CString::new(name).ok()?;
        // SAFETY: a valid BTF (see from_raw) and a NUL-terminated name.
        let id = unsafe { sys::btf__find_by_name_kind(self.raw, c.as_ptr(), kind) };
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

    fn kind(&self, id: u32) -> u32 {
        (self.head(id).info >> 24) & 0x1f
    }

    /// The layout of `struct <name>`, or None if the object has no such struct.
    pub fn struct_layout(&self, name: &str) -> Option<Layout> {
        let id = self
            .find(name, BTF_KIND_STRUCT)
            .or_else(|| self.find(name, BTF_KIND_UNION))?;
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

    /// Offset and size of global variable `var` inside data section `section` (".rodata").
    pub fn var_in_section(&self, section: &str, var: &str) -> Option<(usize, usize)> {
        let id = self.find(section, BTF_KIND_DATASEC)?;
        let head = self.head(id);
        // SAFETY: a DATASEC type is followed by vlen btf_var_secinfo records (as VarSecinfo).
        let vars = unsafe {
            let first = (head as *const TypeHead).add(1) as *const VarSecinfo;
            std::slice::from_raw_parts(first, self.vlen(id))
        };
        vars.iter()
            .find(|v| {
                self.kind(v.type_id) == BTF_KIND_VAR
                    && self.name(self.head(v.type_id).name_off) == var
            })
            .map(|v| (v.offset as usize, v.size as usize))
    }
}
