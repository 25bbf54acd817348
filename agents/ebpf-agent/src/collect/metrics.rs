//! Prometheus metrics (text exposition format 0.0.4) from the interval tools' reports: each
//! `rows` entry's numbers become counters (summed over the intervals), its strings (and ids)
//! labels; histograms (docs/json.md, "Histograms") become Prometheus histograms. Times in
//! `_ns`/`_us`/`_ms` fields and histograms in `nsecs`/`usecs`/`msecs` are exported in seconds,
//! with integer arithmetic (no floats). At most `max_series` series are kept; rows that would
//! add more are counted as refused.

use super::value::{self, Node, Value};
use agent_core::json;

/// Integer row fields that identify rather than count: labels, by default.
const ID_FIELDS: &[&str] = &[
    "pid", "tid", "ppid", "uid", "gid", "id", "ino", "dev", "major", "minor", "cpu", "port",
    "lport", "dport",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Counter,
    Histogram,
}

#[derive(Debug)]
struct Series {
    labels: String,
    value: u64,
    /// Histograms: (upper bound, count in that bucket, not cumulative), by bound.
    buckets: Vec<(u64, u64)>,
    count: u64,
}

#[derive(Debug)]
struct Family {
    name: String,
    help: String,
    kind: Kind,
    /// Values (and bucket bounds) are in units of 10^-scale of what is exported.
    scale: u32,
    series: Vec<Series>,
}

/// The interval tools' data, summed since the collector started.
#[derive(Debug, Default)]
pub struct Registry {
    max_series: usize,
    series: usize,
    families: Vec<Family>,
    /// Per tool: series refused by the cap.
    pub refused: Vec<u64>,
}

/// Metric and label names: `[a-zA-Z0-9_]`, other characters become `_`.
fn sanitize(s: &str) -> String {
    let mut o: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if o.starts_with(|c: char| c.is_ascii_digit()) || o.is_empty() {
        o.insert(0, '_');
    }
    o
}

/// Appends `"v"` escaped as a label value.
fn push_label_value(out: &mut Vec<u8>, v: &str) {
    out.push(b'"');
    for &b in v.as_bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\n' => out.extend_from_slice(b"\\n"),
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

/// Appends `v` units of 10^-scale as a decimal number.
pub fn push_scaled(out: &mut Vec<u8>, v: u64, scale: u32) {
    if scale == 0 {
        json::push_u64(out, v);
        return;
    }
    let p = 10u64.pow(scale);
    json::push_u64(out, v / p);
    out.push(b'.');
    json::push_padded(out, v % p, scale as usize);
}

/// `# HELP` and `# TYPE` of a family.
pub fn header(out: &mut Vec<u8>, name: &str, help: &str, kind: &str) {
    for (what, text) in [("HELP", help), ("TYPE", kind)] {
        out.extend_from_slice(b"# ");
        out.extend_from_slice(what.as_bytes());
        out.push(b' ');
        out.extend_from_slice(name.as_bytes());
        out.push(b' ');
        for &b in text.as_bytes() {
            match b {
                b'\\' => out.extend_from_slice(b"\\\\"),
                b'\n' => out.extend_from_slice(b"\\n"),
                _ => out.push(b),
            }
        }
        out.push(b'\n');
    }
}

/// One sample line: `name{labels} value`. `labels` is already rendered (`a="b",c="d"`).
pub fn sample(out: &mut Vec<u8>, name: &str, labels: &str, value: u64, scale: u32) {
    out.extend_from_slice(name.as_bytes());
    if !labels.is_empty() {
        out.push(b'{');
        out.extend_from_slice(labels.as_bytes());
        out.push(b'}');
    }
    out.push(b' ');
    push_scaled(out, value, scale);
    out.push(b'\n');
}

/// Renders `k="v"` pairs.
pub fn labels(pairs: &[(&str, &str)]) -> String {
    let mut b = Vec::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            b.push(b',');
        }
        b.extend_from_slice(k.as_bytes());
        b.push(b'=');
        push_label_value(&mut b, v);
    }
    String::from_utf8(b).unwrap_or_default()
}

/// A counter's name and scale for row field `field` of `tool`: times in seconds.
fn counter_name(tool: &str, field: &str) -> (String, u32) {
    let (base, scale) = [("_ns", 9), ("_us", 6), ("_ms", 3)]
        .iter()
        .find_map(|(suffix, scale)| field.strip_suffix(suffix).map(|b| (b, *scale)))
        .map_or((field.to_string(), 0), |(b, s)| {
            let b = b.strip_prefix("total").unwrap_or(b).trim_matches('_');
            let name = if b.is_empty() {
                "seconds".to_string()
            } else {
                format!("{b}_seconds")
            };
            (name, s)
        });
    let base = base.strip_suffix("_total").unwrap_or(&base).to_string();
    (sanitize(&format!("ebpf_{tool}_{base}_total")), scale)
}

/// A histogram's name and scale: `ebpf_<tool>_<field>_<unit>`, times in seconds.
fn histogram_name(tool: &str, field: &str, unit: &str) -> (String, u32) {
    let (unit, scale) = match unit {
        "nsecs" | "ns" => ("seconds", 9),
        "usecs" | "us" => ("seconds", 6),
        "msecs" | "ms" => ("seconds", 3),
        "secs" | "s" => ("seconds", 0),
        other => (other, 0),
    };
    (sanitize(&format!("ebpf_{tool}_{field}_{unit}")), scale)
}

/// A histogram's buckets: (low, high, count).
type Buckets = Vec<(u64, u64, u64)>;

/// Is this value a histogram object (`unit`, `count`, `buckets`)?
fn as_histogram(n: &Node) -> Option<(&str, Buckets)> {
    let unit = n.get("unit")?.as_str()?;
    n.get("count")?.as_u64()?;
    let Value::Array(buckets) = &n.get("buckets")?.v else {
        return None;
    };
    let mut out = Vec::with_capacity(buckets.len());
    for b in buckets {
        let low = b.get("low")?.as_u64()?;
        out.push((low, b.get("high")?.as_u64()?, b.get("count")?.as_u64()?));
    }
    Some((unit, out))
}

impl Registry {
    pub fn new(max_series: usize, tools: usize) -> Registry {
        Registry {
            max_series,
            series: 0,
            families: Vec::new(),
            refused: vec![0; tools],
        }
    }

    /// The series `labels` of family `name`, made if there is room.
    fn series(
        &mut self,
        tool: usize,
        name: &str,
        help: impl FnOnce() -> String,
        kind: Kind,
        scale: u32,
        labels: &str,
    ) -> Option<&mut Series> {
        let fi = match self
            .families
            .binary_search_by(|f| f.name.as_str().cmp(name))
        {
            Ok(i) => i,
            Err(i) => {
                if self.series >= self.max_series {
                    self.refused[tool] += 1;
                    return None;
                }
                self.families.insert(
                    i,
                    Family {
                        name: name.to_string(),
                        help: help(),
                        kind,
                        scale,
                        series: Vec::new(),
                    },
                );
                i
            }
        };
        let fam = &mut self.families[fi];
        if fam.kind != kind || fam.scale != scale {
            // A field that changed its shape: keep the first.
            return None;
        }
        let si = match fam
            .series
            .binary_search_by(|s| s.labels.as_str().cmp(labels))
        {
            Ok(i) => i,
            Err(i) => {
                if self.series >= self.max_series {
                    self.refused[tool] += 1;
                    return None;
                }
                self.series += 1;
                fam.series.insert(
                    i,
                    Series {
                        labels: labels.to_string(),
                        value: 0,
                        buckets: Vec::new(),
                        count: 0,
                    },
                );
                i
            }
        };
        Some(&mut fam.series[si])
    }

    fn add_histogram(
        &mut self,
        t: usize,
        tool: &str,
        field: &str,
        labels: &str,
        unit: &str,
        buckets: &[(u64, u64, u64)],
    ) {
        let (name, scale) = histogram_name(tool, field, unit);
        let help = || format!("{tool}: histogram {field:?} ({unit}), summed over the intervals");
        let Some(s) = self.series(t, &name, help, Kind::Histogram, scale, labels) else {
            return;
        };
        for &(low, high, count) in buckets {
            match s.buckets.binary_search_by(|b| b.0.cmp(&high)) {
                Ok(i) => s.buckets[i].1 += count,
                Err(i) => s.buckets.insert(i, (high, count)),
            }
            s.count += count;
            // The sum, estimated: each value at the middle of its bucket (the kernel keeps
            // only the buckets).
            s.value = s
                .value
                .saturating_add(((low + high) / 2).saturating_mul(count));
        }
    }

    /// Takes one line of tool `t` (named `tool`, of kind `kind`): its interval report's rows
    /// and histograms. Other lines are ignored.
    pub fn feed(&mut self, t: usize, kind: &str, tool: &str, only: Option<&[String]>, line: &[u8]) {
        if !line.starts_with(b"{\"type\":\"interval\"") {
            return;
        }
        let Ok(root) = value::parse(line) else {
            return;
        };
        let Value::Object(top) = &root.v else {
            return;
        };
        let kind = sanitize(kind);
        let base = labels(&[("tool", tool)]);
        for (k, v) in top {
            if let Some((unit, buckets)) = as_histogram(v) {
                self.add_histogram(t, &kind, k, &base, unit, &buckets);
            }
        }
        let Some(Value::Array(rows)) = root.get("rows").map(|r| &r.v) else {
            return;
        };
        for row in rows {
            let Value::Object(fields) = &row.v else {
                continue;
            };
            let mut pairs: Vec<(String, String)> = vec![("tool".into(), tool.to_string())];
            let is_label = |k: &str, v: &Value| match only {
                Some(names) => names.iter().any(|n| n == k),
                None => match v {
                    Value::Str(_) => !k.ends_with("_hex"),
                    Value::Uint(_) | Value::Int(_) => ID_FIELDS.contains(&k),
                    _ => false,
                },
            };
            for (k, v) in fields {
                if !is_label(k, &v.v) {
                    continue;
                }
                let text = match &v.v {
                    Value::Str(s) => s.clone(),
                    Value::Uint(n) => n.to_string(),
                    Value::Int(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    _ => continue,
                };
                pairs.push((sanitize(k), text));
            }
            let refs: Vec<(&str, &str)> = pairs
                .iter()
                .map(|(a, b)| (a.as_str(), b.as_str()))
                .collect();
            let lbl = labels(&refs);
            for (k, v) in fields {
                if is_label(k, &v.v) {
                    continue;
                }
                match &v.v {
                    Value::Uint(n) => {
                        let (name, scale) = counter_name(&kind, k);
                        let help = || format!("{kind}: the rows' {k:?}, summed over the intervals");
                        if let Some(s) = self.series(t, &name, help, Kind::Counter, scale, &lbl) {
                            s.value = s.value.saturating_add(*n);
                        }
                    }
                    Value::Object(_) => {
                        if let Some((unit, buckets)) = as_histogram(v) {
                            self.add_histogram(t, &kind, k, &lbl, unit, &buckets);
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    /// The exposition of every family.
    pub fn render(&self, out: &mut Vec<u8>) {
        for f in &self.families {
            match f.kind {
                Kind::Counter => {
                    header(out, &f.name, &f.help, "counter");
                    for s in &f.series {
                        sample(out, &f.name, &s.labels, s.value, f.scale);
                    }
                }
                Kind::Histogram => {
                    header(out, &f.name, &f.help, "histogram");
                    let bucket = format!("{}_bucket", f.name);
                    for s in &f.series {
                        let mut cum = 0u64;
                        let sep = if s.labels.is_empty() { "" } else { "," };
                        for &(high, count) in &s.buckets {
                            cum += count;
                            let mut le = Vec::new();
                            push_scaled(&mut le, high, f.scale);
                            let l =
                                format!("{}{sep}le=\"{}\"", s.labels, String::from_utf8_lossy(&le));
                            sample(out, &bucket, &l, cum, 0);
                        }
                        sample(
                            out,
                            &bucket,
                            &format!("{}{sep}le=\"+Inf\"", s.labels),
                            s.count,
                            0,
                        );
                        sample(out, &format!("{}_sum", f.name), &s.labels, s.value, f.scale);
                        sample(out, &format!("{}_count", f.name), &s.labels, s.count, 0);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(r: &Registry) -> String {
        let mut b = Vec::new();
        r.render(&mut b);
        String::from_utf8(b).unwrap()
    }

    #[test]
    fn rows_become_counters_summed_over_intervals() {
        let mut r = Registry::new(100, 1);
        let line = br#"{"type":"interval","ts":"x","time_ns":1,"interval_ns":2,"by":"syscall","rows":[{"syscall":"read","id":0,"count":5,"total_ns":1500000000},{"syscall":"wr\"ite","id":1,"count":2,"total_ns":7}],"total_rows":2}"#;
        r.feed(0, "syscount", "sc", None, line);
        r.feed(0, "syscount", "sc", None, line);
        r.feed(0, "syscount", "sc", None, br#"{"type":"lost","lost":1}"#);
        let t = text(&r);
        assert!(
            t.contains("# TYPE ebpf_syscount_count_total counter\n"),
            "{t}"
        );
        assert!(
            t.contains("ebpf_syscount_count_total{tool=\"sc\",syscall=\"read\",id=\"0\"} 10\n"),
            "{t}"
        );
        assert!(
            t.contains(
                "ebpf_syscount_seconds_total{tool=\"sc\",syscall=\"read\",id=\"0\"} 3.000000000\n"
            ),
            "{t}"
        );
        assert!(t.contains("syscall=\"wr\\\"ite\""), "{t}");
        assert!(!t.contains("total_rows"), "{t}");
        // Only the labels asked for.
        let mut r = Registry::new(100, 1);
        let only = vec!["syscall".to_string()];
        r.feed(0, "syscount", "sc", Some(&only), line);
        let t = text(&r);
        assert!(
            t.contains("ebpf_syscount_id_total{tool=\"sc\",syscall=\"read\"} 0\n"),
            "{t}"
        );
    }

    #[test]
    fn histograms_are_cumulative_with_seconds_bounds() {
        let mut r = Registry::new(100, 1);
        let line = br#"{"type":"interval","rows":[{"disk":"vda","lat":{"unit":"usecs","count":3,"buckets":[{"low":0,"high":1,"count":1},{"low":2,"high":3,"count":0},{"low":4,"high":7,"count":2}]}}],"hist":{"unit":"bytes","count":1,"buckets":[{"low":0,"high":1,"count":1}]}}"#;
        r.feed(0, "biolatency", "bl", None, line);
        let t = text(&r);
        let want = "# HELP ebpf_biolatency_lat_seconds biolatency: histogram \"lat\" (usecs), summed over the intervals\n\
# TYPE ebpf_biolatency_lat_seconds histogram\n\
ebpf_biolatency_lat_seconds_bucket{tool=\"bl\",disk=\"vda\",le=\"0.000001\"} 1\n\
ebpf_biolatency_lat_seconds_bucket{tool=\"bl\",disk=\"vda\",le=\"0.000003\"} 1\n\
ebpf_biolatency_lat_seconds_bucket{tool=\"bl\",disk=\"vda\",le=\"0.000007\"} 3\n\
ebpf_biolatency_lat_seconds_bucket{tool=\"bl\",disk=\"vda\",le=\"+Inf\"} 3\n\
ebpf_biolatency_lat_seconds_sum{tool=\"bl\",disk=\"vda\"} 0.000010\n\
ebpf_biolatency_lat_seconds_count{tool=\"bl\",disk=\"vda\"} 3\n";
        assert!(t.contains(want), "{t}");
        assert!(
            t.contains("ebpf_biolatency_hist_bytes_bucket{tool=\"bl\",le=\"1\"} 1\n"),
            "{t}"
        );
    }

    #[test]
    fn the_cap_refuses_new_series_and_counts_them() {
        let mut r = Registry::new(2, 1);
        for pid in 0..5 {
            let line =
                format!(r#"{{"type":"interval","rows":[{{"pid":{pid},"comm":"x","count":1}}]}}"#);
            r.feed(0, "syscount", "sc", None, line.as_bytes());
        }
        assert_eq!(r.series, 2);
        assert_eq!(r.refused[0], 3);
    }

    #[test]
    fn names() {
        assert_eq!(
            counter_name("syscount", "total_ns"),
            ("ebpf_syscount_seconds_total".into(), 9)
        );
        assert_eq!(
            counter_name("filetop", "read_bytes"),
            ("ebpf_filetop_read_bytes_total".into(), 0)
        );
        assert_eq!(
            counter_name("x", "wait_us"),
            ("ebpf_x_wait_seconds_total".into(), 6)
        );
        assert_eq!(
            counter_name("x", "lost_total"),
            ("ebpf_x_lost_total".into(), 0)
        );
        let mut b = Vec::new();
        push_scaled(&mut b, 1_234, 3);
        assert_eq!(b, b"1.234");
        assert_eq!(sanitize("a-b.c"), "a_b_c");
    }
}
