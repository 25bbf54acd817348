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

    /// Nanoseconds since the tool started (BCC's `-t` column), negative for earlier stamps.
    pub fn since_start_ns(&self, boot_ns: u64) -> i64 {
        boot_ns as i64 - self.start_boot_ns as i64
    }

    /// Seconds since the tool started, with `decimals` decimals, for a text column.
    pub fn since_start(&self, boot_ns: u64, decimals: u32) -> crate::text::Fixed {
        crate::text::Fixed::ratio(self.since_start_ns(boot_ns).into(), 1_000_000_000, decimals)
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

/// `HH:MM:SS` in local time (TZ, /etc/localtime), as BCC's `-T` column prints it.
pub fn hms_local(epoch_ns: i128) -> String {
    let secs = epoch_ns.div_euclid(1_000_000_000) as i64;
    let (h, m, s) = local_hms(secs);
    let mut out = Vec::with_capacity(8);
    push_hms(&mut out, h, m, s);
    String::from_utf8(out).unwrap_or_default()
}

/// Hours, minutes, seconds of the local time at `secs` since the epoch (UTC if the local time
/// zone cannot be known).
fn local_hms(secs: i64) -> (u32, u32, u32) {
    // SAFETY: an all-zero `tm` is a valid value; localtime_r writes only into it.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    if localtime(secs, &mut tm) {
        (tm.tm_hour as u32, tm.tm_min as u32, tm.tm_sec as u32)
    } else {
        let sod = secs.rem_euclid(86_400) as u32;
        (sod / 3600, sod / 60 % 60, sod % 60)
    }
}

/// localtime_r with a 64-bit time on every target. 32-bit musl (ARMv7) moved to a 64-bit
/// time_t in 1.2.0 under new symbol names; its `localtime_r` is the compatibility entry with
/// the old 32-bit time_t, which the libc crate still declares (and which would wrap in 2038).
/// `struct tm` is the same for both.
#[cfg(all(target_env = "musl", target_pointer_width = "32"))]
fn localtime(secs: i64, tm: &mut libc::tm) -> bool {
    extern "C" {
        fn __localtime64_r(t: *const i64, tm: *mut libc::tm) -> *mut libc::tm;
    }
    // SAFETY: both pointers are valid for the call; localtime_r is thread-safe.
    !unsafe { __localtime64_r(&secs, tm) }.is_null()
}

#[cfg(not(all(target_env = "musl", target_pointer_width = "32")))]
fn localtime(secs: i64, tm: &mut libc::tm) -> bool {
    // 64-bit targets: time_t is i64. (32-bit glibc keeps a 32-bit time_t unless built with
    // _TIME_BITS=64: the cast wraps there after 2038.)
    #[allow(deprecated, clippy::unnecessary_cast)]
    let t = secs as libc::time_t;
    // SAFETY: both pointers are valid for the call; localtime_r is thread-safe.
    !unsafe { libc::localtime_r(&t, tm) }.is_null()
}

fn push_hms(out: &mut Vec<u8>, h: u32, m: u32, s: u32) {
    crate::json::push_padded(out, h.into(), 2);
    out.push(b':');
    crate::json::push_padded(out, m.into(), 2);
    out.push(b':');
    crate::json::push_padded(out, s.into(), 2);
}

/// Formats timestamps of events, which arrive in order and mostly within the same second:
/// the text of the current second is kept and only what changes is written again.
#[derive(Debug, Default)]
pub struct Stamps {
    rfc_sec: Option<i64>,
    /// `2026-11-25T15:22:15.` for `rfc_sec`.
    rfc_prefix: Vec<u8>,
    hms_sec: Option<i64>,
    hms: Vec<u8>,
}

impl Stamps {
    /// Appends RFC 3339 UTC with microseconds (as [`rfc3339_utc`]) of `epoch_ns`.
    pub fn push_rfc3339(&mut self, out: &mut Vec<u8>, epoch_ns: i128) {
        let secs = epoch_ns.div_euclid(1_000_000_000) as i64;
        let micros = (epoch_ns.rem_euclid(1_000_000_000) / 1000) as u64;
        if self.rfc_sec != Some(secs) {
            let full = rfc3339_utc(secs as i128 * 1_000_000_000);
            self.rfc_prefix.clear();
            self.rfc_prefix.extend_from_slice(&full.as_bytes()[..20]);
            self.rfc_sec = Some(secs);
        }
        crate::json::put(out, &self.rfc_prefix);
        crate::json::push_padded(out, micros, 6);
        out.push(b'Z');
    }

    /// Appends `HH:MM:SS` in local time (as [`hms_local`]) of `epoch_ns`.
    pub fn push_hms_local(&mut self, out: &mut Vec<u8>, epoch_ns: i128) {
        let secs = epoch_ns.div_euclid(1_000_000_000) as i64;
        if self.hms_sec != Some(secs) {
            let (h, m, s) = local_hms(secs);
            self.hms.clear();
            push_hms(&mut self.hms, h, m, s);
            self.hms_sec = Some(secs);
        }
        crate::json::put(out, &self.hms);
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
    fn cached_stamps_equal_the_plain_ones() {
        let mut st = Stamps::default();
        for ns in [
            0i128,
            951_827_696_789_012_345,
            951_827_696_999_999_999,
            951_827_697_000_000_001,
            -1_000,
        ] {
            let mut b = Vec::new();
            st.push_rfc3339(&mut b, ns);
            assert_eq!(String::from_utf8(b).unwrap(), rfc3339_utc(ns));
            let mut b = Vec::new();
            st.push_hms_local(&mut b, ns);
            assert_eq!(String::from_utf8(b).unwrap(), hms_local(ns));
        }
    }

    /// Local time of an instant after 2038 (where a 32-bit time_t wraps), in whatever zone
    /// this machine is: the local time less its UTC offset is the UTC time.
    #[test]
    fn local_time_after_2038() {
        // 2040-07-01 12:34:56 UTC.
        let secs = 2_224_758_896i64;
        assert_eq!(
            rfc3339_utc(secs as i128 * 1_000_000_000),
            "2040-07-01T12:34:56.000000Z"
        );
        // SAFETY: an all-zero `tm` is a valid value.
        let mut tm: libc::tm = unsafe { std::mem::zeroed() };
        assert!(localtime(secs, &mut tm));
        assert!((139..=141).contains(&tm.tm_year), "year {}", tm.tm_year);
        let local = i64::from(tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec);
        let utc = (local - tm.tm_gmtoff as i64).rem_euclid(86_400);
        assert_eq!(utc, 12 * 3600 + 34 * 60 + 56);
        assert_eq!(
            local_hms(secs),
            (tm.tm_hour as u32, tm.tm_min as u32, tm.tm_sec as u32)
        );
    }

    #[test]
    fn boot_stamps_convert_to_now() {
        let clock = Clock::new();
        let boot_now = now_ns(ClockId::CLOCK_BOOTTIME) as u64;
        let real_now = now_ns(ClockId::CLOCK_REALTIME);
        let err = (clock.wall_ns(boot_now) - real_now).abs();
        assert!(err < 50_000_000, "conversion off by {err} ns");
        assert!(clock.since_start_ns(boot_now) >= 0);
    }
}
