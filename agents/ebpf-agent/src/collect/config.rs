//! The collector's config file (docs/collect.md): which tools run with which arguments, where
//! their lines go, rotation, flushing, the status file and the metrics endpoint. Every error
//! names the file, the line and the key, and exits 2 (bad input).

use std::net::SocketAddr;
use std::path::PathBuf;

use agent_core::error::Error;
use agent_core::tool::Entry;
use agent_core::Result;

use super::value::{self, Node, Value};

pub const DEFAULT_PATH: &str = "/etc/ebpf-agent/collect.json";
/// The largest config read: a few hundred tools' entries fit in far less.
pub const MAX_BYTES: u64 = 1 << 20;
pub const DEFAULT_DIR: &str = "/var/log/ebpf-agent";
pub const DEFAULT_STATUS: &str = "/run/ebpf-agent/status.json";

/// Where the lines go and how files turn over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    pub dir: PathBuf,
    /// A file is rotated before it would grow past this (0: never by size).
    pub max_bytes: u64,
    /// Rotated files kept per file set; older ones are deleted.
    pub max_files: u32,
    /// Compress rotated files (`.jsonl.gz`).
    pub gzip: bool,
    /// Lines wait at most this long in memory before they are written (0: at once).
    pub flush_ms: u64,
    /// Files are fsync'ed at least this often (0: only at rotation and exit).
    pub fsync_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub path: PathBuf,
    pub interval_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metrics {
    pub listen: SocketAddr,
    /// The line of `metrics.listen`, for errors found when binding.
    pub line: u32,
    /// Series of the tools' data at most (the collector's own always come).
    pub max_series: usize,
}

/// One tool of the config.
#[derive(Clone)]
pub struct ToolConf {
    pub entry: &'static Entry,
    /// Its name in the lines (`tool`), the status and the metrics: unique.
    pub name: String,
    /// Its command line, without the `--json` the collector adds.
    pub args: Vec<String>,
    /// The file set its lines go to (shared by the tools that name the same).
    pub file: String,
    /// Row fields that become metric labels (None: the default rule).
    pub labels: Option<Vec<String>>,
    /// Where it is in the config, for messages: `tools[1]`, its line.
    pub key: String,
    pub line: u32,
}

#[derive(Clone)]
pub struct Config {
    pub output: Output,
    pub status: Option<Status>,
    pub metrics: Option<Metrics>,
    pub tools: Vec<ToolConf>,
}

/// The members of one object, read key by key; keys nobody asked for are errors (typos).
struct Members<'a> {
    file: &'a str,
    path: String,
    items: &'a [(String, Node)],
    used: Vec<bool>,
}

/// A config error: `FILE:LINE: KEY: what`.
fn bad(file: &str, line: u32, key: &str, what: impl std::fmt::Display) -> Error {
    let at = if key.is_empty() {
        String::new()
    } else {
        format!(" {key}:")
    };
    Error::usage(format!("{file}:{line}:{at} {what}"))
}

impl<'a> Members<'a> {
    fn new(file: &'a str, path: String, node: &'a Node) -> Result<Members<'a>> {
        match &node.v {
            Value::Object(items) => Ok(Members {
                file,
                path,
                items,
                used: vec![false; items.len()],
            }),
            other => Err(bad(
                file,
                node.line,
                &path,
                format!("must be an object, not {}", other.kind()),
            )),
        }
    }

    fn key(&self, k: &str) -> String {
        if self.path.is_empty() {
            k.to_string()
        } else {
            format!("{}.{k}", self.path)
        }
    }

    fn get(&mut self, k: &str) -> Option<&'a Node> {
        let i = self.items.iter().position(|(n, _)| n == k)?;
        self.used[i] = true;
        // `null` is the same as leaving the key out.
        Some(&self.items[i].1).filter(|n| n.v != Value::Null)
    }

    fn err(&self, n: &Node, k: &str, what: impl std::fmt::Display) -> Error {
        bad(self.file, n.line, &self.key(k), what)
    }

    fn string(&mut self, k: &str) -> Result<Option<String>> {
        match self.get(k) {
            None => Ok(None),
            Some(n) => match &n.v {
                Value::Str(s) if !s.is_empty() => Ok(Some(s.clone())),
                Value::Str(_) => Err(self.err(n, k, "must not be empty")),
                other => Err(self.err(n, k, format!("must be a string, not {}", other.kind()))),
            },
        }
    }

    fn uint(&mut self, k: &str, max: u64) -> Result<Option<u64>> {
        match self.get(k) {
            None => Ok(None),
            Some(n) => match n.v {
                Value::Uint(v) if v <= max => Ok(Some(v)),
                Value::Uint(_) => Err(self.err(n, k, format!("must be at most {max}"))),
                _ => Err(self.err(
                    n,
                    k,
                    format!(
                        "must be a whole number from 0 to {max}, not {}",
                        describe(n)
                    ),
                )),
            },
        }
    }

    fn bool(&mut self, k: &str) -> Result<Option<bool>> {
        match self.get(k) {
            None => Ok(None),
            Some(n) => match n.v {
                Value::Bool(b) => Ok(Some(b)),
                _ => Err(self.err(n, k, format!("must be true or false, not {}", describe(n)))),
            },
        }
    }

    fn strings(&mut self, k: &str) -> Result<Option<Vec<String>>> {
        let Some(n) = self.get(k) else {
            return Ok(None);
        };
        let Value::Array(items) = &n.v else {
            return Err(self.err(
                n,
                k,
                format!("must be an array of strings, not {}", n.v.kind()),
            ));
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, it) in items.iter().enumerate() {
            match &it.v {
                Value::Str(s) => out.push(s.clone()),
                other => {
                    return Err(self.err(
                        it,
                        &format!("{k}[{i}]"),
                        format!("must be a string, not {}", other.kind()),
                    ))
                }
            }
        }
        Ok(Some(out))
    }

    /// Every key was known.
    fn finish(self) -> Result<()> {
        for (i, (k, n)) in self.items.iter().enumerate() {
            if !self.used[i] {
                return Err(self.err(n, k, "unknown key (docs/collect.md lists the keys)"));
            }
        }
        Ok(())
    }
}

/// A value as a message shows it: `"10MB"`, `-1`, `1.5`.
fn describe(n: &Node) -> String {
    match &n.v {
        Value::Str(s) => format!("{s:?}"),
        Value::Uint(v) => v.to_string(),
        Value::Int(v) => v.to_string(),
        Value::Number(t) => t.clone(),
        other => other.kind().to_string(),
    }
}

/// A name for files and labels: letters, digits, `_`, `-`, `.`; not starting with `.`.
fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && !s.starts_with('.')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
}

/// Parses and checks the config text of `file` against the tools of this binary.
pub fn parse(file: &str, text: &[u8], tools: &'static [Entry]) -> Result<Config> {
    let root = value::parse(text).map_err(|e| {
        Error::usage(format!(
            "{file}:{}:{}: not valid JSON: {}",
            e.line, e.column, e.msg
        ))
    })?;
    let mut top = Members::new(file, String::new(), &root)?;

    let mut output = Output {
        dir: PathBuf::from(DEFAULT_DIR),
        max_bytes: 10 * 1024 * 1024,
        max_files: 5,
        gzip: false,
        flush_ms: 1000,
        fsync_ms: 10_000,
    };
    if let Some(n) = top.get("output") {
        let mut o = Members::new(file, "output".into(), n)?;
        if let Some(d) = o.string("dir")? {
            output.dir = PathBuf::from(d);
        }
        if let Some(v) = o.uint("max_bytes", 1 << 40)? {
            if v != 0 && v < 4096 {
                let n = o.get("max_bytes").unwrap();
                return Err(o.err(n, "max_bytes", "must be 0 (no rotation) or at least 4096"));
            }
            output.max_bytes = v;
        }
        if let Some(v) = o.uint("max_files", 100_000)? {
            output.max_files = v as u32;
        }
        if let Some(v) = o.bool("gzip")? {
            output.gzip = v;
        }
        if let Some(v) = o.uint("flush_ms", 3_600_000)? {
            output.flush_ms = v;
        }
        if let Some(v) = o.uint("fsync_ms", 86_400_000)? {
            output.fsync_ms = v;
        }
        o.finish()?;
    }

    let mut status = Some(Status {
        path: PathBuf::from(DEFAULT_STATUS),
        interval_ms: 5000,
    });
    if let Some(n) = top.get("status") {
        if n.v == Value::Bool(false) {
            status = None;
        } else {
            let mut s = Members::new(file, "status".into(), n)?;
            let st = status.as_mut().unwrap();
            if let Some(p) = s.string("path")? {
                st.path = PathBuf::from(p);
            }
            if let Some(v) = s.uint("interval_ms", 3_600_000)? {
                if v < 100 {
                    let n = s.get("interval_ms").unwrap();
                    return Err(s.err(n, "interval_ms", "must be at least 100"));
                }
                st.interval_ms = v;
            }
            s.finish()?;
        }
    }

    let mut metrics = None;
    if let Some(n) = top.get("metrics") {
        let mut m = Members::new(file, "metrics".into(), n)?;
        let listen = m.get("listen");
        let max_series = m.uint("max_series", 1_000_000)?.unwrap_or(1000) as usize;
        if let Some(l) = listen {
            let text = match &l.v {
                Value::Str(s) => s.clone(),
                other => {
                    return Err(m.err(
                        l,
                        "listen",
                        format!(
                            "must be a string like \"127.0.0.1:9436\", not {}",
                            other.kind()
                        ),
                    ))
                }
            };
            let addr: SocketAddr = text.parse().map_err(|_| {
                m.err(
                    l,
                    "listen",
                    format!(
                        "{text:?} is no address:port (e.g. \"127.0.0.1:9436\", \"[::1]:9436\")"
                    ),
                )
            })?;
            metrics = Some(Metrics {
                listen: addr,
                line: l.line,
                max_series,
            });
        }
        m.finish()?;
    }

    let tools_node = top.get("tools");
    // Unknown keys first: a misspelt "tools" is named as such.
    top.finish()?;
    let Some(tools_node) = tools_node else {
        return Err(bad(
            file,
            root.line,
            "tools",
            "missing: list the tools to run, e.g. \"tools\": [{\"tool\": \"execsnoop\"}]",
        ));
    };
    let Value::Array(items) = &tools_node.v else {
        return Err(bad(
            file,
            tools_node.line,
            "tools",
            format!("must be an array of objects, not {}", tools_node.v.kind()),
        ));
    };
    if items.is_empty() {
        return Err(bad(
            file,
            tools_node.line,
            "tools",
            "is empty: name at least one tool",
        ));
    }
    let mut confs: Vec<ToolConf> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let key = format!("tools[{i}]");
        let mut t = Members::new(file, key.clone(), item)?;
        let Some(tool_node) = t.get("tool") else {
            return Err(bad(
                file,
                item.line,
                &key,
                "has no \"tool\" key (which tool to run)",
            ));
        };
        let name_of_tool = match &tool_node.v {
            Value::Str(s) => s.clone(),
            other => {
                return Err(t.err(
                    tool_node,
                    "tool",
                    format!("must be a string, not {}", other.kind()),
                ))
            }
        };
        let entry = tools
            .iter()
            .find(|e| e.name() == name_of_tool)
            .ok_or_else(|| {
                let names: Vec<&str> = tools.iter().map(|e| e.name()).collect();
                t.err(
                    tool_node,
                    "tool",
                    format!(
                        "unknown tool {name_of_tool:?} (this binary has: {})",
                        names.join(", ")
                    ),
                )
            })?;
        let name = t
            .string("name")?
            .unwrap_or_else(|| entry.name().to_string());
        if !valid_name(&name) {
            let n = t.get("name").unwrap_or(item);
            return Err(t.err(
                n,
                "name",
                format!("{name:?}: use letters, digits, '_', '-', '.' (not first), at most 64"),
            ));
        }
        if let Some(other) = confs.iter().find(|c| c.name == name) {
            return Err(bad(
                file,
                item.line,
                &key,
                format!(
                    "a second tool named {name:?} (the first is {}, line {}): give one a \"name\"",
                    other.key, other.line
                ),
            ));
        }
        let args = t.strings("args")?.unwrap_or_default();
        let set = t.string("file")?.unwrap_or_else(|| name.clone());
        if !valid_name(&set) {
            let n = t.get("file").unwrap_or(item);
            return Err(t.err(
                n,
                "file",
                format!("{set:?}: use letters, digits, '_', '-', '.' (not first), at most 64"),
            ));
        }
        let labels = t.strings("labels")?;
        t.finish()?;
        confs.push(ToolConf {
            entry,
            name,
            args,
            file: set,
            labels,
            key,
            line: item.line,
        });
    }
    Ok(Config {
        output,
        status,
        metrics,
        tools: confs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools;

    fn cfg(text: &str) -> Result<Config> {
        parse("c.json", text.as_bytes(), tools::ALL)
    }

    fn msg(text: &str) -> String {
        let Err(e) = cfg(text) else {
            panic!("accepted: {text}");
        };
        assert_eq!(e.exit_code, agent_core::error::EXIT_USAGE, "{e}");
        e.message().to_string()
    }

    fn first_tool() -> &'static str {
        tools::ALL[0].name()
    }

    #[test]
    fn defaults_and_every_key() {
        let t = first_tool();
        let c = cfg(&format!("{{\"tools\": [{{\"tool\": \"{t}\"}}]}}")).unwrap();
        assert_eq!(c.output.dir, PathBuf::from(DEFAULT_DIR));
        assert_eq!((c.output.max_bytes, c.output.max_files), (10 << 20, 5));
        assert_eq!(
            c.status.as_ref().unwrap().path,
            PathBuf::from(DEFAULT_STATUS)
        );
        assert!(c.metrics.is_none());
        assert_eq!((c.tools[0].name.as_str(), c.tools[0].file.as_str()), (t, t));

        let c = cfg(&format!(
            r#"{{"output": {{"dir": "/tmp/x", "max_bytes": 65536, "max_files": 3, "gzip": true,
                 "flush_ms": 0, "fsync_ms": 0}},
               "status": {{"path": "/tmp/s.json", "interval_ms": 500}},
               "metrics": {{"listen": "127.0.0.1:9436", "max_series": 10}},
               "tools": [{{"tool": "{t}", "name": "a", "args": ["-x"], "file": "all", "labels": ["comm"]}},
                         {{"tool": "{t}", "name": "b", "file": "all"}}]}}"#
        ))
        .unwrap();
        assert_eq!(
            c.output,
            Output {
                dir: "/tmp/x".into(),
                max_bytes: 65536,
                max_files: 3,
                gzip: true,
                flush_ms: 0,
                fsync_ms: 0
            }
        );
        let m = c.metrics.unwrap();
        assert_eq!((m.listen.port(), m.max_series, m.line), (9436, 10, 4));
        assert_eq!(c.tools[0].args, ["-x"]);
        assert_eq!(c.tools[1].file, "all");
        assert_eq!(
            c.tools[0].labels.as_deref(),
            Some(&["comm".to_string()][..])
        );
        assert!(cfg(&format!(
            "{{\"status\": false, \"tools\": [{{\"tool\": \"{t}\"}}]}}"
        ))
        .unwrap()
        .status
        .is_none());
    }

    #[test]
    fn errors_name_the_line_and_the_key() {
        let t = first_tool();
        let m = msg("{\n \"tools\": [\n  {\"tool\": \"nosuchtool\"}\n ]\n}");
        assert!(
            m.starts_with("c.json:3: tools[0].tool: unknown tool \"nosuchtool\""),
            "{m}"
        );
        assert!(m.contains(t), "lists the tools: {m}");
        let m = msg(&format!(
            "{{\n \"tools\": [\n  {{\"tool\": \"{t}\",\n   \"args\": \"-x\"}}]}}"
        ));
        assert!(
            m.starts_with("c.json:4: tools[0].args: must be an array"),
            "{m}"
        );
        let m = msg(&format!(
            "{{\"tools\": [{{\"tool\": \"{t}\", \"arg\": []}}]}}"
        ));
        assert!(m.contains("tools[0].arg: unknown key"), "{m}");
        let m = msg("{\"tools\": [],\n\"output\": {\"max_bytes\": \"10MB\"}}");
        assert!(
            m.starts_with("c.json:2: output.max_bytes: must be a whole number"),
            "{m}"
        );
        assert!(m.contains("\"10MB\""), "{m}");
        let m = msg("{\"output\": {\"max_bytes\": 100}, \"tools\": []}");
        assert!(m.contains("at least 4096"), "{m}");
        let m = msg("{\"tools\": []}");
        assert!(m.contains("tools: is empty"), "{m}");
        let m = msg("{}");
        assert!(m.contains("tools: missing"), "{m}");
        let m = msg("{\n\"metrics\": {\"listen\": \"localhost\"}, \"tools\": []}");
        assert!(
            m.starts_with("c.json:2: metrics.listen: \"localhost\" is no address"),
            "{m}"
        );
        let m = msg(&format!(
            "{{\"tools\": [{{\"tool\": \"{t}\"}},\n {{\"tool\": \"{t}\"}}]}}"
        ));
        assert!(
            m.starts_with("c.json:2: tools[1]: a second tool named"),
            "{m}"
        );
        let m = msg(&format!(
            "{{\"tools\": [{{\"tool\": \"{t}\", \"file\": \"../x\"}}]}}"
        ));
        assert!(m.contains("tools[0].file: \"../x\""), "{m}");
        let m = msg("{\n  \"tools\": [\n    {\"tool\": \"a\"}\n    {\"tool\": \"b\"}\n  ]\n}");
        assert!(
            m.starts_with("c.json:4:5: not valid JSON: expected ',' or ']'"),
            "{m}"
        );
        let m = msg("[1]");
        assert!(m.starts_with("c.json:1: must be an object"), "{m}");
    }
}
