//! The stack reports of profile and offcputime (docs/json.md, "Stacks"): schema and helpers.

use serde_json::Value;

use super::{check_schema, Ty};
use crate::schema;

/// docs/json.md, "Stacks": the rows.
pub const ROW: &[(&str, Ty)] = schema![pid: Uint, comm: Str];
pub const ROW_OPTIONAL: &[(&str, Ty)] = schema![
    tid: Uint, comm_hex: Str, count: Uint, total_ns: Uint, user_stack_missed: Bool,
    user_stack: ObjArray, kernel_stack_missed: Bool, kernel_stack: ObjArray
];
/// docs/json.md, "Stack frames".
pub const FRAME: &[(&str, Ty)] = schema![addr: Uint, module: Str];
pub const FRAME_OPTIONAL: &[(&str, Ty)] = schema![symbol: Str, offset: Uint, vaddr: Uint];
/// docs/json.md, "Stack modules".
pub const MODULE: &[(&str, Ty)] = schema![path: Str, build_id: StrOrNull, symtab: Bool];

pub fn assert_documented() {
    super::assert_documented("json.md", "Stacks", ROW, ROW_OPTIONAL);
    super::assert_documented("json.md", "Stack frames", FRAME, FRAME_OPTIONAL);
    super::assert_documented("json.md", "Stack modules", MODULE, &[]);
}

/// Checks a report's rows, frames and modules against the schema.
pub fn check_report(report: &Value) {
    for r in report["rows"].as_array().unwrap() {
        check_schema(r, ROW, ROW_OPTIONAL);
        for key in ["user_stack", "kernel_stack"] {
            for f in r[key].as_array().into_iter().flatten() {
                check_schema(f, FRAME, FRAME_OPTIONAL);
            }
        }
    }
    for m in report["modules"].as_array().unwrap() {
        check_schema(m, MODULE, &[]);
    }
}

/// The symbols of a row's user stack, leaf first ("[unknown]" where none).
pub fn user_symbols(row: &Value) -> Vec<String> {
    symbols(&row["user_stack"])
}

pub fn kernel_symbols(row: &Value) -> Vec<String> {
    symbols(&row["kernel_stack"])
}

fn symbols(frames: &Value) -> Vec<String> {
    frames
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| f["symbol"].as_str().unwrap_or("[unknown]").to_string())
        .collect()
}

/// One folded line: (frames, value). Panics on a line that is not `frames value`.
pub fn parse_folded(line: &str) -> (Vec<String>, u64) {
    let (stack, n) = line
        .rsplit_once(' ')
        .unwrap_or_else(|| panic!("folded line without a count: {line:?}"));
    let n = n
        .parse()
        .unwrap_or_else(|_| panic!("folded line's count is no number: {line:?}"));
    let frames: Vec<String> = stack.split(';').map(str::to_string).collect();
    assert!(
        frames.iter().all(|f| !f.is_empty()),
        "empty frame in {line:?}"
    );
    (frames, n)
}

/// The kernel's text symbol names (for checking kernel frames), if kallsyms shows them.
pub fn kallsyms_names() -> std::collections::HashSet<String> {
    std::fs::read_to_string("/proc/kallsyms")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let (_, ty, name) = (it.next()?, it.next()?, it.next()?);
            matches!(ty, "t" | "T" | "w" | "W").then(|| name.to_string())
        })
        .collect()
}
