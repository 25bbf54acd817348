//! bashreadline: the commands typed into bash, system-wide (BCC/libbpf-tools compatible).
//!
//! BPF side: `bpf/bashreadline.bpf.c`, a uretprobe on `readline`. Which file holds readline is
//! read from the ELF symbols: bash itself (bash's own copy, as Debian builds it), else the
//! libreadline bash links (`DT_NEEDED`), or the library given with -s.

use std::path::Path;

use agent_core::elf::{self, Elf};
use agent_core::prelude::*;

/// Where bash is on every distribution (and on our images, if installed).
const BASH: &str = "/bin/bash";

pub const TOOL: Spec = Spec {
    name: "bashreadline",
    about: "print the commands typed into bash (readline), system-wide",
    hooks: &[Group::all(
        "bash",
        &[Attach::new(
            "uret_readline",
            Hook::Uprobe {
                path: BASH,
                func: "readline",
                ret: true,
                pid: None,
            },
        )],
    )],
    dynamic: &["uret_readline"],
    structs: &[Event::LAYOUT],
    start: tool::start::<Bashreadline>,
    selftest: SelfTest {
        args: |_| Vec::new(),
        workload: selftest_workload,
        storm: None,
    },
};

agent_core::pod! {
    /// `struct bashreadline_event`.
    pub struct Event = "bashreadline_event" {
        time_ns: u64,
        pid: u32,
        tid: u32,
        comm: [u8; 16],
        line: [u8; 256],
    }
}

#[derive(FromArgs, Debug)]
/// Print the commands typed into any bash on the system, as readline() returns them.
pub struct Args {
    /// the libreadline to probe (default: bash itself if it holds readline, else the
    /// libreadline it links)
    #[argh(option, short = 's')]
    pub shared: Option<String>,
}

pub struct Bashreadline {
    args: Args,
    /// Where readline is.
    provider: String,
}

/// Does the ELF file define `readline`?
fn has_readline(path: &str) -> bool {
    Elf::open(Path::new(path))
        .map(|e| !e.functions_matching(|n| n == "readline").is_empty())
        .unwrap_or(false)
}

/// The file that holds bash's readline: bash, or the libreadline it needs.
pub fn provider(bash: &str) -> std::result::Result<String, String> {
    if has_readline(bash) {
        return Ok(bash.to_string());
    }
    let needed = Elf::open(Path::new(bash))
        .map_err(|e| format!("{bash}: {e}"))?
        .needed();
    let lib = needed
        .iter()
        .find(|n| n.starts_with("libreadline"))
        .ok_or_else(|| format!("{bash} neither holds readline nor links libreadline"))?;
    let path = elf::find_library(lib, None)
        .ok_or_else(|| format!("{bash} links {lib}, which is not in the library directories"))?;
    if has_readline(&path) {
        Ok(path)
    } else {
        Err(format!("{path} has no readline symbol"))
    }
}

impl Tool for Bashreadline {
    type Args = Args;
    fn new(args: Args, _: &Common) -> Result<Self> {
        let provider = match &args.shared {
            Some(lib) => {
                let path = elf::find_library(lib, None).ok_or_else(|| {
                    Error::usage(format!("-s/--shared {lib}: no such library"))
                })?;
                if !has_readline(&path) {
                    return Err(Error::usage(format!(
                        "-s/--shared {path}: it has no readline function"
                    )));
                }
                path
            }
            None if !Path::new(BASH).exists() => {
                return Err(Error::new(format!("no {BASH} on this system"))
                    .code(EXIT_UNSUPPORTED)
                    .hint("install bash, or give the libreadline to probe with -s"));
            }
            None => provider(BASH)
                .map_err(|e| Error::new(e).code(EXIT_UNSUPPORTED).hint("give it with -s"))?,
        };
        Ok(Bashreadline { args, provider })
    }
}

impl Handler for Bashreadline {
    fn choose(&self, c: &mut Choices) {
        // The declared hook is /bin/bash's: with -s, it is not needed.
        c.set("bash", self.args.shared.is_none());
    }

    fn plan(&mut self, plan: &mut Plan, _: &dyn agent_core::hooks::Kernel) -> Result<()> {
        plan.attach.clear();
        plan.texts.clear();
        plan.push(
            "uret_readline",
            Hook::Uprobe {
                path: self.provider.clone(),
                func: "readline".into(),
                ret: true,
                pid: None,
            },
        );
        plan.say(format!("uretprobe {}:readline", self.provider));
        Ok(())
    }

    fn header(&mut self, out: &mut Out) {
        if !out.json() {
            out.push(&format!("{:<9} {:<7} {}\n", "TIME", "PID", "COMMAND"));
        }
    }

    fn record(&mut self, _: usize, data: &[u8], out: &mut Out) {
        let Some(e) = pod::read::<Event>(data) else {
            return;
        };
        let line = cstr(&e.line);
        if out.json() {
            out.event("readline", e.time_ns)
                .u64("pid", e.pid.into())
                .u64("tid", e.tid.into())
                .bytes("comm", cstr(&e.comm))
                .bytes("line", line)
                .end();
            return;
        }
        let mut s = out.take_line();
        out.push_hms(&mut s, e.time_ns);
        let _ = write!(s, "  {:<7} ", e.pid);
        push_escaped(&mut s, line);
        s.push('\n');
        out.put_line(s);
    }
}

/// Types a command into an interactive bash on a pseudo-terminal; expects its line.
fn selftest_workload(marker: &str) -> std::io::Result<Vec<String>> {
    let line = format!("echo {marker}");
    type_into_bash(&[&line, "exit"])?;
    Ok(vec![format!("\"line\":\"{line}\"")])
}

/// Runs `bash -i` on a new pseudo-terminal and types `lines` into it, one by one; returns
/// once bash has exited.
pub fn type_into_bash(lines: &[&str]) -> std::io::Result<()> {
    use std::io::{Read, Write};
    use std::os::fd::FromRawFd;
    let err = std::io::Error::last_os_error;
    // SAFETY: plain libc calls on a descriptor we own; checked for failure.
    let master = unsafe { libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY) };
    if master < 0 {
        return Err(err());
    }
    // SAFETY: `master` was just opened and is owned here only.
    let mut master = unsafe { std::fs::File::from_raw_fd(master) };
    let mut n: libc::c_uint = 0;
    // SAFETY: TIOCSPTLCK takes an int (0: unlock); TIOCGPTN writes the pty number.
    unsafe {
        use std::os::fd::AsRawFd;
        let unlock: libc::c_int = 0;
        if libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &unlock) != 0
            || libc::ioctl(master.as_raw_fd(), libc::TIOCGPTN, &mut n) != 0
        {
            return Err(err());
        }
    }
    let slave = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(format!("/dev/pts/{n}"))?;
    let mut child = std::process::Command::new(BASH)
        .args(["--norc", "--noprofile", "-i"])
        .env("PS1", "$ ")
        .stdin(slave.try_clone()?)
        .stdout(slave.try_clone()?)
        .stderr(slave)
        .spawn()?;
    // Bash reads its input only once it has started: answer as its prompts come.
    let mut buf = [0u8; 4096];
    for l in lines {
        std::thread::sleep(std::time::Duration::from_millis(200));
        master.write_all(l.as_bytes())?;
        master.write_all(b"\r")?;
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if child.try_wait()?.is_some() {
            break;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(std::io::Error::other("bash did not exit"));
        }
        // Keep the terminal's buffer from filling: read what bash wrote, without blocking.
        let mut pfd = libc::pollfd {
            fd: std::os::fd::AsRawFd::as_raw_fd(&master),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        if unsafe { libc::poll(&mut pfd, 1, 50) } > 0 && master.read(&mut buf).is_err() {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
