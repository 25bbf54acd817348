//! Errors that say what went wrong and how to fix it.

use std::fmt;

/// An error a user can act on: what failed, why (the OS error), and the fix.
#[derive(Debug)]
pub struct Error {
    msg: String,
    hint: Option<String>,
    detail: Option<String>,
    /// The exit code the agent should end with.
    pub exit_code: i32,
}

pub type Result<T> = std::result::Result<T, Error>;

/// Exit code for bad command-line input (like BSD's EX_USAGE).
pub const EXIT_USAGE: i32 = 2;
/// Exit code when the kernel lacks something a tool needs.
pub const EXIT_UNSUPPORTED: i32 = 3;
/// Exit code for missing privileges.
pub const EXIT_PERMISSION: i32 = 4;
/// Exit code for any other failure.
pub const EXIT_FAILURE: i32 = 1;

impl Error {
    pub fn new(msg: impl Into<String>) -> Self {
        Error {
            msg: msg.into(),
            hint: None,
            detail: None,
            exit_code: EXIT_FAILURE,
        }
    }

    /// Bad input on the command line.
    pub fn usage(msg: impl Into<String>) -> Self {
        Error::new(msg).code(EXIT_USAGE)
    }

    /// Not a failure: the command is done and `output` is what it prints on stdout (`--help`,
    /// a listing). Exit code 0.
    pub fn done(output: impl Into<String>) -> Self {
        Error::new(output).code(0)
    }

    /// The fix: a flag, a kernel config symbol, a capability, a command.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Longer diagnostics (such as the verifier log's tail), shown with --verbose.
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn code(mut self, code: i32) -> Self {
        self.exit_code = code;
        self
    }

    pub fn message(&self) -> &str {
        &self.msg
    }

    pub fn hint_text(&self) -> Option<&str> {
        self.hint.as_deref()
    }

    pub fn detail_text(&self) -> Option<&str> {
        self.detail.as_deref()
    }

    /// Wraps an OS error from a libbpf call, choosing the fix from its errno.
    pub fn os(what: impl Into<String>, errno: i32) -> Self {
        let what = what.into();
        let err = std::io::Error::from_raw_os_error(errno);
        let base = Error::new(format!("{what}: {err}"));
        match errno {
            libc::EPERM | libc::EACCES => base.code(EXIT_PERMISSION).hint(
                "run as root, or grant CAP_BPF and CAP_PERFMON (kernel >= 5.8; CAP_SYS_ADMIN before); \
                 check kernel.unprivileged_bpf_disabled and lockdown",
            ),
            libc::ENOSYS => base
                .code(EXIT_UNSUPPORTED)
                .hint("the kernel has no bpf() syscall: enable CONFIG_BPF_SYSCALL"),
            libc::EMFILE => base.hint(format!(
                "each hook, map and program holds a file descriptor and this process may have {}: \
                 attach fewer (narrower patterns), or raise the hard limit (ulimit -Hn, \
                 LimitNOFILE= in a systemd unit)",
                crate::probe::open_files_limit().map_or("no more".into(), |n| n.to_string())
            )),
            _ => base,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)?;
        if let Some(h) = &self.hint {
            write!(f, "\n  fix: {h}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::new(e.to_string())
    }
}
