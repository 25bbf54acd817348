//! When interval tools (syscount, filetop, ...) report: the kernel side aggregates into maps,
//! and every interval the tool drains them and prints one report (in JSON, one object per
//! interval: see docs/json.md).
//!
//! Reports are due at fixed multiples of the interval from the start, so a slow report does not
//! make the following ones drift. A signal or the end of `--duration` ends the run with one last
//! report of the interval under way, which is then shorter: what was counted is never dropped.

use std::time::{Duration, Instant};

/// /proc/loadavg without its newline, for the summary line top-style tools print (empty if
/// unreadable).
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.trim_end().to_string())
        .unwrap_or_default()
}

/// When reports are due and when the run ends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IntervalOptions {
    /// Time between reports; None: a single report when the run ends.
    pub interval: Option<Duration>,
    /// Stop after this many reports.
    pub count: Option<u64>,
    /// Stop after this long.
    pub duration: Option<Duration>,
}

impl IntervalOptions {
    /// A report every `interval` (None: one when the run ends), `count` of them at the most.
    pub fn every(interval: Option<Duration>, count: Option<u64>) -> Self {
        IntervalOptions {
            interval,
            count,
            duration: None,
        }
    }

    /// A report every `interval`, every second by default (the top tools), `count` of them at
    /// the most.
    pub fn every_second_or(interval: Option<Duration>, count: Option<u64>) -> Self {
        Self::every(Some(interval.unwrap_or(Duration::from_secs(1))), count)
    }

    /// A single report when the run ends, after `duration` or at Ctrl-C.
    pub fn once(duration: Option<Duration>) -> Self {
        IntervalOptions {
            interval: None,
            count: None,
            duration,
        }
    }
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
        self.end_ns.saturating_sub(self.start_ns)
    }
}

/// The report schedule of one run.
#[derive(Debug, Clone)]
pub struct Schedule {
    opts: IntervalOptions,
    start: Instant,
    start_ns: u64,
    reports: u64,
}

impl Schedule {
    /// A schedule starting at `now` (CLOCK_BOOTTIME `now_ns`).
    pub fn new(opts: IntervalOptions, now: Instant, now_ns: u64) -> Schedule {
        Schedule {
            opts,
            start: now,
            start_ns: now_ns,
            reports: 0,
        }
    }

    /// When the next report is due by the interval (None: only at the end).
    pub fn next_due(&self) -> Option<Instant> {
        let i = self.opts.interval?;
        let n = u32::try_from(self.reports + 1).ok()?;
        i.checked_mul(n).and_then(|d| self.start.checked_add(d))
    }

    /// When the run ends by its duration.
    pub fn deadline(&self) -> Option<Instant> {
        self.opts.duration.and_then(|d| self.start.checked_add(d))
    }

    /// The earlier of [`Schedule::next_due`] and [`Schedule::deadline`].
    pub fn wake_at(&self) -> Option<Instant> {
        match (self.next_due(), self.deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Is a report due at `now` (by the interval or the deadline)?
    pub fn due(&self, now: Instant) -> bool {
        self.wake_at().is_some_and(|t| now >= t)
    }

    /// The report made at `now`; `stopping` when the run ends for another reason (a signal,
    /// the reader gone). `last` is set on the final one, whatever ended the run.
    pub fn tick(&mut self, now: Instant, now_ns: u64, stopping: bool) -> Tick {
        self.reports += 1;
        let last = stopping
            || self.deadline().is_some_and(|d| now >= d)
            || self.opts.count.is_some_and(|c| self.reports >= c);
        let t = Tick {
            index: self.reports,
            start_ns: self.start_ns,
            end_ns: now_ns.max(self.start_ns),
            last,
        };
        self.start_ns = t.end_ns;
        t
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

    pub fn total(&self) -> u64 {
        self.seen
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn reports_fall_on_multiples_of_the_interval_and_count_ends_the_run() {
        let t0 = Instant::now();
        let opts = IntervalOptions {
            interval: Some(Duration::from_millis(100)),
            count: Some(3),
            duration: None,
        };
        let mut s = Schedule::new(opts, t0, 1000 * MS);
        let mut ticks = Vec::new();
        for i in 1..=3u64 {
            let due = s.next_due().unwrap();
            assert_eq!(due, t0 + Duration::from_millis(100 * i));
            // A report made late does not move the next one.
            let now = due + Duration::from_millis(30);
            assert!(s.due(now) && !s.due(due - Duration::from_millis(1)));
            ticks.push(s.tick(now, 1000 * MS + (100 * i + 30) * MS, false));
        }
        assert_eq!(
            ticks.iter().map(|t| t.last).collect::<Vec<_>>(),
            [false, false, true]
        );
        // The reports tile time without gaps.
        assert_eq!(ticks[0].start_ns, 1000 * MS);
        for w in ticks.windows(2) {
            assert_eq!(w[1].start_ns, w[0].end_ns);
        }
        assert_eq!(ticks[1].length_ns(), 100 * MS);
    }

    #[test]
    fn duration_cuts_the_last_interval_short_and_signals_end_it() {
        let t0 = Instant::now();
        let opts = IntervalOptions {
            interval: Some(Duration::from_millis(200)),
            count: None,
            duration: Some(Duration::from_millis(300)),
        };
        let mut s = Schedule::new(opts, t0, 0);
        assert_eq!(s.wake_at(), Some(t0 + Duration::from_millis(200)));
        let first = s.tick(t0 + Duration::from_millis(200), 200 * MS, false);
        assert!(!first.last);
        assert_eq!(s.wake_at(), Some(t0 + Duration::from_millis(300)));
        let second = s.tick(t0 + Duration::from_millis(300), 300 * MS, false);
        assert!(second.last);
        assert_eq!(second.length_ns(), 100 * MS);

        // No interval: one report at the end, whatever ends the run.
        let mut s = Schedule::new(IntervalOptions::default(), t0, 0);
        assert_eq!(s.wake_at(), None);
        let t = s.tick(t0 + Duration::from_secs(5), 5000 * MS, true);
        assert!(t.last && t.index == 1 && t.length_ns() == 5000 * MS);
    }

    #[test]
    fn huge_intervals_never_overflow() {
        let opts = IntervalOptions {
            interval: Some(Duration::from_secs(u64::MAX / 2)),
            count: None,
            duration: Some(Duration::from_secs(u64::MAX)),
        };
        let s = Schedule::new(opts, Instant::now(), 0);
        assert_eq!(s.wake_at(), None);
    }

    #[test]
    fn lost_counter_reports_only_news() {
        let mut l = LostCounter::default();
        assert_eq!(l.update(0), None);
        assert_eq!(l.update(5), Some((5, 5)));
        assert_eq!(l.update(5), None);
        assert_eq!(l.update(7), Some((2, 7)));
        assert_eq!(l.total(), 7);
    }
}
