//! Command-line conventions shared by every tool.
//!
//! Flags follow BCC/libbpf-tools (argp): bundled short flags (`-Tx`), attached values (`-u0`,
//! `--max-args=30`). The parser underneath (argh) takes each flag separately, so arguments are
//! first rewritten into that form.

use std::time::Duration;

use crate::error::{Error, Result};

/// Which flags take a value: short ones as letters (`"unl"`), long ones by name.
#[derive(Clone, Copy, Default)]
pub struct Valued<'a> {
    pub short: &'a str,
    pub long: &'a [&'a str],
}

/// Rewrites argp-style arguments for argh.
pub fn normalize(args: &[String], valued: Valued) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        if arg == "--" {
            out.push(arg.clone());
            out.extend(iter.cloned());
            break;
        }
        let takes_next = match arg.strip_prefix("--") {
            Some(long) => valued.long.contains(&long),
            None => {
                arg.len() >= 2
                    && arg.starts_with('-')
                    && arg[1..]
                        .chars()
                        .last()
                        .is_some_and(|c| valued.short.contains(c))
                    && arg[1..].chars().all(|c| !c.is_ascii_digit())
            }
        };
        if arg == "-h" {
            out.push("--help".into());
        } else if let Some(long) = arg.strip_prefix("--") {
            match long.split_once('=') {
                Some((k, v)) => {
                    out.push(format!("--{k}"));
                    out.push(v.to_string());
                }
                None => out.push(arg.clone()),
            }
        } else if arg.len() > 2
            && arg.starts_with('-')
            && !arg[1..].starts_with(|c: char| c.is_ascii_digit())
        {
            let body = &arg[1..];
            for (i, c) in body.char_indices() {
                out.push(format!("-{c}"));
                if valued.short.contains(c) {
                    let rest = &body[i + c.len_utf8()..];
                    if !rest.is_empty() {
                        out.push(rest.to_string());
                    }
                    break;
                }
            }
        } else {
            out.push(arg.clone());
        }
        if takes_next {
            if let Some(v) = iter.next() {
                out.push(v.clone());
            }
        }
    }
    out
}

/// Parses a duration: plain seconds (`10`), or with a unit (`500ms`, `10s`, `5m`, `2h`).
pub fn parse_duration(s: &str) -> std::result::Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("bad duration {s:?}: use e.g. 10, 10s, 500ms, 5m"))?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("bad duration unit in {s:?}: use ms, s, m or h")),
    };
    if !(secs > 0.0 && secs.is_finite()) {
        return Err(format!("duration must be positive: {s:?}"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Parses a process id (`-p PID`): a positive number. Whether such a process exists is not
/// checked: tracing one that is not there yet (or never comes) is allowed.
pub fn parse_pid(s: &str) -> std::result::Result<u32, String> {
    match s.trim().parse::<u32>() {
        Ok(0) => Err("a process id is a positive number, not 0".to_string()),
        Ok(pid) => Ok(pid),
        Err(_) => Err(format!("bad process id {s:?}: a positive number")),
    }
}

/// Runs argh on normalized arguments: `--help` prints and exits 0, errors exit 2.
pub fn parse<T: argh::FromArgs>(tool: &str, args: &[String], valued: Valued) -> Result<T> {
    let args = normalize(args, valued);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    T::from_args(&[tool], &refs).map_err(|e| match e.status {
        Ok(()) => Error::new(e.output).code(0),
        Err(()) => {
            Error::usage(e.output.trim_end().to_string()).hint(format!("see `{tool} --help`"))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(args: &[&str], short: &str) -> Vec<String> {
        let valued = Valued {
            short,
            long: &["max-args", "name"],
        };
        normalize(
            &args.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            valued,
        )
    }

    #[test]
    fn bundles_and_attached_values() {
        assert_eq!(
            n(&["-Tx", "-u0", "--max-args=30"], "u"),
            ["-T", "-x", "-u", "0", "--max-args", "30"]
        );
        assert_eq!(n(&["-xu", "1000"], "u"), ["-x", "-u", "1000"]);
        assert_eq!(n(&["-h"], ""), ["--help"]);
        // Values of valued flags and whatever follows `--` are left alone.
        assert_eq!(
            n(&["-n", "-abc", "-tn", "-xy", "--", "-xy"], "n"),
            ["-n", "-abc", "-t", "-n", "-xy", "--", "-xy"]
        );
        assert_eq!(
            n(&["--name", "-ab", "-ab"], ""),
            ["--name", "-ab", "-a", "-b"]
        );
        assert_eq!(n(&["-5"], ""), ["-5"]);
    }

    #[test]
    fn pids() {
        assert_eq!(parse_pid("1216"), Ok(1216));
        assert!(parse_pid("0").is_err());
        assert!(parse_pid("-1").is_err());
        assert!(parse_pid("12x").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert!(parse_duration("0").is_err());
        assert!(parse_duration("3 weeks").is_err());
        assert!(parse_duration("x").is_err());
    }
}
