//! Sorting rows for reports, in little code.
//!
//! The standard library's sorts are fast but large: each element type gets its own copy of
//! several kilobytes. Report rows are sorted once an interval, at most a map's worth (10,240),
//! for which a heapsort is quick enough and a few hundred bytes per type.

use std::cmp::Ordering;

/// Sorts `v` by `cmp` (not stable: give `cmp` a total order for a deterministic result).
pub fn sort_by<T>(v: &mut [T], mut cmp: impl FnMut(&T, &T) -> Ordering) {
    let n = v.len();
    if n < 2 {
        return;
    }
    for start in (0..n / 2).rev() {
        sift_down(v, start, n, &mut cmp);
    }
    for end in (1..n).rev() {
        v.swap(0, end);
        sift_down(v, 0, end, &mut cmp);
    }
}

fn sift_down<T>(
    v: &mut [T],
    mut root: usize,
    end: usize,
    cmp: &mut impl FnMut(&T, &T) -> Ordering,
) {
    loop {
        let mut child = 2 * root + 1;
        if child >= end {
            return;
        }
        if child + 1 < end && cmp(&v[child], &v[child + 1]) == Ordering::Less {
            child += 1;
        }
        if cmp(&v[root], &v[child]) != Ordering::Less {
            return;
        }
        v.swap(root, child);
        root = child;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_like_std() {
        let mut seed = 12345u64;
        for n in [0usize, 1, 2, 3, 10, 100, 1000] {
            let mut v: Vec<(u64, u64)> = (0..n)
                .map(|i| {
                    seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                    (seed >> 60, i as u64)
                })
                .collect();
            let mut want = v.clone();
            want.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
            sort_by(&mut v, |a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
            assert_eq!(v, want, "n = {n}");
        }
    }
}
