//! open(2) flags by name, for the architecture the agent is built for: a few values differ
//! between the generic ABI (x86, riscv, ...) and arm/arm64 (O_DIRECTORY, O_NOFOLLOW, O_DIRECT,
//! O_LARGEFILE), and the kernel reports the caller's raw bits. The values are the C library's
//! for the target (libc), not a table of ours.

/// Flags whose values are the same everywhere, each by its own bit. O_SYNC and O_TMPFILE are
/// the kernel's `__O_SYNC` and `__O_TMPFILE` bits (the C library's values also carry the
/// O_DSYNC / O_DIRECTORY they imply).
const COMMON: &[(libc::c_int, &str)] = &[
    (libc::O_CREAT, "O_CREAT"),
    (libc::O_EXCL, "O_EXCL"),
    (libc::O_NOCTTY, "O_NOCTTY"),
    (libc::O_TRUNC, "O_TRUNC"),
    (libc::O_APPEND, "O_APPEND"),
    (libc::O_NONBLOCK, "O_NONBLOCK"),
    (libc::O_DSYNC, "O_DSYNC"),
    (libc::O_ASYNC, "O_ASYNC"),
    (libc::O_NOATIME, "O_NOATIME"),
    (libc::O_CLOEXEC, "O_CLOEXEC"),
    (libc::O_SYNC & !libc::O_DSYNC, "O_SYNC"),
    (libc::O_PATH, "O_PATH"),
    (libc::O_TMPFILE & !libc::O_DIRECTORY, "O_TMPFILE"),
];

/// The four whose values depend on the architecture, shown after the others in bit order.
const ARCH: [(libc::c_int, &str); 4] = [
    (libc::O_DIRECT, "O_DIRECT"),
    (libc::O_LARGEFILE, "O_LARGEFILE"),
    (libc::O_DIRECTORY, "O_DIRECTORY"),
    (libc::O_NOFOLLOW, "O_NOFOLLOW"),
];

/// Appends `flags` as `O_WRONLY|O_CREAT|O_TRUNC`: the access mode first, then each flag set,
/// then any bit without a name in hex (`0x40000000`). O_SYNC and O_TMPFILE are shown by their
/// own bit (the kernel's `__O_SYNC`, `__O_TMPFILE`), beside the O_DSYNC / O_DIRECTORY they imply.
pub fn push_open_flags(out: &mut String, flags: u64) {
    out.push_str(match flags & 3 {
        0 => "O_RDONLY",
        1 => "O_WRONLY",
        2 => "O_RDWR",
        _ => "O_ACCMODE",
    });
    let mut rest = flags & !3;
    let mut arch = ARCH;
    crate::sort::sort_by(&mut arch, |a, b| a.0.cmp(&b.0));
    for &(bit, name) in COMMON.iter().chain(&arch) {
        let bit = bit as u64;
        if rest & bit != 0 {
            out.push('|');
            out.push_str(name);
            rest &= !bit;
        }
    }
    if rest != 0 {
        out.push_str("|0x");
        let digits = 16 - rest.leading_zeros() as usize / 4;
        for i in (0..digits).rev() {
            out.push(b"0123456789abcdef"[(rest >> (i * 4) & 0xf) as usize] as char);
        }
    }
}

/// `push_open_flags` into a new string.
pub fn open_flags(flags: u64) -> String {
    let mut s = String::new();
    push_open_flags(&mut s, flags);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_access_mode() {
        assert_eq!(open_flags(0), "O_RDONLY");
        assert_eq!(
            open_flags(0o1 | 0o100 | 0o1000 | 0o2000000),
            "O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC"
        );
        assert_eq!(open_flags(0o2 | 0o200), "O_RDWR|O_EXCL");
        assert_eq!(open_flags(3 | (1 << 40)), "O_ACCMODE|0x10000000000");
    }

    #[test]
    fn arch_specific_bits() {
        // The same bit is O_DIRECTORY on arm64 and O_DIRECT on x86: what the kernel of the
        // target architecture means by it.
        let s = open_flags(0o40000);
        if cfg!(any(target_arch = "aarch64", target_arch = "arm")) {
            assert_eq!(s, "O_RDONLY|O_DIRECTORY");
        } else {
            assert_eq!(s, "O_RDONLY|O_DIRECT");
        }
    }
}
