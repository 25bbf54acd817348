//! Reading aggregation maps from user space: what interval tools do at every report.

use std::ffi::c_void;

use libbpf_sys as sys;

use crate::bpf::Object;
use crate::error::{Error, Result};
use crate::pod::{self, Pod};

/// Entries moved per batch call.
const BATCH: u32 = 256;

fn errno() -> i32 {
    crate::bpf::last_errno()
}

/// Takes every entry out of the hash map `name` of `obj`: the keys and values as `#[repr(C)]`
/// twins of the BPF side's structs, and an empty map for the next interval.
///
/// A map the programs add to while they run is declared with `DEFINE_DRAINED_HASH`
/// (bpf/maps.h): a program adds through a pointer its lookup returned, so an entry read and
/// deleted under it would lose the addition. Such a map is first swapped for its empty spare
/// in `<name>_live`; the kernel returns from that update after an RCU grace period (every map
/// of maps update, Linux 5.0 on), when no program can still be writing the map taken out.
/// Nothing writes it then, and it is drained exactly, to be the next spare.
///
/// Uses `BPF_MAP_LOOKUP_AND_DELETE_BATCH` (Linux 5.6); where the batch call is missing, falls
/// back to reading and deleting key by key.
pub fn drain_hash<K: Pod, V: Pod>(obj: &Object, name: &str) -> Result<Vec<(K, V)>> {
    let fd = swap_out(obj, name)?;
    match drain_batch(fd) {
        Err(e) if e == libc::EINVAL || e == libc::ENOTSUP || e == 524 => {
            // 524: ENOTSUPP, the kernel's internal "not supported" that leaks to user space.
            log::debug!("{name}: no batch lookup-and-delete ({e}), draining key by key");
            drain_by_key(fd, name)
        }
        Err(e) => Err(Error::os(format!("cannot read map {name}"), e)),
        Ok(v) => Ok(v),
    }
}

/// The map of `name` to drain: for a drained hash map (a `<name>_live` slot), the one in use,
/// after the spare took its place; else `name` itself.
fn swap_out(obj: &Object, name: &str) -> Result<i32> {
    let live = format!("{name}_live");
    if !obj.has_map(&live) {
        return obj.map_fd(name);
    }
    let spare = format!("{name}_spare");
    let (out, into) = if obj.spare_live(name) {
        (spare.as_str(), name)
    } else {
        (name, spare.as_str())
    };
    let into_fd = obj.map_fd(into)? as u32;
    obj.map_update(&live, &0u32, &into_fd)?;
    obj.swapped(name);
    obj.map_fd(out)
}

fn drain_batch<K: Pod, V: Pod>(fd: i32) -> std::result::Result<Vec<(K, V)>, i32> {
    let mut out = Vec::new();
    let mut keys = vec![pod::zeroed::<K>(); BATCH as usize];
    let mut values = vec![pod::zeroed::<V>(); BATCH as usize];
    // The batch token: a bucket index for hash maps; sized generously.
    let mut token = [0u64; 4];
    let mut first = true;
    loop {
        let mut count = BATCH;
        let opts = sys::bpf_map_batch_opts {
            sz: std::mem::size_of::<sys::bpf_map_batch_opts>() as sys::size_t,
            ..Default::default()
        };
        let next = token;
        // SAFETY: `keys` and `values` hold `count` Pod elements each (the kernel writes at most
        // that many, of the map's key and value sizes, which are K's and V's), and the tokens
        // are 32 bytes, more than a hash map's bucket index needs.
        let rc = unsafe {
            sys::bpf_map_lookup_and_delete_batch(
                fd,
                if first {
                    std::ptr::null_mut()
                } else {
                    next.as_ptr() as *mut c_void
                },
                token.as_mut_ptr() as *mut c_void,
                keys.as_mut_ptr() as *mut c_void,
                values.as_mut_ptr() as *mut c_void,
                &mut count,
                &opts,
            )
        };
        let err = if rc < 0 { errno() } else { 0 };
        if rc < 0 && err == libc::ENOSPC {
            // One bucket holds more entries than the buffers: grow them and retry.
            let n = keys.len() * 2;
            keys.resize(n, pod::zeroed::<K>());
            values.resize(n, pod::zeroed::<V>());
            continue;
        }
        if rc < 0 && err != libc::ENOENT {
            return Err(err);
        }
        let n = (count as usize).min(keys.len());
        out.extend(keys[..n].iter().copied().zip(values[..n].iter().copied()));
        if rc < 0 {
            // ENOENT: no more buckets.
            return Ok(out);
        }
        first = false;
    }
}

/// Every entry of the hash map `name` of `obj`, left in place (for counters that only grow,
/// read as differences).
pub fn read_hash<K: Pod, V: Pod>(obj: &Object, name: &str) -> Result<Vec<(K, V)>> {
    walk(obj.map_fd(name)?, name)
}

fn drain_by_key<K: Pod, V: Pod>(fd: i32, name: &str) -> Result<Vec<(K, V)>> {
    let out = walk(fd, name)?;
    // Deleted after the walk: deleting while walking restarts the walk at the first bucket.
    for (k, _) in &out {
        // SAFETY: a K-sized key.
        unsafe { sys::bpf_map_delete_elem(fd, k as *const K as *const c_void) };
    }
    Ok(out)
}

/// Key by key: every (key, value) of the hash map behind `fd`.
fn walk<K: Pod, V: Pod>(fd: i32, name: &str) -> Result<Vec<(K, V)>> {
    let mut out = Vec::new();
    let mut key = pod::zeroed::<K>();
    let mut value = pod::zeroed::<V>();
    let mut prev: Option<K> = None;
    loop {
        // SAFETY: `prev` (if any) and `key` are K-sized Pod values, the map's key size.
        let rc = unsafe {
            sys::bpf_map_get_next_key(
                fd,
                prev.as_ref()
                    .map_or(std::ptr::null(), |p| p as *const K as *const c_void),
                &mut key as *mut K as *mut c_void,
            )
        };
        if rc < 0 {
            let e = errno();
            if e == libc::ENOENT {
                break;
            }
            return Err(Error::os(format!("cannot walk map {name}"), e));
        }
        // SAFETY: a K-sized key and a V-sized value buffer, the map's sizes.
        let rc = unsafe {
            sys::bpf_map_lookup_elem(
                fd,
                &key as *const K as *const c_void,
                &mut value as *mut V as *mut c_void,
            )
        };
        if rc == 0 {
            out.push((key, value));
        }
        prev = Some(key);
    }
    Ok(out)
}

/// Keys and values as bytes.
pub type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// Every entry of the map behind `fd`, as bytes, read key by key and left in place: keys of
/// `key_size` bytes, values of `value_len` (a per-CPU map's: every possible CPU's value, each
/// padded to 8 bytes). At most `limit` entries (a map changing under the walk, whose deleted
/// keys restart it, cannot make it go on forever). Err(errno).
pub fn read_entries(
    fd: i32,
    key_size: usize,
    value_len: usize,
    limit: usize,
) -> std::result::Result<Entries, i32> {
    let mut out = Vec::new();
    let mut prev: Option<Vec<u8>> = None;
    let mut key = vec![0u8; key_size.max(1)];
    for _ in 0..limit.saturating_mul(2) {
        if out.len() >= limit {
            break;
        }
        // SAFETY: `prev` (if any) and `key` hold key_size bytes, the map's key size.
        let rc = unsafe {
            sys::bpf_map_get_next_key(
                fd,
                prev.as_ref()
                    .map_or(std::ptr::null(), |p| p.as_ptr() as *const c_void),
                key.as_mut_ptr() as *mut c_void,
            )
        };
        if rc < 0 {
            let e = errno();
            if e == libc::ENOENT {
                break;
            }
            return Err(e);
        }
        let mut value = vec![0u8; value_len.max(1)];
        // SAFETY: a key of the map's size and room for value_len bytes, what the kernel writes
        // for this map (per-CPU maps: one padded value per possible CPU).
        let rc = unsafe {
            sys::bpf_map_lookup_elem(
                fd,
                key.as_ptr() as *const c_void,
                value.as_mut_ptr() as *mut c_void,
            )
        };
        if rc == 0 {
            value.truncate(value_len);
            out.push((key[..key_size].to_vec(), value));
        } else if errno() != libc::ENOENT {
            return Err(errno());
        }
        prev = Some(key.clone());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Creates a real hash map (needs privileges) and checks both draining paths.
    fn with_map(entries: u32, f: impl FnOnce(i32)) {
        if !crate::probe::bpf_privileged() {
            eprintln!("skipped: no privileges to create BPF maps");
            return;
        }
        // SAFETY: plain values; the kernel returns a new map descriptor or -1.
        let fd = unsafe {
            sys::bpf_map_create(
                sys::BPF_MAP_TYPE_HASH,
                std::ptr::null(),
                8,
                16,
                entries,
                std::ptr::null(),
            )
        };
        let err = std::io::Error::last_os_error();
        if fd < 0 && err.raw_os_error() == Some(libc::ENOSYS) {
            // User-mode emulation (qemu-arm running the armv7 tests) has no bpf().
            eprintln!("skipped: no bpf() syscall here");
            return;
        }
        assert!(fd >= 0, "bpf_map_create: {err}");
        // SAFETY: the descriptor was just created and is owned here only.
        let _owned = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
        f(fd);
    }

    fn fill(fd: i32, n: u64) {
        for k in 0..n {
            let v = [k * 10, k * 100];
            // SAFETY: an 8-byte key and a 16-byte value, the map's sizes.
            let rc = unsafe {
                sys::bpf_map_update_elem(
                    fd,
                    &k as *const u64 as *const c_void,
                    v.as_ptr() as *const c_void,
                    0,
                )
            };
            assert_eq!(rc, 0);
        }
    }

    fn check(mut got: Vec<(u64, [u64; 2])>, n: u64) {
        got.sort();
        assert_eq!(got.len() as u64, n);
        for (k, v) in got {
            assert_eq!(v, [k * 10, k * 100]);
        }
    }

    #[test]
    fn batch_and_key_by_key_drain_everything_once() {
        // More entries than one batch, so the token is followed across calls.
        with_map(2048, |fd| {
            fill(fd, 1000);
            check(drain_batch(fd).unwrap(), 1000);
            assert!(drain_batch::<u64, [u64; 2]>(fd).unwrap().is_empty());
            fill(fd, 300);
            check(drain_by_key(fd, "t").unwrap(), 300);
            assert!(drain_by_key::<u64, [u64; 2]>(fd, "t").unwrap().is_empty());
        });
    }

    #[test]
    fn entries_read_as_bytes_stay_in_the_map() {
        with_map(64, |fd| {
            fill(fd, 5);
            let got = read_entries(fd, 8, 16, 100).unwrap();
            assert_eq!(got.len(), 5);
            for (k, v) in &got {
                let k = u64::from_le_bytes(k[..].try_into().unwrap());
                assert_eq!(u64::from_le_bytes(v[..8].try_into().unwrap()), k * 10);
            }
            assert_eq!(read_entries(fd, 8, 16, 3).unwrap().len(), 3);
            check(drain_by_key(fd, "t").unwrap(), 5);
        });
    }
}
