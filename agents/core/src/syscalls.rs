//! Syscall tracepoint pairs (`syscalls:sys_enter_<name>` and `sys_exit_<name>`), attached where
//! this kernel has them. Architectures differ in which syscalls exist (arm64 has no open(),
//! rename() or unlink(), only their *at() forms) and older kernels lack newer ones (openat2
//! came in 5.6), so a tool lists every syscall it can use and gets those that are there.
//!
//! Convention: the BPF programs of syscall `<name>` are `tp_enter_<name>` and `tp_exit_<name>`.

use crate::bpf::Object;
use crate::probe;
use crate::Result;

/// Does this kernel have both tracepoints of syscall `name`?
pub fn present(name: &str) -> bool {
    probe::tracepoint_exists("syscalls", &format!("sys_enter_{name}"))
        && probe::tracepoint_exists("syscalls", &format!("sys_exit_{name}"))
}

/// Before load: leaves out the programs of the syscalls this kernel lacks, so that the verifier
/// never sees them. Returns the syscalls that are there, in the order given.
pub fn select(obj: &mut Object, names: &[&'static str]) -> Result<Vec<&'static str>> {
    select_programs(obj, names, true)
}

/// After load: attaches both programs of every syscall `select` kept.
pub fn attach(obj: &mut Object, names: &[&'static str]) -> Result<()> {
    attach_programs(obj, names, None)
}

/// Like [`select`], for a tool whose exit half is one program shared by every syscall (one
/// copy of the code in the object and in the kernel): only `tp_enter_<name>` is per syscall.
pub fn select_enters(obj: &mut Object, names: &[&'static str]) -> Result<Vec<&'static str>> {
    select_programs(obj, names, false)
}

/// After load: attaches `tp_enter_<name>` and the shared `exit_prog` for every syscall
/// [`select_enters`] kept.
pub fn attach_shared_exit(obj: &mut Object, names: &[&'static str], exit_prog: &str) -> Result<()> {
    attach_programs(obj, names, Some(exit_prog))
}

fn select_programs(
    obj: &mut Object,
    names: &[&'static str],
    own_exit: bool,
) -> Result<Vec<&'static str>> {
    let mut have = Vec::with_capacity(names.len());
    for &name in names {
        if present(name) {
            have.push(name);
            continue;
        }
        log::debug!("no tracepoints syscalls:sys_{{enter,exit}}_{name} on this kernel");
        obj.set_autoload(&format!("tp_enter_{name}"), false)?;
        if own_exit {
            obj.set_autoload(&format!("tp_exit_{name}"), false)?;
        }
    }
    Ok(have)
}

fn attach_programs(
    obj: &mut Object,
    names: &[&'static str],
    shared_exit: Option<&str>,
) -> Result<()> {
    for name in names {
        let (enter, exit) = (format!("sys_enter_{name}"), format!("sys_exit_{name}"));
        obj.attach_tracepoint(&format!("tp_enter_{name}"), "syscalls", &enter)?;
        match shared_exit {
            Some(prog) => obj.attach_tracepoint(prog, "syscalls", &exit)?,
            None => obj.attach_tracepoint(&format!("tp_exit_{name}"), "syscalls", &exit)?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syscalls_of_this_kernel() {
        if probe::tracefs_root().is_none()
            || !probe::tracepoint_exists("syscalls", "sys_enter_openat")
        {
            eprintln!("skipped: no syscall tracepoints here");
            return;
        }
        // openat exists on every architecture; a made-up name nowhere.
        assert!(present("openat"));
        assert!(!present("no_such_syscall"));
    }
}
