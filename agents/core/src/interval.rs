//! The loop of interval tools (syscount, filetop, ...): the kernel side aggregates into maps,
//! and every interval the tool drains them and prints one report (in JSON, one object per
//! interval: see docs/json.md).
//!
//! Reports are due at fixed multiples of the interval from the start, so a slow report does not
//! make the following ones drift. A signal or the end of `--duration` ends the run with one last
//! report of the interval under way, which is then shorter: what was counted is never dropped.

use std::time::{Duration, Instant};

use crate::error::Result;
use crate::run::{stop_requested, Flow};
use crate::time::boot_now_ns;

/// When reports are due and when the run ends.
#[derive(Debug, Clone, Copy, Default)]
pub struct IntervalOptions {
    /// Time between reports; None: a single report when the run ends.
    pub interval: Option<Duration>,
    /// Stop after this many reports.
    pub count: Option<u64>,
    /// Stop after this long.
    pub duration: Option<Duration>,
}

/// One report: which one, and the stretch of time it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tick {
    /// 1 for the first report.
    pub index: u64,
    /// CLOCK_BOOTTIME (ns) of the interval's start and end: the same clock as `time_ns` in
    /// events, so reports and events order together.
    pub start_ns: u64,
    pub end_ns: u64,
    /// No report follows this one.
    pub last: bool,
}

impl Tick {
    pub fn length_ns(&self) -> u64 {
        self.end_ns - self.start_ns
    }
}

/// How often the loop looks for a signal while it waits.
const POLL: Duration = Duration::from_millis(50);

/// Calls `report` at every interval until the count, the duration, a signal (see
/// [`crate::run::install_signal_handlers`]) or the reporter itself ([`Flow::Stop`]) ends the
/// run. The last call has `last` set, whatever ended it.
pub fn run(opts: &IntervalOptions, report: &mut dyn FnMut(&Tick) -> Result<Flow>) -> Result<()> {
    let start = Instant::now();
    let deadline = opts.duration.map(|d| start + d);
    let mut start_ns = boot_now_ns();
    let mut index = 0u64;
    loop {
        index += 1;
        let due = opts.interval.map(|i| start + i * index as u32);
        let until = match (due, deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        // Wait for the report's time, a deadline or a signal.
        let mut stopped = false;
        loop {
            if stop_requested() {
                stopped = true;
                break;
            }
            let now = Instant::now();
            let left = match until {
                Some(u) if now >= u => break,
                Some(u) => u - now,
                None => POLL,
            };
            std::thread::sleep(left.min(POLL));
        }
        let now = Instant::now();
        let last =
            stopped || deadline.is_some_and(|d| now >= d) || opts.count.is_some_and(|c| index >= c);
        let end_ns = boot_now_ns();
        let tick = Tick {
            index,
            start_ns,
            end_ns,
            last,
        };
        start_ns = end_ns;
        match report(&tick)? {
            Flow::Stop => return Ok(()),
            Flow::Continue if last => return Ok(()),
            Flow::Continue => {}
        }
    }
}

/// Tracks a kernel-side loss counter between reports (see `lost_events` in bpf/common.h).
#[derive(Debug, Default)]
pub struct LostCounter {
    seen: u64,
}

impl LostCounter {
    /// Given the counter's current total, the losses since the last call: (new, total), or
    /// None if there were none.
    pub fn update(&mut self, total: u64) -> Option<(u64, u64)> {
        if total > self.seen {
            let new = total - self.seen;
            self.seen = total;
            Some((new, total))
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_ends_the_run_and_reports_are_evenly_spaced() {
        let opts = IntervalOptions {
            interval: Some(Duration::from_millis(100)),
            count: Some(3),
            duration: None,
        };
        let t0 = Instant::now();
        let mut ticks = Vec::new();
        run(&opts, &mut |t| {
            ticks.push((*t, t0.elapsed()));
            Ok(Flow::Continue)
        })
        .unwrap();
        assert_eq!(ticks.len(), 3);
        assert_eq!(
            ticks.iter().map(|(t, _)| t.last).collect::<Vec<_>>(),
            [false, false, true]
        );
        for (i, (t, at)) in ticks.iter().enumerate() {
            assert_eq!(t.index, i as u64 + 1);
            let due = Duration::from_millis(100 * (i as u64 + 1));
            assert!(
                *at >= due && *at < due + Duration::from_millis(80),
                "{at:?}"
            );
            // Each report covers about one interval, and they tile time without gaps.
            assert!((90_000_000..180_000_000).contains(&t.length_ns()), "{t:?}");
            if i > 0 {
                assert_eq!(t.start_ns, ticks[i - 1].0.end_ns);
            }
        }
    }

    #[test]
    fn duration_cuts_the_last_interval_short() {
        let opts = IntervalOptions {
            interval: Some(Duration::from_millis(200)),
            count: None,
            duration: Some(Duration::from_millis(300)),
        };
        let mut ticks = Vec::new();
        run(&opts, &mut |t| {
            ticks.push(*t);
            Ok(Flow::Continue)
        })
        .unwrap();
        assert_eq!(ticks.len(), 2, "{ticks:?}");
        assert!(!ticks[0].last && ticks[1].last);
        assert!(ticks[1].length_ns() < 160_000_000, "{:?}", ticks[1]);
    }

    #[test]
    fn without_interval_one_report_at_the_end_and_the_reporter_can_stop() {
        let opts = IntervalOptions {
            duration: Some(Duration::from_millis(150)),
            ..Default::default()
        };
        let mut n = 0;
        run(&opts, &mut |t| {
            n += 1;
            assert!(t.last && t.length_ns() >= 140_000_000);
            Ok(Flow::Continue)
        })
        .unwrap();
        assert_eq!(n, 1);

        let opts = IntervalOptions {
            interval: Some(Duration::from_millis(20)),
            ..Default::default()
        };
        let mut n = 0;
        run(&opts, &mut |_| {
            n += 1;
            Ok(if n == 2 { Flow::Stop } else { Flow::Continue })
        })
        .unwrap();
        assert_eq!(n, 2);
    }

    #[test]
    fn lost_counter_reports_only_news() {
        let mut l = LostCounter::default();
        assert_eq!(l.update(0), None);
        assert_eq!(l.update(5), Some((5, 5)));
        assert_eq!(l.update(5), None);
        assert_eq!(l.update(7), Some((2, 7)));
    }
}
