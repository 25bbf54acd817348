//! exitsnoop: trace process exits (BCC/libbpf-tools compatible).
//!
//! BPF side: `bpf/exitsnoop.bpf.c`, the `sched:sched_process_exit` tracepoint only. By default
//! one line per process, when its last thread exits; `-T` shows every thread.

use agent_core::names::{signal_name, WaitStatus};
use agent_core::prelude::*;

pub const TOOL: Spec = Spec {
    name: "exitsnoop",
    about: "trace process exits: status or signal, parent and age",
    hooks: &[Group::all(
        "",
        &[tracepoint("tp_sched_process_exit", "sched", "sched_process_exit")],
    )],
    dynamic: &[],
    structs: &[Event::LAYOUT, Config::LAYOUT],
    start: tool::start::<Exitsnoop>,
    selftest: SelfTest::new(selftest_workload).storm(storm),
};

/// Exit status of the self-test's shell: unlikely to be anything else's at that instant.
const SELFTEST_STATUS: i32 = 42;

/// Runs `/bin/sh -c 'exit 42'` and expects its exit, with its pid, parent (us) and status.
fn selftest_workload(_marker: &str) -> std::io::Result<Vec<String>> {
    let mut child = std::process::Command::new("/bin/sh")
        .args(["-c", &format!("exit {SELFTEST_STATUS}")])
        .spawn()?;
    let pid = child.id();
    let status = child.wait()?;
    if status.code() != Some(SELFTEST_STATUS) {
        return Err(std::io::Error::other(format!(
            "/bin/sh -c 'exit {SELFTEST_STATUS}' ended with {status}"
        )));
    }
    Ok(vec![selftest_expect(pid, std::process::id())])
}

/// Exits of forked children, as fast as they come.
fn storm(_marker: &str, until: std::time::Instant) -> std::io::Result<u64> {
    let mut n = 0;
    while std::time::Instant::now() < until {
        // SAFETY: the child only calls _exit, which is async-signal-safe.
        match unsafe { libc::fork() } {
            0 => unsafe { libc::_exit(0) },
            -1 => return Err(std::io::Error::last_os_error()),
            pid => {
                // SAFETY: waiting for our own child.
                unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
                n += 1;
            }
        }
    }
    Ok(n)
}

/// The part of the JSON line the self-test's exit must produce (the fields are in this order).
fn selftest_expect(pid: u32, ppid: u32) -> String {
    format!("\"pid\":{pid},\"ppid\":{ppid},\"tid\":{pid},")
        + &format!("\"comm\":\"sh\",\"exit_code\":{SELFTEST_STATUS},\"signal\":0,")
}

agent_core::pod! {
    /// Sent at sched:sched_process_exit.
    pub struct Event = "exitsnoop_event" {
        time_ns: u64, age_ns: u64,
        pid: u32, tid: u32, ppid: u32, status: i32,
        comm: [u8; 16],
    }

    /// The program's options in .rodata.
    pub struct Config = "exitsnoop_config" {
        target_pid: u32,
        filter_pid: u8, failed_only: u8, threads: u8, pad: u8,
    }
}

#[derive(FromArgs, Debug)]
/// Trace process exits: exit status or the signal that killed it, parent, and age.
/// By default one line per process, when its last thread exits (-T: every thread).
pub struct Args {
    /// include a timestamp column (HH:MM:SS, local time)
    #[argh(switch, short = 't')]
    pub timestamp: bool,
    /// only failed exits: a non-zero status or killed by a signal
    #[argh(switch, short = 'x')]
    pub failed: bool,
    /// trace this process (thread group) only
    #[argh(option, short = 'p', from_str_fn(parse_pid))]
    pub pid: Option<u32>,
    /// trace every thread's exit, not just the process's
    #[argh(switch, short = 'T')]
    pub threads: bool,
}

agent_core::args_tool!(Exitsnoop);

impl Handler for Exitsnoop {
    fn configure(&mut self, obj: &mut Object, _: &Plan) -> Result<()> {
        let (target_pid, filter_pid) = pid_filter(self.args.pid);
        let (failed_only, threads) = (self.args.failed as u8, self.args.threads as u8);
        obj.set_config(&Config {
            target_pid,
            filter_pid,
            failed_only,
            threads,
            pad: 0,
        })
    }

    fn note(&self) -> String {
        let what = if self.args.threads {
            "every thread"
        } else {
            "processes: their last thread's exit"
        };
        what.to_string()
    }

    fn header(&mut self, out: &mut Out) {
        out.columns(&[
            (self.args.timestamp, "TIME     "),
            (true, "PCOMM            PID     PPID    TID     AGE(s)  EXIT_CODE\n"),
        ]);
    }

    fn record(&mut self, _: usize, data: &[u8], out: &mut Out) {
        let Some(e) = pod::read::<Event>(data) else {
            return;
        };
        let st = WaitStatus::from_raw(e.status);
        if out.json() {
            let mut o = out.event("exit", e.time_ns);
            o.u64("pid", e.pid.into())
                .u64("ppid", e.ppid.into())
                .u64("tid", e.tid.into())
                .bytes("comm", cstr(&e.comm))
                .i64("exit_code", st.code.into())
                .i64("signal", st.signal.into());
            if st.signal != 0 {
                o.str("signal_name", &signal_name(st.signal));
            }
            o.bool("core_dumped", st.core_dumped)
                .u64("age_ns", e.age_ns)
                .end();
            return;
        }
        let mut s = out.take_line();
        if self.args.timestamp {
            out.push_hms(&mut s, e.time_ns);
            s.push(' ');
        }
        push_escaped_left(&mut s, cstr(&e.comm), 16);
        let _ = write!(
            s,
            " {:<7} {:<7} {:<7} {:<7} ",
            e.pid,
            e.ppid,
            e.tid,
            Fixed::ratio(e.age_ns.into(), 1_000_000_000, 2)
        );
        if st.signal != 0 {
            let _ = write!(s, "signal {} ({})", st.signal, signal_name(st.signal));
            if st.core_dumped {
                s.push_str(", core dumped");
            }
        } else if st.code != 0 {
            let _ = write!(s, "code {}", st.code);
        } else {
            s.push('0');
        }
        s.push('\n');
        out.put_line(s);
    }
}

#[cfg(test)]
mod tests;
