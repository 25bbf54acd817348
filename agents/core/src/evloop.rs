//! One event loop for everything a process traces: the ring buffers and report timers of one
//! or several tools (the collector runs several in one process), other descriptors (a metrics
//! listener), and signals, which arrive through a pipe rather than a process-wide flag.
//!
//! Ring buffer producers wake the loop only once a batch is waiting (see
//! `events_wakeup_crossing` in bpf/common.h), so sources that say they [`Source::polls`] are also
//! run every [`POLL`]: whatever arrived is read then.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::output::Flow;

/// How often polling sources run when nothing woke the loop.
pub const POLL: Duration = Duration::from_millis(100);

/// How long output may still take after a stop request before it is abandoned.
pub const OUTPUT_GRACE_SECS: u32 = 2;

/// Something the loop drives.
pub trait Source {
    /// Descriptors whose input is for this source (ring buffer epoll fds, sockets).
    fn fds(&self) -> Vec<RawFd>;
    /// Runs the source: one of its descriptors is readable, a time it asked for came, or the
    /// poll interval passed.
    fn run(&mut self, now: Instant) -> Flow;
    /// When it next needs to run without input (reports, deadlines).
    fn wake_at(&self) -> Option<Instant>;
    /// Must it also run every [`POLL`] (ring buffers filled without wake-ups)?
    fn polls(&self) -> bool;
    /// Called once, when the source stopped or the loop ends: last reports, final flush.
    fn finish(&mut self);
    /// Done, by its own doing ([`Source::run`] returned Stop) or by the loop's.
    fn done(&self) -> bool;
    /// Write out what is buffered (called before the loop waits).
    fn flush(&mut self) {}
}

static PIPE_WRITE: AtomicI32 = AtomicI32::new(-1);
static ABANDON_OUTPUT: AtomicBool = AtomicBool::new(false);
static STOPPING: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(sig: libc::c_int) {
    if sig == libc::SIGALRM {
        // The grace period is over: a write still blocked has a reader that stopped reading.
        ABANDON_OUTPUT.store(true, Ordering::SeqCst);
        return;
    }
    if (sig == libc::SIGINT || sig == libc::SIGTERM) && !STOPPING.swap(true, Ordering::SeqCst) {
        // alarm() is async-signal-safe: it starts the grace period of the output.
        // SAFETY: alarm has no memory effects.
        unsafe { libc::alarm(OUTPUT_GRACE_SECS) };
    }
    let fd = PIPE_WRITE.load(Ordering::SeqCst);
    if fd >= 0 {
        let b = sig as u8;
        // SAFETY: write(2) is async-signal-safe; a full pipe just drops the byte (the loop
        // already has one to read).
        unsafe { libc::write(fd, &b as *const u8 as *const libc::c_void, 1) };
    }
}

/// True once output blocked past the grace period that follows a stop: writers give up.
pub fn output_abandoned() -> bool {
    ABANDON_OUTPUT.load(Ordering::SeqCst)
}

/// Starts the grace period of the final output (when a run ends without a signal).
pub fn arm_output_grace() {
    // SAFETY: alarm has no memory effects.
    unsafe { libc::alarm(OUTPUT_GRACE_SECS) };
}

/// Ends the grace period.
pub fn disarm_output_grace() {
    // SAFETY: alarm has no memory effects.
    unsafe { libc::alarm(0) };
}

/// Signals delivered to the loop: SIGINT, SIGTERM and SIGHUP end tools cleanly (final
/// reports printed); the collector gives SIGHUP its own meaning.
pub struct Signals {
    read: OwnedFd,
    _write: OwnedFd,
}

impl Signals {
    pub fn install() -> Result<Signals> {
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: `fds` has room for the two descriptors pipe2 returns.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } != 0 {
            return Err(Error::os(
                "cannot create the signal pipe",
                crate::bpf::last_errno(),
            ));
        }
        // SAFETY: pipe2 just created both descriptors; they are owned here only.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        PIPE_WRITE.store(write.as_raw_fd(), Ordering::SeqCst);
        for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGALRM] {
            // SAFETY: an all-zero sigaction is valid; we set the handler and an empty mask.
            // No SA_RESTART: a write blocked on a full pipe returns EINTR, so the writer can
            // see the grace period end.
            let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
            sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
            // SAFETY: a valid sigaction for a catchable signal.
            if unsafe { libc::sigaction(sig, &sa, std::ptr::null_mut()) } != 0 {
                return Err(Error::os(
                    format!("cannot handle signal {sig}"),
                    crate::bpf::last_errno(),
                ));
            }
        }
        Ok(Signals {
            read,
            _write: write,
        })
    }

    fn fd(&self) -> RawFd {
        self.read.as_raw_fd()
    }

    /// The signals that arrived since the last call.
    fn take(&self) -> Vec<i32> {
        let mut buf = [0u8; 64];
        let mut out = Vec::new();
        loop {
            // SAFETY: reading into a local buffer from our non-blocking pipe.
            let n =
                unsafe { libc::read(self.fd(), buf.as_mut_ptr() as *mut libc::c_void, buf.len()) };
            if n <= 0 {
                break;
            }
            out.extend(buf[..n as usize].iter().map(|&b| b as i32));
        }
        out
    }
}

impl Drop for Signals {
    fn drop(&mut self) {
        PIPE_WRITE.store(-1, Ordering::SeqCst);
    }
}

/// What to do about a signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnSignal {
    /// End the run: every source finishes.
    Stop,
    /// Handled; go on.
    Continue,
}

/// The default: SIGINT, SIGTERM and SIGHUP end the run.
pub fn stop_on_any(sig: i32) -> OnSignal {
    match sig {
        libc::SIGINT | libc::SIGTERM | libc::SIGHUP => OnSignal::Stop,
        _ => OnSignal::Continue,
    }
}

/// The signal that ended the last run, if one did (for the exit status and messages).
static ENDED_BY: AtomicI32 = AtomicI32::new(0);

pub fn ended_by_signal() -> Option<i32> {
    match ENDED_BY.load(Ordering::SeqCst) {
        0 => None,
        s => Some(s),
    }
}

struct Epoll(OwnedFd);

impl Epoll {
    fn new() -> Result<Epoll> {
        // SAFETY: no pointers; returns a new descriptor or -1.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(Error::os("epoll_create1", crate::bpf::last_errno()));
        }
        // SAFETY: a descriptor we just created.
        Ok(Epoll(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    fn add(&self, fd: RawFd, token: u64) -> Result<()> {
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: token,
        };
        // SAFETY: a valid epoll descriptor and event.
        if unsafe { libc::epoll_ctl(self.0.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) } != 0 {
            return Err(Error::os("epoll_ctl", crate::bpf::last_errno()));
        }
        Ok(())
    }

    /// Tokens of the descriptors that are ready, waiting up to `timeout`.
    fn wait(&self, timeout: Duration, ready: &mut Vec<u64>) -> Result<()> {
        let mut evs = [libc::epoll_event { events: 0, u64: 0 }; 32];
        // Rounded up: a timeout cut down to 0 ms would spin until the moment came.
        let ms = timeout.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
        // SAFETY: `evs` has room for evs.len() events.
        let n =
            unsafe { libc::epoll_wait(self.0.as_raw_fd(), evs.as_mut_ptr(), evs.len() as i32, ms) };
        ready.clear();
        if n < 0 {
            let e = crate::bpf::last_errno();
            if e == libc::EINTR {
                return Ok(());
            }
            return Err(Error::os("epoll_wait", e));
        }
        ready.extend(evs[..n as usize].iter().map(|e| e.u64));
        Ok(())
    }
}

const SIGNAL_TOKEN: u64 = u64::MAX;

/// Runs `sources` until each is done or a signal that `on_signal` says Stop arrives; then
/// finishes every source still running.
pub fn run(
    sources: &mut [&mut dyn Source],
    signals: &Signals,
    mut on_signal: impl FnMut(i32) -> OnSignal,
) -> Result<()> {
    let ep = Epoll::new()?;
    ep.add(signals.fd(), SIGNAL_TOKEN)?;
    for (i, s) in sources.iter().enumerate() {
        for fd in s.fds() {
            ep.add(fd, i as u64)?;
        }
    }
    let mut ready = Vec::new();
    let mut next_poll = Instant::now() + POLL;
    let mut stop = false;
    while !stop && sources.iter().any(|s| !s.done()) {
        for s in sources.iter_mut().filter(|s| !s.done()) {
            s.flush();
        }
        let now = Instant::now();
        let polling = sources.iter().any(|s| !s.done() && s.polls());
        let mut wake = sources
            .iter()
            .filter(|s| !s.done())
            .filter_map(|s| s.wake_at())
            .min();
        if polling {
            wake = Some(wake.map_or(next_poll, |w| w.min(next_poll)));
        }
        let timeout = wake.map_or(Duration::from_secs(3600), |w| {
            w.saturating_duration_since(now)
        });
        ep.wait(timeout, &mut ready)?;
        let now = Instant::now();
        let poll_due = now >= next_poll;
        if poll_due {
            next_poll = now + POLL;
        }
        for sig in if ready.contains(&SIGNAL_TOKEN) {
            signals.take()
        } else {
            Vec::new()
        } {
            if on_signal(sig) == OnSignal::Stop {
                ENDED_BY.store(sig, Ordering::SeqCst);
                stop = true;
            }
        }
        for (i, s) in sources.iter_mut().enumerate() {
            if s.done() {
                continue;
            }
            let input = ready.contains(&(i as u64));
            let timed = s.wake_at().is_some_and(|w| now >= w);
            if (input || timed || (poll_due && s.polls()) || stop) && s.run(now) == Flow::Stop {
                s.finish();
            }
        }
    }
    for s in sources.iter_mut().filter(|s| !s.done()) {
        s.finish();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A source that stops after `n` runs, counting them (and the loop's turns: flushes).
    struct Counter {
        runs: u32,
        flushes: u32,
        stop_at: u32,
        every: Duration,
        next: Instant,
        finished: bool,
    }
    impl Source for Counter {
        fn fds(&self) -> Vec<RawFd> {
            Vec::new()
        }
        fn run(&mut self, now: Instant) -> Flow {
            self.runs += 1;
            self.next = now + self.every;
            if self.runs >= self.stop_at {
                Flow::Stop
            } else {
                Flow::Continue
            }
        }
        fn wake_at(&self) -> Option<Instant> {
            Some(self.next)
        }
        fn polls(&self) -> bool {
            false
        }
        fn finish(&mut self) {
            self.finished = true;
        }
        fn done(&self) -> bool {
            self.finished
        }
        fn flush(&mut self) {
            self.flushes += 1;
        }
    }

    /// One test: signals are process-wide, so the two halves must not run side by side.
    #[test]
    fn sources_run_at_their_times_and_a_signal_finishes_them() {
        sources_run_at_their_times_and_the_loop_ends_when_all_are_done();
        a_signal_finishes_every_source();
    }

    fn sources_run_at_their_times_and_the_loop_ends_when_all_are_done() {
        let signals = Signals::install().unwrap();
        let now = Instant::now();
        let mk = |stop_at, ms| Counter {
            runs: 0,
            flushes: 0,
            stop_at,
            every: Duration::from_millis(ms),
            next: now,
            finished: false,
        };
        let (mut a, mut b) = (mk(3, 10), mk(5, 5));
        run(&mut [&mut a, &mut b], &signals, stop_on_any).unwrap();
        assert_eq!((a.runs, b.runs), (3, 5));
        assert!(a.finished && b.finished);
        // Each turn of the loop runs a source: it never spins on a timeout rounded down to 0.
        assert!(b.flushes <= a.runs + b.runs + 1, "{} turns", b.flushes);
    }

    fn a_signal_finishes_every_source() {
        let signals = Signals::install().unwrap();
        let mut a = Counter {
            runs: 0,
            flushes: 0,
            stop_at: u32::MAX,
            every: Duration::from_secs(60),
            next: Instant::now() + Duration::from_secs(60),
            finished: false,
        };
        // SAFETY: raising SIGHUP in this process; our handler is installed.
        unsafe { libc::raise(libc::SIGHUP) };
        let t0 = Instant::now();
        run(&mut [&mut a], &signals, stop_on_any).unwrap();
        assert!(a.finished && t0.elapsed() < Duration::from_secs(5));
        assert_eq!(ended_by_signal(), Some(libc::SIGHUP));
    }
}
