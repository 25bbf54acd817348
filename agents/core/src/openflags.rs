//! open(2) flags by name, for the architecture the agent is built for: a few values differ
//! between the generic ABI (x86, riscv, ...) and arm/arm64 (O_DIRECTORY, O_NOFOLLOW, O_DIRECT,
//! O_LARGEFILE), and the kernel reports the caller's raw bits.

/// Flags whose values are the same everywhere we build for (include/uapi/asm-generic/fcntl.h).
const COMMON: &[(u64, &str)] = &[
    (0o100, "O_CREAT"),
    (0o200, "O_EXCL"),
    (0o400, "O_NOCTTY"),
    (0o1000, "O_TRUNC"),
    (0o2000, "O_APPEND"),
    (0o4000, "O_NONBLOCK"),
    (0o10000, "O_DSYNC"),
    (0o20000, "O_ASYNC"),
    (0o1000000, "O_NOATIME"),
    (0o2000000, "O_CLOEXEC"),
    (0o4000000, "O_SYNC"),
    (0o10000000, "O_PATH"),
    (0o20000000, "O_TMPFILE"),
];

/// arch/arm64/include/uapi/asm/fcntl.h (arm has the same).
#[cfg(any(target_arch = "aarch64", target_arch = "arm"))]
const ARCH: &[(u64, &str)] = &[
    (0o40000, "O_DIRECTORY"),
    (0o100000, "O_NOFOLLOW"),
    (0o200000, "O_DIRECT"),
    (0o400000, "O_LARGEFILE"),
];

#[cfg(not(any(target_arch = "aarch64", target_arch = "arm")))]
const ARCH: &[(u64, &str)] = &[
    (0o40000, "O_DIRECT"),
    (0o100000, "O_LARGEFILE"),
    (0o200000, "O_DIRECTORY"),
    (0o400000, "O_NOFOLLOW"),
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
    for &(bit, name) in COMMON.iter().chain(ARCH) {
        if rest & bit != 0 {
            out.push('|');
            out.push_str(name);
            rest &= !bit;
        }
    }
    if rest != 0 {
        out.push_str(&format!("|{rest:#x}"));
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
