//! The object's hash and array maps (per-CPU ones too), printed every `--map-interval` and at
//! the end: keys and values decoded by their BTF types, per-CPU values summed and listed per
//! CPU, and maps named as histograms drawn like BCC's `print_log2_hist`.
//!
//! Histogram convention: a map with the word `hist` in its name (`hist`, `latency_hist`,
//! `io_hist_usecs`: words are split at `_`; what follows `hist` is the unit, `value` if
//! nothing does) whose values are log2 slots: either an array map of integer counts indexed
//! by slot (BCC's BPF_HISTOGRAM), or a map whose value is an array of u32/u64 counts (or a
//! struct holding only that array, libbpf-tools' `struct hist`), one histogram per key.

use agent_core::bpf::{possible_cpus, MapDecl, Object};
use agent_core::btf::decode;
use agent_core::btf::types::Types;
use agent_core::error::{Error, Result};
use agent_core::hist;
use agent_core::interval::Tick;
use agent_core::json::{self, Obj};
use agent_core::output::Out;

const HASH: u32 = 1;
const ARRAY: u32 = 2;
const PERCPU_HASH: u32 = 5;
const PERCPU_ARRAY: u32 = 6;
const LRU_HASH: u32 = 9;
const LRU_PERCPU_HASH: u32 = 10;

/// Entries read from one map at most per report.
const MAX_ENTRIES: usize = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HistKind {
    /// An array indexed by slot.
    Indexed,
    /// One histogram per key.
    PerKey,
}

/// One map to print.
#[derive(Debug)]
pub struct MapDump {
    pub name: String,
    decl: MapDecl,
    hist: Option<(HistKind, String)>,
}

/// One entry: key, value (summed over CPUs), and each CPU's value for per-CPU maps.
struct Entry {
    key: Vec<u8>,
    value: Vec<u8>,
    cpus: Vec<Vec<u8>>,
}

fn kind_name(ty: u32) -> &'static str {
    match ty {
        HASH => "hash",
        ARRAY => "array",
        PERCPU_HASH => "percpu_hash",
        PERCPU_ARRAY => "percpu_array",
        LRU_HASH => "lru_hash",
        _ => "lru_percpu_hash",
    }
}

fn percpu(ty: u32) -> bool {
    matches!(ty, PERCPU_HASH | PERCPU_ARRAY | LRU_PERCPU_HASH)
}

/// The histogram unit of a map named like one: the words after `hist`.
fn hist_unit(name: &str) -> Option<String> {
    let words: Vec<&str> = name.split('_').collect();
    let at = words.iter().position(|w| *w == "hist")?;
    let unit = words[at + 1..].join("_");
    Some(if unit.is_empty() {
        "value".into()
    } else {
        unit
    })
}

/// The maps of `decls` to print, in order.
pub fn dumpable(decls: &[(String, MapDecl)], t: &Types) -> Vec<MapDump> {
    decls
        .iter()
        // lost_events counts what a ring could not take: reported as lost events instead.
        .filter(|(n, d)| {
            !d.internal
                && n != "lost_events"
                && matches!(
                    d.ty,
                    HASH | ARRAY | PERCPU_HASH | PERCPU_ARRAY | LRU_HASH | LRU_PERCPU_HASH
                )
        })
        .map(|(name, d)| {
            let hist = hist_unit(name).and_then(|unit| {
                let zeros = vec![0u8; d.value_size as usize];
                if decode::hist_slots(t, d.value_type, &zeros).is_some() {
                    Some((HistKind::PerKey, unit))
                } else if matches!(d.ty, ARRAY | PERCPU_ARRAY)
                    && matches!(d.value_size, 4 | 8)
                    && d.max_entries <= 4096
                    && t.int(d.value_type).is_none_or(|i| !i.bool)
                {
                    Some((HistKind::Indexed, unit))
                } else {
                    None
                }
            });
            MapDump {
                name: name.clone(),
                decl: *d,
                hist,
            }
        })
        .collect()
}

fn le(b: &[u8]) -> u64 {
    let mut v = 0u64;
    for (i, &x) in b.iter().take(8).enumerate() {
        v |= u64::from(x) << (8 * i);
    }
    v
}

/// A value without BTF: a number when it is 1, 2, 4 or 8 bytes, else hex.
fn raw_json(b: &[u8], buf: &mut Vec<u8>) {
    match b.len() {
        1 | 2 | 4 | 8 => json::push_u64(buf, le(b)),
        _ => json::push_hex(buf, b),
    }
}

fn raw_text(b: &[u8], out: &mut String) {
    use std::fmt::Write as _;
    match b.len() {
        1 | 2 | 4 | 8 => {
            let _ = write!(out, "{}", le(b));
        }
        _ => {
            out.push_str("0x");
            for x in b {
                let _ = write!(out, "{x:02x}");
            }
        }
    }
}

impl MapDump {
    fn read(&self, obj: &Object, t: &Types, cpus: usize) -> Result<Vec<Entry>> {
        let d = &self.decl;
        let fd = obj.map_fd(&self.name)?;
        let vs = d.value_size as usize;
        let stride = vs.div_ceil(8) * 8;
        let len = if percpu(d.ty) { stride * cpus } else { vs };
        let limit = (d.max_entries as usize).min(MAX_ENTRIES);
        let raw = agent_core::maps::read_entries(fd, d.key_size as usize, len, limit)
            .map_err(|e| Error::os(format!("cannot read map {}", self.name), e))?;
        let mut out = Vec::with_capacity(raw.len());
        for (key, v) in raw {
            let e = if percpu(d.ty) && stride > 0 {
                let cpus: Vec<Vec<u8>> = v
                    .chunks(stride)
                    .map(|c| c[..vs.min(c.len())].to_vec())
                    .collect();
                let mut sum = cpus.first().cloned().unwrap_or_default();
                for c in cpus.iter().skip(1) {
                    if d.value_type == 0 {
                        let v = le(&sum).wrapping_add(le(c));
                        let n = sum.len().min(8);
                        sum[..n].copy_from_slice(&v.to_le_bytes()[..n]);
                    } else {
                        decode::sum_into(t, d.value_type, &mut sum, c);
                    }
                }
                Entry {
                    key,
                    value: sum,
                    cpus,
                }
            } else {
                Entry {
                    key,
                    value: v,
                    cpus: Vec::new(),
                }
            };
            // Arrays hold every index: the ones never written are left out.
            let zero = e.value.iter().all(|&b| b == 0);
            if matches!(d.ty, ARRAY | PERCPU_ARRAY) && zero && self.hist.is_none() {
                continue;
            }
            out.push(e);
        }
        self.sort(t, &mut out);
        Ok(out)
    }

    /// Counters largest first (the lab's "top syscalls"); anything else by key.
    fn sort(&self, t: &Types, v: &mut [Entry]) {
        let d = &self.decl;
        let scalar = self.hist.is_none()
            && (t.int(d.value_type).is_some_and(|i| !i.bool && i.size <= 8)
                || d.value_type == 0 && matches!(d.value_size, 1 | 2 | 4 | 8));
        let int_key =
            t.int(d.key_type).is_some_and(|i| i.size <= 8) || d.key_type == 0 && d.key_size <= 8;
        agent_core::sort::sort_by(v, |a, b| {
            let by_key = if int_key {
                le(&a.key).cmp(&le(&b.key))
            } else {
                a.key.cmp(&b.key)
            };
            if scalar {
                le(&b.value).cmp(&le(&a.value)).then(by_key)
            } else {
                by_key
            }
        });
    }

    fn key_json(&self, t: &Types, k: &[u8], buf: &mut Vec<u8>) {
        match self.decl.key_type {
            0 => raw_json(k, buf),
            ty => decode::json_value(t, ty, k, buf),
        }
    }

    fn value_json(&self, t: &Types, v: &[u8], buf: &mut Vec<u8>) {
        match self.decl.value_type {
            0 => raw_json(v, buf),
            ty => decode::json_value(t, ty, v, buf),
        }
    }

    fn key_text(&self, t: &Types, k: &[u8], out: &mut String) {
        match self.decl.key_type {
            0 => raw_text(k, out),
            ty => decode::text_value(t, ty, k, out),
        }
    }

    fn value_text(&self, t: &Types, v: &[u8], out: &mut String) {
        match self.decl.value_type {
            0 => raw_text(v, out),
            ty => decode::text_value(t, ty, v, out),
        }
    }

    /// The slots of an indexed histogram: entry i is slot i.
    fn indexed_slots(&self, entries: &[Entry]) -> Vec<u64> {
        let mut slots = Vec::new();
        for e in entries {
            let i = le(&e.key) as usize;
            if i < 4096 {
                if slots.len() <= i {
                    slots.resize(i + 1, 0);
                }
                slots[i] = le(&e.value);
            }
        }
        slots
    }

    fn json(&self, t: &Types, entries: &[Entry], buf: &mut Vec<u8>) {
        json::push_str(buf, &self.name);
        buf.extend_from_slice(b":{\"type\":");
        json::push_str(buf, kind_name(self.decl.ty));
        match &self.hist {
            Some((HistKind::Indexed, unit)) => {
                let slots = self.indexed_slots(entries);
                hist::json_log2(&mut Obj::resume(buf), "hist", &slots, unit);
            }
            Some((HistKind::PerKey, unit)) => {
                buf.extend_from_slice(b",\"hists\":[");
                for (i, e) in entries.iter().enumerate() {
                    if i > 0 {
                        buf.push(b',');
                    }
                    buf.extend_from_slice(b"{\"key\":");
                    self.key_json(t, &e.key, buf);
                    let slots =
                        decode::hist_slots(t, self.decl.value_type, &e.value).unwrap_or_default();
                    hist::json_log2(&mut Obj::resume(buf), "hist", &slots, unit);
                    buf.push(b'}');
                }
                buf.push(b']');
            }
            None => {
                buf.extend_from_slice(b",\"entries\":[");
                for (i, e) in entries.iter().enumerate() {
                    if i > 0 {
                        buf.push(b',');
                    }
                    buf.extend_from_slice(b"{\"key\":");
                    self.key_json(t, &e.key, buf);
                    buf.extend_from_slice(b",\"value\":");
                    self.value_json(t, &e.value, buf);
                    if percpu(self.decl.ty) {
                        buf.extend_from_slice(b",\"cpus\":[");
                        for (c, v) in e.cpus.iter().enumerate() {
                            if c > 0 {
                                buf.push(b',');
                            }
                            self.value_json(t, v, buf);
                        }
                        buf.push(b']');
                    }
                    buf.push(b'}');
                }
                buf.push(b']');
            }
        }
        buf.push(b'}');
    }

    fn text(&self, t: &Types, entries: &[Entry], out: &mut String) {
        match &self.hist {
            Some((HistKind::Indexed, unit)) => {
                out.push_str(&self.name);
                out.push_str(":\n");
                let slots = self.indexed_slots(entries);
                if slots.iter().all(|&v| v == 0) {
                    out.push_str("     (empty)\n");
                }
                hist::print_log2(out, &slots, unit);
            }
            Some((HistKind::PerKey, unit)) => {
                if entries.is_empty() {
                    out.push_str(&self.name);
                    out.push_str(": (empty)\n");
                }
                for e in entries {
                    out.push_str(&self.name);
                    out.push_str(" = ");
                    self.key_text(t, &e.key, out);
                    out.push('\n');
                    let slots =
                        decode::hist_slots(t, self.decl.value_type, &e.value).unwrap_or_default();
                    hist::print_log2(out, &slots, unit);
                    out.push('\n');
                }
            }
            None => {
                if entries.is_empty() {
                    out.push_str(&self.name);
                    out.push_str(": (empty)\n");
                }
                for e in entries {
                    out.push_str(&self.name);
                    out.push('[');
                    self.key_text(t, &e.key, out);
                    out.push_str("] = ");
                    self.value_text(t, &e.value, out);
                    if percpu(self.decl.ty) {
                        out.push_str("  (cpus:");
                        for v in &e.cpus {
                            out.push(' ');
                            self.value_text(t, v, out);
                        }
                        out.push(')');
                    }
                    out.push('\n');
                }
            }
        }
    }
}

/// One report of every map: an `interval` object in JSON (docs/run.md), lines in text.
pub fn report(maps: &[MapDump], t: &Types, obj: &Object, tick: &Tick, out: &mut Out) -> Result<()> {
    let cpus = possible_cpus()?;
    let mut all = Vec::with_capacity(maps.len());
    for m in maps {
        all.push(m.read(obj, t, cpus)?);
    }
    if out.json() {
        let mut o = out.interval(tick);
        o.key("maps");
        let buf = o.raw();
        buf.push(b'{');
        for (i, (m, e)) in maps.iter().zip(&all).enumerate() {
            if i > 0 {
                buf.push(b',');
            }
            m.json(t, e, buf);
        }
        buf.push(b'}');
        o.end();
    } else {
        let mut s = out.take_line();
        s.push('\n');
        out.push_hms(&mut s, tick.end_ns);
        s.push('\n');
        for (m, e) in maps.iter().zip(&all) {
            m.text(t, e, &mut s);
        }
        out.put_line(s);
    }
    Ok(())
}
