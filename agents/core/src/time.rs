//! Kernel timestamps to wall-clock time.
//!
//! BPF programs stamp events with `bpf_ktime_get_boot_ns()` (CLOCK_BOOTTIME: counts suspend,
//! never jumps). The offset to CLOCK_REALTIME is read once at start-up, so converting an event
//! costs an addition.

use nix::time::{clock_gettime, ClockId};

/// Converts boot-time nanoseconds to Unix-epoch nanoseconds.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    offset_ns: i128,
    start_boot_ns: u64,
}

fn now_ns(id: ClockId) -> i128 {
    let ts = clock_gettime(id).expect("clock_gettime of a clock every Linux has");
    ts.tv_sec() as i128 * 1_000_000_000 + ts.tv_nsec() as i128
}

/// CLOCK_BOOTTIME now, in nanoseconds: the clock of `bpf_ktime_get_boot_ns()`.
pub fn boot_now_ns() -> u64 {
    now_ns(ClockId::CLOCK_BOOTTIME) as u64
}

impl Clock {
    pub fn new() -> Clock {
        // Read boot time on both sides of realtime and take the middle: the error is half the gap.
        let b1 = now_ns(ClockId::CLOCK_BOOTTIME);
        let real = now_ns(ClockId::CLOCK_REALTIME);
        let b2 = now_ns(ClockId::CLOCK_BOOTTIME);
        let boot = (b1 + b2) / 2;
        Clock {
            offset_ns: real - boot,
            start_boot_ns: boot as u64,
        }
    }

    /// Unix-epoch nanoseconds of a boot-time stamp.
    pub fn wall_ns(&self, boot_ns: u64) -> i128 {
        boot_ns as i128 + self.offset_ns
    }

    /// Seconds since the tool started (BCC's `-t` column).
    pub fn since_start(&self, boot_ns: u64) -> f64 {
        (boot_ns as i64 - self.start_boot_ns as i64) as f64 / 1e9
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new()
    }
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// RFC 3339 UTC with microseconds: `2026-11-25T15:22:15.123456Z`.
pub fn rfc3339_utc(epoch_ns: i128) -> String {
    let secs = epoch_ns.div_euclid(1_000_000_000) as i64;
    let micros = (epoch_ns.rem_euclid(1_000_000_000) / 1000) as u32;
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}Z",
        sod / 3600,
        sod / 60 % 60,
        sod % 60
    )
}

#[repr(C)]
struct Tm {
    tm_sec: i32,
    tm_min: i32,
    tm_hour: i32,
    tm_mday: i32,
    tm_mon: i32,
    tm_year: i32,
    tm_wday: i32,
    tm_yday: i32,
    tm_isdst: i32,
    tm_gmtoff: i64,
    tm_zone: *const u8,
}

extern "C" {
    fn localtime_r(t: *const i64, tm: *mut Tm) -> *mut Tm;
}

/// `HH:MM:SS` in local time (TZ, /etc/localtime), as BCC's `-T` column prints it.
pub fn hms_local(epoch_ns: i128) -> String {
    let secs = epoch_ns.div_euclid(1_000_000_000) as i64;
    let mut tm = std::mem::MaybeUninit::<Tm>::zeroed();
    let ok = unsafe { !localtime_r(&secs, tm.as_mut_ptr()).is_null() };
    if ok {
        let tm = unsafe { tm.assume_init() };
        format!("{:02}:{:02}:{:02}", tm.tm_hour, tm.tm_min, tm.tm_sec)
    } else {
        let sod = secs.rem_euclid(86_400);
        format!("{:02}:{:02}:{:02}", sod / 3600, sod / 60 % 60, sod % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_known_instants() {
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00.000000Z");
        // 2000-02-29 12:34:56.789012 UTC, a leap day in a century leap year.
        assert_eq!(
            rfc3339_utc(951_827_696_789_012_345),
            "2000-02-29T12:34:56.789012Z"
        );
        assert_eq!(rfc3339_utc(-1_000), "1969-12-31T23:59:59.999999Z");
    }

    #[test]
    fn boot_stamps_convert_to_now() {
        let clock = Clock::new();
        let boot_now = now_ns(ClockId::CLOCK_BOOTTIME) as u64;
        let real_now = now_ns(ClockId::CLOCK_REALTIME);
        let err = (clock.wall_ns(boot_now) - real_now).abs();
        assert!(err < 50_000_000, "conversion off by {err} ns");
        assert!(clock.since_start(boot_now) >= 0.0);
    }
}
