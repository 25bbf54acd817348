//! libbpf's option structs, laid out as C lays them out on the target.
//!
//! libbpf-sys ships bindings generated once, on a 64-bit machine, and bindgen wrote the
//! padding it saw there as explicit byte arrays (`__bindgen_padding_0: [u8; 7]` after a
//! `bool`, before a pointer). On a 32-bit target (ARMv7) those arrays shift every later field:
//! libbpf then finds non-zero bytes where it expects its own padding, and `bpf_object__open_mem`
//! fails with EINVAL. These mirrors declare only the C fields and let `repr(C)` pad them, which
//! is what the C compiler does on every target. libbpf reads them through the pointer it is
//! given, so they stand in for the generated types (the same size and offsets on 64-bit
//! targets: tested below).

use std::ffi::{c_char, c_int, c_void};

use libbpf_sys as sys;

/// `struct bpf_object_open_opts` (libbpf.h).
#[repr(C)]
pub struct ObjectOpenOpts {
    pub sz: sys::size_t,
    pub object_name: *const c_char,
    pub relaxed_maps: bool,
    pub pin_root_path: *const c_char,
    /// `__u32 :32`, a removed field.
    pub _unused: u32,
    pub kconfig: *const c_char,
    pub btf_custom_path: *const c_char,
    pub kernel_log_buf: *mut c_char,
    pub kernel_log_size: sys::size_t,
    pub kernel_log_level: u32,
    pub bpf_token_path: *const c_char,
}

/// `struct bpf_uprobe_opts` (libbpf.h).
#[repr(C)]
pub struct UprobeOpts {
    pub sz: sys::size_t,
    pub ref_ctr_offset: sys::size_t,
    pub bpf_cookie: u64,
    pub retprobe: bool,
    pub func_name: *const c_char,
    pub attach_mode: sys::probe_attach_mode,
}

/// `struct bpf_prog_load_opts` (bpf.h).
#[repr(C)]
pub struct ProgLoadOpts {
    pub sz: sys::size_t,
    pub attempts: c_int,
    pub expected_attach_type: sys::bpf_attach_type,
    pub prog_btf_fd: u32,
    pub prog_flags: u32,
    pub prog_ifindex: u32,
    pub kern_version: u32,
    pub attach_btf_id: u32,
    pub attach_prog_fd: u32,
    pub attach_btf_obj_fd: u32,
    pub fd_array: *const c_int,
    pub func_info: *const c_void,
    pub func_info_cnt: u32,
    pub func_info_rec_size: u32,
    pub line_info: *const c_void,
    pub line_info_cnt: u32,
    pub line_info_rec_size: u32,
    pub log_level: u32,
    pub log_size: u32,
    pub log_buf: *mut c_char,
    pub log_true_size: u32,
    pub token_fd: u32,
    pub fd_array_cnt: u32,
}

/// All-zero options with `sz` set: libbpf's defaults for every field not set after. `sz` ends
/// at the last field, not at the struct's end: libbpf requires the bytes between the two to be
/// zero, and tail padding is not kept when a value is built with `..Default::default()`.
macro_rules! zeroed_with_size {
    ($($t:ty: $last:ident),*) => {$(
        impl Default for $t {
            fn default() -> Self {
                // SAFETY: integers, bools, enums with a zero value and raw pointers: all zero
                // is a valid value of each (null pointers, false, libbpf's defaults).
                let mut o: Self = unsafe { std::mem::zeroed() };
                o.sz = (std::mem::offset_of!(Self, $last) + std::mem::size_of_val(&o.$last))
                    as sys::size_t;
                o
            }
        }
    )*};
}
zeroed_with_size!(ObjectOpenOpts: bpf_token_path, UprobeOpts: attach_mode, ProgLoadOpts: fd_array_cnt);

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{offset_of, size_of};

    /// Where the generated bindings are right (64-bit targets), the mirrors agree with them.
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn mirrors_match_the_bindings_on_64_bit() {
        assert_eq!(
            size_of::<ObjectOpenOpts>(),
            size_of::<sys::bpf_object_open_opts>()
        );
        assert_eq!(
            offset_of!(ObjectOpenOpts, btf_custom_path),
            offset_of!(sys::bpf_object_open_opts, btf_custom_path)
        );
        assert_eq!(
            offset_of!(ObjectOpenOpts, bpf_token_path),
            offset_of!(sys::bpf_object_open_opts, bpf_token_path)
        );
        assert_eq!(size_of::<UprobeOpts>(), size_of::<sys::bpf_uprobe_opts>());
        assert_eq!(
            offset_of!(UprobeOpts, attach_mode),
            offset_of!(sys::bpf_uprobe_opts, attach_mode)
        );
        assert_eq!(
            size_of::<ProgLoadOpts>(),
            size_of::<sys::bpf_prog_load_opts>()
        );
        assert_eq!(
            offset_of!(ProgLoadOpts, log_buf),
            offset_of!(sys::bpf_prog_load_opts, log_buf)
        );
        assert_eq!(
            offset_of!(ProgLoadOpts, fd_array_cnt),
            offset_of!(sys::bpf_prog_load_opts, fd_array_cnt)
        );
    }

    /// On 32-bit targets, the C layout: 4-byte pointers and size_t, no bindgen padding.
    #[test]
    #[cfg(target_pointer_width = "32")]
    fn mirrors_have_the_c_layout_on_32_bit() {
        assert_eq!(offset_of!(ObjectOpenOpts, pin_root_path), 12);
        assert_eq!(offset_of!(ObjectOpenOpts, kconfig), 20);
        assert_eq!(offset_of!(ObjectOpenOpts, btf_custom_path), 24);
        assert_eq!(offset_of!(ObjectOpenOpts, bpf_token_path), 40);
        assert_eq!(size_of::<ObjectOpenOpts>(), 44);
        assert_eq!(offset_of!(UprobeOpts, func_name), 20);
        assert_eq!(size_of::<UprobeOpts>(), 32);
        assert_eq!(offset_of!(ProgLoadOpts, fd_array), 40);
        assert_eq!(offset_of!(ProgLoadOpts, log_buf), 76);
        assert_eq!(size_of::<ProgLoadOpts>(), 92);
    }

    #[test]
    fn defaults_carry_their_size() {
        assert_eq!(
            ObjectOpenOpts::default().sz as usize,
            size_of::<ObjectOpenOpts>()
        );
        assert!(ObjectOpenOpts::default().btf_custom_path.is_null());
        // Up to the last field: tail padding is outside what libbpf checks.
        assert_eq!(
            UprobeOpts::default().sz as usize,
            offset_of!(UprobeOpts, attach_mode) + size_of::<sys::probe_attach_mode>()
        );
    }
}
