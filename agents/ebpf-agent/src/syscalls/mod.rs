//! Syscall numbers and names for each ABI the tools meet on this architecture: the kernel's
//! own and, on a 64-bit kernel, its 32-bit (compat) entry's (x86_64: i386; arm64: arm EABI).
//! Generated from the kernel's UAPI headers by `ci/gen-syscall-tables`.
//!
//! Tools that trace syscalls on the raw tracepoints (`bpf/syscalls.h`) name the syscalls they
//! want; [`Table::of`] turns the names into the numbers of both ABIs for the BPF side, and
//! [`Abi::name_of`] names what comes back.

pub mod errnos;

// The generated tables (`ci/gen-syscall-tables`): a `#` comment line, then `NUMBER NAME` lines
// by number. The kernel's own (empty where none is generated: syscalls show by number), and the
// 32-bit entry's of a 64-bit kernel (empty where there is none, or none the tools trace).
#[cfg(target_arch = "x86_64")]
const TABLES: (&str, &str) = (include_str!("x86_64.tbl"), include_str!("i386.tbl"));
#[cfg(target_arch = "aarch64")]
const TABLES: (&str, &str) = (include_str!("aarch64.tbl"), include_str!("arm.tbl"));
#[cfg(target_arch = "arm")]
const TABLES: (&str, &str) = (include_str!("arm.tbl"), "");
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "arm")))]
const TABLES: (&str, &str) = ("", "");

/// One ABI's syscalls.
pub struct Abi {
    /// How events and reports name it (`"x86_64"`, `"i386"`, ...).
    pub name: &'static str,
    /// The generated table.
    table: &'static str,
}

/// The kernel's own syscalls.
pub const NATIVE: Abi = Abi {
    name: std::env::consts::ARCH,
    table: TABLES.0,
};

/// The 32-bit entry of a 64-bit kernel (empty where there is none).
pub const COMPAT: Abi = Abi {
    name: if cfg!(target_arch = "x86_64") {
        "i386"
    } else {
        "arm"
    },
    table: TABLES.1,
};

/// The ABI of a call (`compat`: it came in through the 32-bit entry).
pub fn abi(compat: bool) -> &'static Abi {
    if compat {
        &COMPAT
    } else {
        &NATIVE
    }
}

impl Abi {
    /// (number, name) of every syscall, by number.
    pub fn entries(&self) -> impl Iterator<Item = (u32, &'static str)> {
        self.table.lines().filter_map(|line| {
            let (nr, name) = line.split_once(' ')?;
            Some((nr.parse().ok()?, name))
        })
    }

    /// The name of syscall `nr`.
    pub fn name_of(&self, nr: u32) -> Option<&'static str> {
        self.entries()
            .take_while(|&(n, _)| n <= nr)
            .find(|&(n, _)| n == nr)
            .map(|(_, name)| name)
    }

    /// The number of syscall `name`, if this ABI has it.
    pub fn number(&self, name: &str) -> Option<u32> {
        self.entries().find(|&(_, n)| n == name).map(|(nr, _)| nr)
    }
}

/// Mirrors SYSCALL_SLOTS in bpf/syscalls.h.
pub const SLOTS: usize = 1024;

agent_core::pod! {
    /// `struct syscall_table`: a tool's id for each syscall number of each ABI (0: untraced).
    pub struct Table = "syscall_table" {
        native: [u8; SLOTS],
        compat: [u8; SLOTS],
    }
}

impl Table {
    /// The table of a tool that traces, for each `(id, names)`, the syscalls of these names in
    /// every ABI that has them (one id may stand for a syscall that each ABI names its own way).
    pub fn of(wanted: &[(u8, &[&str])]) -> Table {
        let mut t = Table::default();
        for &(id, names) in wanted {
            for name in names {
                for (abi, slots) in [(&NATIVE, &mut t.native), (&COMPAT, &mut t.compat)] {
                    if let Some(nr) = abi.number(name).filter(|&n| (n as usize) < SLOTS) {
                        slots[nr as usize] = id;
                    }
                }
            }
        }
        t
    }

    /// The `tracing:` line's note on the syscalls traced (`syscalls openat, open; 32-bit i386:
    /// open, openat`), on the architectures whose tools pick syscalls by these tables.
    pub fn note(&self) -> Option<String> {
        cfg!(any(target_arch = "x86_64", target_arch = "aarch64"))
            .then(|| format!("syscalls {}", self.describe()))
    }

    /// What the table traces, for the `-v` line: `openat, open; 32-bit: open, openat`.
    pub fn describe(&self) -> String {
        let list = |abi: &Abi, slots: &[u8; SLOTS]| {
            let names: Vec<&str> = (0..SLOTS)
                .filter(|&nr| slots[nr] != 0)
                .map(|nr| abi.name_of(nr as u32).unwrap_or("?"))
                .collect();
            names.join(", ")
        };
        let (native, compat) = (list(&NATIVE, &self.native), list(&COMPAT, &self.compat));
        if compat.is_empty() {
            native
        } else {
            format!("{native}; 32-bit {}: {compat}", COMPAT.name)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_sorted_and_unique_per_number() {
        for abi in [&NATIVE, &COMPAT] {
            let entries: Vec<_> = abi.entries().collect();
            assert!(
                entries.windows(2).all(|w| w[0].0 < w[1].0),
                "{}: the table must be sorted by number, one name each",
                abi.name
            );
            // Every line but the header is an entry.
            assert_eq!(entries.len() + 1, abi.table.lines().count(), "{}", abi.name);
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn both_abis_of_x86_64() {
        assert_eq!((NATIVE.name, COMPAT.name), ("x86_64", "i386"));
        assert_eq!(NATIVE.number("openat"), Some(257));
        assert_eq!(COMPAT.number("openat"), Some(295));
        assert_eq!(COMPAT.name_of(20), Some("getpid"));
        assert_eq!(NATIVE.name_of(20), Some("writev"));
        let t = Table::of(&[(3, &["open"]), (7, &["oldstat", "nope"])]);
        assert_eq!((t.native[2], t.compat[5], t.compat[18]), (3, 3, 7));
        assert_eq!(t.native.iter().filter(|&&b| b != 0).count(), 1);
        assert_eq!(t.describe(), "open; 32-bit i386: open, oldstat");
    }

    #[cfg(target_arch = "aarch64")]
    #[test]
    fn both_abis_of_arm64() {
        assert_eq!((NATIVE.name, COMPAT.name), ("aarch64", "arm"));
        assert_eq!(NATIVE.number("openat"), Some(56));
        assert_eq!(NATIVE.number("open"), None);
        assert_eq!(COMPAT.number("openat"), Some(322));
    }
}
