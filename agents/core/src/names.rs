//! Names of kernel numbers that tools print: signals, wait(2) statuses.

/// The name of a signal on this architecture (`SIGKILL`); real-time ones as `SIGRTMIN+n`
/// counted from the kernel's first (32), unknown ones as `SIG<n>`.
pub fn signal_name(sig: i32) -> String {
    if let Ok(s) = nix::sys::signal::Signal::try_from(sig) {
        return s.as_str().to_string();
    }
    match sig {
        32..=64 => format!("SIGRTMIN+{}", sig - 32),
        _ => format!("SIG{sig}"),
    }
}

/// A wait(2) status taken apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitStatus {
    /// The exit status (0..=255) given to exit(); 0 when killed by a signal.
    pub code: i32,
    /// The signal that killed it, 0 if none.
    pub signal: i32,
    pub core_dumped: bool,
}

impl WaitStatus {
    pub fn from_raw(raw: i32) -> WaitStatus {
        WaitStatus {
            code: (raw >> 8) & 0xff,
            signal: raw & 0x7f,
            core_dumped: raw & 0x80 != 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_statuses_and_signals() {
        // exit(3), killed by SIGKILL, SIGSEGV with a core, exit(255).
        assert_eq!(
            WaitStatus::from_raw(3 << 8),
            WaitStatus {
                code: 3,
                signal: 0,
                core_dumped: false
            }
        );
        assert_eq!(WaitStatus::from_raw(9).signal, 9);
        let segv = WaitStatus::from_raw(11 | 0x80);
        assert_eq!((segv.signal, segv.core_dumped, segv.code), (11, true, 0));
        assert_eq!(WaitStatus::from_raw(255 << 8).code, 255);
        assert_eq!(signal_name(9), "SIGKILL");
        assert_eq!(signal_name(15), "SIGTERM");
        assert_eq!(signal_name(34), "SIGRTMIN+2");
        assert_eq!(signal_name(99), "SIG99");
    }
}
