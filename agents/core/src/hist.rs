//! Histograms counted in the kernel (`bpf/hist.h`), printed the way BCC and libbpf-tools print
//! them, and written to JSON as explicit buckets.
//!
//! A log2 histogram's slot `i` holds the values whose floor(log2) is `i`, slot 0 also holding 0:
//! slot 0 is 0..=1, slot 1 is 2..=3, slot 2 is 4..=7. A linear one's slot `i` holds
//! `base + i*step .. base + (i+1)*step - 1`.
//!
//! JSON (docs/json.md, "Histograms"): `{"unit": .., "count": .., "buckets": [{"low": ..,
//! "high": .., "count": ..}, ...]}`, bounds inclusive, counts per bucket (not cumulative): the
//! same rows the text shows, so a script and a person read the same numbers.

use std::fmt::Write as _;

use crate::json::Obj;

/// Slots of `struct hist` in bpf/hist.h: enough for any u64 value.
pub const LOG2_SLOTS: usize = 64;

/// The inclusive value range of log2 slot `i`.
pub fn log2_bounds(i: usize) -> (u64, u64) {
    let high = if i >= 63 {
        u64::MAX
    } else {
        (1u64 << (i + 1)) - 1
    };
    let low = if i == 0 { 0 } else { 1u64 << i };
    (low, high)
}

/// The log2 slot of `v` (what `log2_slot` in bpf/hist.h computes).
pub fn log2_slot(v: u64) -> usize {
    if v == 0 {
        0
    } else {
        63 - v.leading_zeros() as usize
    }
}

fn stars(out: &mut String, val: u64, max: u64, width: u64) {
    let n = (val.min(max) * width).checked_div(max).unwrap_or(0);
    for _ in 0..n {
        out.push('*');
    }
    for _ in n..width {
        out.push(' ');
    }
    if val > max {
        out.push('+');
    }
}

/// Appends a log2 histogram as libbpf-tools' `print_log2_hist` draws it (nothing when every
/// slot is empty). `unit` names the values ("usecs").
pub fn print_log2(out: &mut String, slots: &[u64], unit: &str) {
    let Some(last) = slots.iter().rposition(|&v| v > 0) else {
        return;
    };
    let max = slots.iter().copied().max().unwrap_or(0);
    let wide = last > 32;
    let (pad, label, stars_n, width) = if wide {
        (15, 29, 20, 20)
    } else {
        (5, 19, 40, 10)
    };
    let _ = writeln!(out, "{:pad$}{unit:<label$} : count    distribution", "");
    for (i, &v) in slots.iter().enumerate().take(last + 1) {
        let (low, high) = log2_bounds(i);
        let _ = write!(out, "{low:>width$} -> {high:<width$} : {v:<8} |");
        stars(out, v, max, stars_n);
        out.push_str("|\n");
    }
}

/// Appends a linear histogram as libbpf-tools' `print_linear_hist` draws it: the non-empty
/// slots between the first and the last non-empty one.
pub fn print_linear(out: &mut String, slots: &[u64], base: u64, step: u64, unit: &str) {
    let Some(first) = slots.iter().position(|&v| v > 0) else {
        return;
    };
    let last = slots.iter().rposition(|&v| v > 0).unwrap_or(first);
    let max = slots.iter().copied().max().unwrap_or(0);
    let _ = writeln!(out, "     {unit:<13} : count     distribution");
    for (i, &v) in slots.iter().enumerate().take(last + 1).skip(first) {
        if v == 0 {
            continue;
        }
        let _ = write!(out, "        {:<10} : {v:<8} |", base + i as u64 * step);
        stars(out, v, max, 40);
        out.push_str("|\n");
    }
}

/// Writes a log2 histogram as the JSON object `key`: every bucket from the first slot to the
/// last non-empty one, as the text shows them.
pub fn json_log2(o: &mut Obj, key: &str, slots: &[u64], unit: &str) {
    let last = slots.iter().rposition(|&v| v > 0).map_or(0, |l| l + 1);
    let buckets = (0..last).map(|i| (log2_bounds(i), slots[i]));
    json_buckets(o, key, unit, slots.iter().sum(), buckets);
}

/// Writes a linear histogram as the JSON object `key`: the non-empty buckets.
pub fn json_linear(o: &mut Obj, key: &str, slots: &[u64], base: u64, step: u64, unit: &str) {
    let buckets = slots
        .iter()
        .enumerate()
        .filter(|(_, &v)| v > 0)
        .map(|(i, &v)| {
            let low = base + i as u64 * step;
            ((low, low + step.max(1) - 1), v)
        });
    json_buckets(o, key, unit, slots.iter().sum(), buckets);
}

fn json_buckets(
    o: &mut Obj,
    key: &str,
    unit: &str,
    count: u64,
    buckets: impl Iterator<Item = ((u64, u64), u64)>,
) {
    o.object(key, |h| {
        h.str("unit", unit).u64("count", count);
        h.objects("buckets", buckets, |b, ((low, high), n)| {
            b.u64("low", low).u64("high", high).u64("count", n);
        });
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_and_bounds_agree() {
        for v in [0u64, 1, 2, 3, 4, 7, 8, 1000, u64::MAX] {
            let (low, high) = log2_bounds(log2_slot(v));
            assert!(low <= v && v <= high, "{v} outside slot {}", log2_slot(v));
        }
        assert_eq!(log2_bounds(0), (0, 1));
        assert_eq!(log2_bounds(1), (2, 3));
        assert_eq!(log2_bounds(63), (1 << 63, u64::MAX));
    }

    /// The exact text of libbpf-tools' print_log2_hist for these counts (worked out from its
    /// format strings: "%*lld -> %-*lld : %-8d |", 40 stars scaled to the largest count).
    #[test]
    fn log2_text_like_libbpf_tools() {
        let mut slots = [0u64; LOG2_SLOTS];
        slots[0] = 1;
        slots[2] = 4;
        slots[3] = 2;
        let mut s = String::new();
        print_log2(&mut s, &slots, "usecs");
        let want = concat!(
            "     usecs               : count    distribution\n",
            "         0 -> 1          : 1        |**********                              |\n",
            "         2 -> 3          : 0        |                                        |\n",
            "         4 -> 7          : 4        |****************************************|\n",
            "         8 -> 15         : 2        |********************                    |\n",
        );
        assert_eq!(s, want);
        let mut empty = String::new();
        print_log2(&mut empty, &[0; 8], "usecs");
        assert!(empty.is_empty());
    }

    #[test]
    fn wide_log2_and_linear_text() {
        let mut slots = [0u64; LOG2_SLOTS];
        slots[33] = 3;
        let mut s = String::new();
        print_log2(&mut s, &slots, "nsecs");
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines.len(), 35);
        assert_eq!(
            lines[0],
            format!("{:15}{:<29} : count    distribution", "", "nsecs")
        );
        assert_eq!(
            lines[34],
            format!(
                "{:>20} -> {:<20} : 3        |{}|",
                1u64 << 33,
                (1u64 << 34) - 1,
                "*".repeat(20)
            )
        );

        let mut s = String::new();
        print_linear(&mut s, &[0, 2, 0, 1, 0], 10, 5, "msecs");
        assert_eq!(
            s,
            concat!(
                "     msecs         : count     distribution\n",
                "        15         : 2        |****************************************|\n",
                "        25         : 1        |********************                    |\n",
            )
        );
    }

    #[test]
    fn json_buckets() {
        let mut slots = [0u64; LOG2_SLOTS];
        slots[1] = 5;
        slots[3] = 1;
        let mut buf = Vec::new();
        let mut o = Obj::new(&mut buf);
        json_log2(&mut o, "latency", &slots, "usecs");
        json_linear(&mut o, "lin", &[0, 2, 0], 0, 10, "ms");
        o.end();
        let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
        assert_eq!(
            v["latency"],
            serde_json::json!({"unit": "usecs", "count": 6, "buckets": [
                {"low": 0, "high": 1, "count": 0}, {"low": 2, "high": 3, "count": 5},
                {"low": 4, "high": 7, "count": 0}, {"low": 8, "high": 15, "count": 1}]})
        );
        assert_eq!(
            v["lin"],
            serde_json::json!({"unit": "ms", "count": 2, "buckets": [{"low": 10, "high": 19, "count": 2}]})
        );
    }
}
