//! The event loop every streaming tool runs: poll the ring buffer, hand each record to the
//! tool, stop on SIGINT/SIGTERM/--duration, flush, detach, and account for lost events.

use std::ffi::{c_int, c_void};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use libbpf_sys as sys;
use nix::sys::signal::{self, SaFlags, SigAction, SigHandler, SigSet, Signal};

use crate::bpf::Object;
use crate::error::{Error, Result};

static STOP: AtomicBool = AtomicBool::new(false);
static ABANDON_OUTPUT: AtomicBool = AtomicBool::new(false);

/// How long output may still take after a stop request before it is abandoned.
const OUTPUT_GRACE_SECS: u32 = 2;

extern "C" fn on_signal(sig: c_int) {
    if sig == Signal::SIGALRM as c_int {
        // The grace period is over: a write still blocked has a reader that stopped reading.
        ABANDON_OUTPUT.store(true, Ordering::SeqCst);
    } else if !STOP.swap(true, Ordering::SeqCst) {
        // alarm() is async-signal-safe: it starts the grace period of the output.
        let _ = nix::unistd::alarm::set(OUTPUT_GRACE_SECS);
    }
    STOP.store(true, Ordering::SeqCst);
}

/// True once output blocked past the grace period that follows a stop: writers give up.
pub fn output_abandoned() -> bool {
    ABANDON_OUTPUT.load(Ordering::SeqCst)
}

/// Makes SIGINT and SIGTERM end the loop cleanly instead of killing the process.
pub fn install_signal_handlers() -> Result<()> {
    let action = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::empty(),
        SigSet::empty(),
    );
    // SIGALRM bounds the final flush (see `stream`).
    for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGALRM] {
        unsafe { signal::sigaction(sig, &action) }
            .map_err(|e| Error::new(format!("cannot handle {sig}: {e}")))?;
    }
    Ok(())
}

/// True once SIGINT or SIGTERM arrived.
pub fn stop_requested() -> bool {
    STOP.load(Ordering::SeqCst)
}

/// What a consumer tells the loop after a record.
pub enum Flow {
    Continue,
    /// The tool is done (e.g. its output was closed).
    Stop,
}

/// The tool's side of [`stream`]: decodes and prints records, reports losses, flushes.
pub trait Consumer {
    /// One record from the ring buffer.
    fn record(&mut self, data: &[u8]) -> Flow;
    /// `new` events were lost in the kernel since the last report (`total` in all).
    fn lost(&mut self, new: u64, total: u64);
    /// Called whenever the loop is about to wait: write out everything buffered, so a pipe
    /// never holds an event back.
    fn flush(&mut self);
}

struct Ctx<'c> {
    consumer: &'c mut dyn Consumer,
    stopped: bool,
}

unsafe extern "C" fn on_record(ctx: *mut c_void, data: *mut c_void, size: sys::size_t) -> c_int {
    let ctx = &mut *(ctx as *mut Ctx);
    let record = std::slice::from_raw_parts(data as *const u8, size as usize);
    match ctx.consumer.record(record) {
        Flow::Continue => 0,
        Flow::Stop => {
            ctx.stopped = true;
            -1
        }
    }
}

/// Options of [`stream`].
pub struct StreamOptions {
    /// Stop after this long (`--duration`).
    pub duration: Option<Duration>,
    /// How often the lost-event counter is checked and new losses reported.
    pub lost_check: Duration,
}

impl Default for StreamOptions {
    fn default() -> Self {
        StreamOptions {
            duration: None,
            lost_check: Duration::from_secs(1),
        }
    }
}

/// Polls the `events` ring buffer of `obj`, handing each record to `consumer` until a signal,
/// the duration, or the consumer stops it. Returns the total of events lost in the kernel.
pub fn stream(obj: &Object, opts: &StreamOptions, consumer: &mut dyn Consumer) -> Result<u64> {
    let fd = obj.map_fd("events")?;
    let mut ctx = Ctx {
        consumer,
        stopped: false,
    };
    let rb = unsafe {
        sys::ring_buffer__new(
            fd,
            Some(on_record),
            &mut ctx as *mut Ctx as *mut c_void,
            std::ptr::null(),
        )
    };
    if rb.is_null() {
        return Err(Error::os(
            "cannot open the ring buffer",
            std::io::Error::last_os_error().raw_os_error().unwrap_or(0),
        ));
    }
    let deadline = opts.duration.map(|d| Instant::now() + d);
    let mut next_lost_check = Instant::now() + opts.lost_check;
    let mut lost_seen = 0u64;
    let mut result = Ok(());
    loop {
        ctx.consumer.flush();
        let mut timeout = Duration::from_millis(100);
        if let Some(d) = deadline {
            timeout = timeout.min(d.saturating_duration_since(Instant::now()));
        }
        // The BPF side wakes us only once a batch is waiting (see events_wakeup_flags in
        // bpf/common.h); otherwise the timeout does, and whatever arrived is read then.
        let mut rc = unsafe { sys::ring_buffer__poll(rb, timeout.as_millis() as c_int) };
        if rc >= 0 && !ctx.stopped {
            rc = unsafe { sys::ring_buffer__consume(rb) };
        }
        if ctx.stopped {
            break;
        }
        if rc < 0 && rc != -4 {
            result = Err(Error::os("reading the ring buffer failed", -rc));
            break;
        }
        let now = Instant::now();
        if now >= next_lost_check {
            next_lost_check = now + opts.lost_check;
            let total = obj.lost_events();
            if total > lost_seen {
                ctx.consumer.lost(total - lost_seen, total);
                lost_seen = total;
            }
        }
        if stop_requested() || deadline.is_some_and(|d| now >= d) {
            // Whatever the kernel already wrote is still delivered.
            unsafe { sys::ring_buffer__consume(rb) };
            break;
        }
    }
    unsafe { sys::ring_buffer__free(rb) };
    let total = obj.lost_events();
    if total > lost_seen && !ctx.stopped {
        ctx.consumer.lost(total - lost_seen, total);
    }
    // Everything buffered goes out, unless the reader stopped reading: an alarm interrupts a
    // write that blocks past the grace period (`output` then gives up). A signal armed it
    // already; an end by --duration arms it here.
    if !stop_requested() {
        let _ = nix::unistd::alarm::set(OUTPUT_GRACE_SECS);
    }
    ctx.consumer.flush();
    nix::unistd::alarm::cancel();
    result.map(|_| total)
}

/// What a streaming tool's `main` ends with: [`stream`] until a signal or `duration`, then
/// the total of lost events as a warning (each loss was reported as it happened too).
pub fn stream_until(
    obj: &Object,
    duration: Option<Duration>,
    consumer: &mut dyn Consumer,
) -> Result<()> {
    let opts = StreamOptions {
        duration,
        ..Default::default()
    };
    let lost = stream(obj, &opts, consumer)?;
    if lost > 0 {
        log::warn!("{lost} events were lost in all (the ring buffer was full)");
    }
    Ok(())
}
