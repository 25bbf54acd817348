//! Plain old data: the types whose bytes cross between the agent and the kernel.
//!
//! Records come out of ring buffers and maps as bytes, and options and keys go into `.rodata`
//! and maps as bytes. Reinterpreting bytes is sound only for types where every byte pattern
//! is a valid value and every byte of a value is initialized: `#[repr(C)]` structs of integers
//! and integer arrays, without padding. [`Pod`] marks them; [`pod!`](crate::pod!) declares such a
//! struct and proves both properties at compile time (each field is `Pod`, the size is the sum
//! of the fields' sizes), so a `bool`, an enum, a reference or a hole the compiler left can
//! never reach the kernel or be read back from it.
//!
//! The structs are written by hand, next to the C they mirror, rather than generated from the
//! object's BTF at build time: the mirror then reads as documentation in the tool's source, and
//! the build needs no BTF parser of its own. What keeps the two equal is [`Layout`]: `pod!`
//! records each field's name and offset, and a test compares them with the BTF the compiled
//! BPF object carries.

/// Types that are valid for any bytes and have no uninitialized bytes.
///
/// # Safety
/// The type must be `#[repr(C)]` (or a primitive integer, or an array of `Pod`), made only of
/// `Pod` fields, with no padding. Use [`pod!`](crate::pod!) rather than implementing it.
pub unsafe trait Pod: Copy + 'static {}

macro_rules! pod_primitives {
    ($($t:ty),*) => {$(
        // SAFETY: integers are valid for every bit pattern and have no padding.
        unsafe impl Pod for $t {}
    )*};
}
pod_primitives!(u8, u16, u32, u64, i8, i16, i32, i64);

// SAFETY: an array of Pod has no padding between elements (size is a multiple of alignment)
// and every element is valid for any bytes.
unsafe impl<T: Pod, const N: usize> Pod for [T; N] {}

/// The C-visible shape of a `Pod` struct: what the BTF of the BPF object must agree with.
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    /// The C struct's name (`exitsnoop_event`).
    pub c_name: &'static str,
    /// Size of the Rust struct.
    pub size: usize,
    /// Field names and byte offsets, in declaration order.
    pub fields: &'static [(&'static str, usize)],
    /// Buffers the C struct ends with that the Rust struct leaves out (a record's variable
    /// part, read as bytes): name and length, in order, right after the Rust struct.
    pub tail: &'static [(&'static str, usize)],
}

impl Layout {
    /// The fields and size the C struct must have: the Rust ones, then the tail buffers.
    pub fn c_shape(&self) -> (Vec<(&'static str, usize)>, usize) {
        let mut fields = self.fields.to_vec();
        let mut end = self.size;
        for &(name, len) in self.tail {
            fields.push((name, end));
            end += len;
        }
        (fields, end)
    }
}

/// A `Pod` struct declared with [`pod!`](crate::pod!), which knows its C twin.
pub trait Struct: Pod {
    const LAYOUT: Layout;
}

/// Reads a `T` from the start of `data` (at any alignment); None if `data` is too short.
pub fn read<T: Pod>(data: &[u8]) -> Option<T> {
    if data.len() < std::mem::size_of::<T>() {
        return None;
    }
    // SAFETY: `data` holds at least size_of::<T>() bytes, T is valid for any bytes (Pod), and
    // read_unaligned makes no alignment assumption.
    Some(unsafe { std::ptr::read_unaligned(data.as_ptr() as *const T) })
}

/// A record that is a `T` followed by a variable buffer: the head, and the first
/// `min(len(head), max)` bytes after it (fewer if the record is shorter).
pub fn read_tail<T: Pod>(data: &[u8], max: usize, len: impl Fn(&T) -> usize) -> Option<(T, &[u8])> {
    let head = read::<T>(data)?;
    let rest = &data[std::mem::size_of::<T>()..];
    let n = len(&head).min(max).min(rest.len());
    Some((head, &rest[..n]))
}

/// The bytes of a value, to hand to the kernel.
pub fn bytes_of<T: Pod>(v: &T) -> &[u8] {
    // SAFETY: T has no padding (Pod), so all size_of::<T>() bytes behind `v` are initialized,
    // and u8 has no alignment requirement. The slice borrows `v`.
    unsafe { std::slice::from_raw_parts(v as *const T as *const u8, std::mem::size_of::<T>()) }
}

/// The all-zero value of a `Pod` type.
pub fn zeroed<T: Pod>() -> T {
    // SAFETY: every byte pattern, the all-zero one included, is a valid T (Pod).
    unsafe { std::mem::zeroed() }
}

/// Declares `#[repr(C)]` structs that mirror C structs of the BPF side, with their [`Pod`] and
/// [`Struct`] impls, a zero [`Default`], and compile-time proof of the `Pod` rules:
///
/// ```
/// agent_core::pod! {
///     /// `struct demo_event`.
///     pub struct Event = "demo_event" {
///         time_ns: u64,
///         pid: u32, tid: u32,
///         comm: [u8; 8],
///     }
/// }
/// let e = agent_core::pod::read::<Event>(&[0u8; 24]).unwrap();
/// assert_eq!(e.pid, 0);
/// ```
///
/// Fields are public, listed as in the C struct (several to a line, as a C header groups them).
/// A field of a non-`Pod` type, or a struct with padding, does not compile: add explicit
/// padding fields (named `pad`, `pad2`, ... as in the C struct). A record whose C struct ends
/// with buffers of variable use (a path, argv) declares them as `, tail { path: 8192 }` after
/// the C name: the Rust struct is the head, and the layout check expects the buffers after it.
#[macro_export]
macro_rules! pod {
    ($(
        $(#[$meta:meta])*
        $vis:vis struct $name:ident = $c_name:literal $(, tail { $($tail:ident : $tlen:expr),* $(,)? })? {
            $($(#[$fmeta:meta])* $field:ident : $ty:ty),* $(,)?
        }
    )*) => {$(
        $(#[$meta])*
        #[repr(C)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        $vis struct $name {
            $($(#[$fmeta])* pub $field: $ty),*
        }

        // SAFETY: repr(C); every field is Pod (checked by `is_pod` below, which does not
        // compile otherwise) and the fields fill the struct without padding (asserted below).
        unsafe impl $crate::pod::Pod for $name {}

        const _: () = {
            const fn is_pod<T: $crate::pod::Pod>() {}
            $(is_pod::<$ty>();)*
            assert!(
                ::core::mem::size_of::<$name>() == 0 $(+ ::core::mem::size_of::<$ty>())*,
                concat!("struct ", stringify!($name), " has padding: add explicit pad fields")
            );
        };

        impl $crate::pod::Struct for $name {
            const LAYOUT: $crate::pod::Layout = $crate::pod::Layout {
                c_name: $c_name,
                size: ::core::mem::size_of::<$name>(),
                fields: &[$((stringify!($field), ::core::mem::offset_of!($name, $field))),*],
                tail: &[$($((stringify!($tail), $tlen)),*)?],
            };
        }

        impl Default for $name {
            fn default() -> Self {
                $crate::pod::zeroed()
            }
        }
    )*};
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::pod! {
        struct Demo = "demo" {
            a: u32,
            pad: u32,
            b: u64,
            name: [u8; 16],
        }

        struct Head = "head", tail { path: 4096, other: 8 } {
            len: u32,
            pad: u32,
        }
    }

    #[test]
    fn layout_and_round_trip() {
        let l = Demo::LAYOUT;
        assert_eq!((l.c_name, l.size), ("demo", 32));
        assert_eq!(l.fields, &[("a", 0), ("pad", 4), ("b", 8), ("name", 16)]);
        let mut d = Demo {
            a: 7,
            b: u64::MAX,
            ..Default::default()
        };
        d.name[..2].copy_from_slice(b"sh");
        let mut bytes = vec![0xee];
        bytes.extend_from_slice(bytes_of(&d));
        // Read back from an odd address, and refused when short.
        assert_eq!(read::<Demo>(&bytes[1..]), Some(d));
        assert_eq!(read::<Demo>(&bytes[1..32]), None);
        assert_eq!(
            Head::LAYOUT.c_shape(),
            (
                vec![("len", 0), ("pad", 4), ("path", 8), ("other", 4104)],
                4112
            )
        );
    }
}
