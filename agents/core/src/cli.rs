//! Command-line conventions shared by every tool.
//!
//! Flags follow BCC/libbpf-tools (argp): bundled short flags (`-Tx`), attached values (`-u0`,
//! `--max-args=30`). The parser underneath (argh) takes each flag separately, so arguments are
//! first rewritten into that form; which flags take a value is read from the tool's own argh
//! definition, through the help text argh generates from it ([`Flags::of`]), never typed
//! twice. The flags every tool has (`--json`, `--duration`, `-v`) are taken out here and
//! defined once.

use std::time::Duration;

use crate::error::{Error, Result};

/// Which flags take a value: short ones as letters (`"unl"`), long ones by name.
#[derive(Clone, Default, Debug)]
pub struct Valued {
    pub short: String,
    pub long: Vec<String>,
}

/// One flag of a tool: its short and long forms, and whether it takes a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    pub short: Option<char>,
    /// With its dashes: `--max-args`.
    pub long: String,
    pub valued: bool,
}

/// A tool's flags, read from the help text argh makes from its definition: the usage line
/// says which take a value (`[-p <pid>]`), the options list pairs short and long forms. (argh's
/// `ArgsInfo` says the same, for about 1.5 KB of generated code per tool.)
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flags(pub Vec<Flag>);

impl Flags {
    /// The flags of argh definition `A`, named `tool` in its help.
    pub fn of<A: argh::FromArgs>(tool: &str) -> Flags {
        match A::from_args(&[tool], &["--help"]) {
            Err(e) => Flags::from_help(&e.output),
            Ok(_) => Flags::default(),
        }
    }

    /// Parses argh's help text.
    pub fn from_help(help: &str) -> Flags {
        let usage = help.lines().next().unwrap_or("");
        let words: Vec<&str> = usage.split_whitespace().collect();
        let takes_value = |flag: &str| {
            words
                .windows(2)
                .any(|w| w[0].trim_start_matches('[') == flag && w[1].starts_with('<'))
        };
        let mut flags = Vec::new();
        let mut in_options = false;
        for line in help.lines() {
            if line.ends_with(':') && !line.starts_with(' ') {
                in_options = line == "Options:";
                continue;
            }
            let Some(spec) = line.strip_prefix("  -").map(|l| format!("-{l}")) else {
                continue;
            };
            if !in_options {
                continue;
            }
            let spec = spec.split("  ").next().unwrap_or("");
            // `-p, --pid`, `--max-args`, or argh's own `--help, help`.
            let (short, long) = match spec.split_once(", ") {
                Some((s, _)) if s.starts_with("--") => (None, s),
                Some((s, l)) => (s.strip_prefix('-').and_then(|c| c.chars().next()), l),
                None => (None, spec),
            };
            let long = long.trim().to_string();
            let shown = short.map_or(long.clone(), |c| format!("-{c}"));
            flags.push(Flag {
                short,
                valued: takes_value(&shown),
                long,
            });
        }
        Flags(flags)
    }

    fn find(&self, flag: &str) -> Option<&Flag> {
        self.0
            .iter()
            .find(|f| f.long == flag || f.short.is_some_and(|c| flag == format!("-{c}")))
    }
}

/// The flags every tool takes, parsed by the runner.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Common {
    /// `--json`: JSON Lines (docs/json.md) instead of text.
    pub json: bool,
    /// `--duration D`: stop after this long.
    pub duration: Option<Duration>,
    /// `-v`, `--verbose`: which hooks were picked, libbpf's and the verifier's logs.
    pub verbose: bool,
}

/// Rewrites argp-style arguments for argh.
pub fn normalize(args: &[String], valued: &Valued) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        if arg == "--" {
            out.push(arg.clone());
            out.extend(iter.cloned());
            break;
        }
        let takes_next = match arg.strip_prefix("--") {
            Some(long) => valued.long.iter().any(|l| l == long),
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

/// The longest duration or interval accepted: ten years.
pub const MAX_DURATION: Duration = Duration::from_secs(10 * 365 * 86_400);

/// Parses a duration: plain seconds (`10`), or with a unit (`500ms`, `10s`, `5m`, `2h`), at
/// most [`MAX_DURATION`].
pub fn parse_duration(s: &str) -> std::result::Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let bad = || format!("bad duration {s:?}: use e.g. 10, 10s, 500ms, 5m");
    let unit_ns: u128 = match unit {
        "" | "s" => 1_000_000_000,
        "ms" => 1_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => return Err(format!("bad duration unit in {s:?}: use ms, s, m or h")),
    };
    // Decimal digits, by hand: whole part and up to 9 fraction digits (finer is noise).
    let (whole, frac) = num.split_once('.').unwrap_or((num, ""));
    if (whole.is_empty() && frac.is_empty()) || frac.contains('.') {
        return Err(bad());
    }
    let too_long = || format!("duration {s:?} is too long: at most 10 years");
    let mut ns: u128 = 0;
    for c in whole.bytes() {
        ns = ns * 10 + u128::from(c - b'0');
        if ns > MAX_DURATION.as_nanos() {
            return Err(too_long());
        }
    }
    ns *= unit_ns;
    let mut scale = unit_ns;
    for c in frac.bytes().take(18) {
        scale /= 10;
        ns += u128::from(c - b'0') * scale;
    }
    if ns == 0 {
        return Err(format!("duration must be positive: {s:?}"));
    }
    if ns > MAX_DURATION.as_nanos() {
        return Err(too_long());
    }
    Ok(Duration::from_nanos(ns as u64))
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

/// A usage error unless `lo <= value <= hi`; `flag` names the flag in the message.
pub fn check_range(flag: &str, value: u64, lo: u64, hi: u64) -> Result<()> {
    if value < lo || value > hi {
        return Err(Error::usage(format!(
            "{flag} must be {lo}..={hi}, not {value}"
        )));
    }
    Ok(())
}

/// [`parse`] for a command of the agent (`ebpf-agent check`) whose valued flags are the long
/// ones named.
pub fn parse_command<T: argh::FromArgs>(
    command: &str,
    args: &[String],
    valued_long: &[&str],
) -> Result<T> {
    let valued = Valued {
        short: String::new(),
        long: valued_long.iter().map(|s| s.to_string()).collect(),
    };
    parse(&format!("ebpf-agent {command}"), args, &valued)
}

/// Runs argh on normalized arguments: `--help` prints and exits 0, errors exit 2.
pub fn parse<T: argh::FromArgs>(tool: &str, args: &[String], valued: &Valued) -> Result<T> {
    let args = normalize(args, valued);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    T::from_args(&[tool], &refs).map_err(|e| match e.status {
        Ok(()) => Error::done(e.output),
        Err(()) => {
            Error::usage(e.output.trim_end().to_string()).hint(format!("see `{tool} --help`"))
        }
    })
}

/// Parses a tool's command line: the common flags (`--json`, `--duration` or BCC's short
/// form where the tool has one, `-v`), then the tool's own with argh. `--help` lists both.
pub fn parse_tool<A: argh::FromArgs>(
    tool: &str,
    args: &[String],
    duration_short: Option<char>,
) -> Result<(Common, A)> {
    // Only what must know `A` is generic: the rest is compiled once for every tool.
    let info = Flags::of::<A>(tool);
    let (common, rest) = split_common(tool, args, &info, duration_short)?;
    let refs: Vec<&str> = rest.iter().map(String::as_str).collect();
    match A::from_args(&[tool], &refs) {
        Ok(a) => Ok((common, a)),
        Err(e) => Err(argh_failed(tool, e, &info, duration_short)),
    }
}

/// Normalizes `args` and takes the common flags out: (common, what is left for argh).
#[inline(never)]
fn split_common(
    tool: &str,
    args: &[String],
    info: &Flags,
    duration_short: Option<char>,
) -> Result<(Common, Vec<String>)> {
    let mut valued = Valued::default();
    for f in info.0.iter().filter(|f| f.valued) {
        if let Some(c) = f.short {
            valued.short.push(c);
        }
        valued
            .long
            .push(f.long.trim_start_matches("--").to_string());
    }
    valued.long.push("duration".into());
    if let Some(c) = duration_short {
        valued.short.push(c);
    }
    let norm = normalize(args, &valued);
    let mut common = Common::default();
    let mut rest = Vec::with_capacity(norm.len());
    let dshort = duration_short.map(|c| format!("-{c}"));
    let mut it = norm.into_iter();
    while let Some(a) = it.next() {
        if a == "--" {
            rest.push(a);
            rest.extend(it.by_ref());
            break;
        }
        match a.as_str() {
            "--json" => common.json = true,
            "-v" | "--verbose" => common.verbose = true,
            "--duration" => common.duration = Some(duration_value(tool, "--duration", it.next())?),
            _ if dshort.as_deref() == Some(a.as_str()) => {
                let flag = format!("{a}/--duration");
                common.duration = Some(duration_value(tool, &flag, it.next())?);
            }
            _ => rest.push(a),
        }
    }
    Ok((common, rest))
}

/// argh's early exit: the help text with the common flags, or a usage error in our words.
#[inline(never)]
fn argh_failed(
    tool: &str,
    e: argh::EarlyExit,
    info: &Flags,
    duration_short: Option<char>,
) -> Error {
    if e.status.is_ok() {
        Error::done(with_common_help(&e.output, tool, duration_short))
    } else {
        Error::usage(our_words(e.output.trim_end(), info)).hint(format!("see `{tool} --help`"))
    }
}

/// argh's "Error parsing option '-p' with value 'x': invalid digit found in string" in our
/// words, naming both forms of the flag: `-p/--pid: "x" is not a whole number`.
fn our_words(msg: &str, info: &Flags) -> String {
    let Some(rest) = msg.strip_prefix("Error parsing option '") else {
        return msg.to_string();
    };
    let Some((flag, rest)) = rest.split_once("' with value '") else {
        return msg.to_string();
    };
    let Some((value, why)) = rest.split_once("': ") else {
        return msg.to_string();
    };
    let named = info.find(flag).map_or(flag.to_string(), |f| match f.short {
        Some(c) => format!("-{c}/{}", f.long),
        None => f.long.to_string(),
    });
    let why = match why {
        "invalid digit found in string" => "is not a whole number".to_string(),
        "number too large to fit in target type" => "is too large".to_string(),
        "cannot parse integer from empty string" => "is empty".to_string(),
        other => format!("is not accepted: {other}"),
    };
    format!("{named}: {value:?} {why}")
}

fn duration_value(tool: &str, flag: &str, v: Option<String>) -> Result<Duration> {
    let v = v.ok_or_else(|| {
        Error::usage(format!("{flag} needs a value (10, 30s, 5m, ...)"))
            .hint(format!("see `{tool} --help`"))
    })?;
    parse_duration(&v).map_err(|e| Error::usage(format!("{flag}: {e}")))
}

/// argh's help text with the common flags added to its option list.
fn with_common_help(help: &str, tool: &str, duration_short: Option<char>) -> String {
    let d = match duration_short {
        Some(c) => format!("-{c}, --duration"),
        None => "--duration".to_string(),
    };
    let common = format!(
        "  --json            print JSON Lines (schema: docs/tools/{tool}.md)\n  \
         {d:<18}stop after this long (10, 30s, 5m, ...; at most 10 years)\n  \
         -v, --verbose     verbose diagnostics on stderr (hooks picked, libbpf and verifier logs)\n"
    );
    match help
        .find("\n  --help")
        .or_else(|| help.find("\n  -h, --help"))
        .map(|i| i + 1)
    {
        Some(i) => format!("{}{common}{}", &help[..i], &help[i..]),
        None => format!("{help}\nCommon options:\n{common}"),
    }
}

/// A count argument (`[count]`): a positive number.
pub fn parse_count(s: &str) -> std::result::Result<u64, String> {
    match s.parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("count: must be a positive number, not {s:?}")),
    }
}

/// libbpf-tools' positional `[interval] [count]`: seconds (`5`) or with a unit (`500ms`), then
/// a number of reports.
pub fn interval_count(tool: &str, p: &[String]) -> Result<(Option<Duration>, Option<u64>)> {
    if p.len() > 2 {
        return Err(Error::usage(format!(
            "unexpected argument {:?}: {tool} takes [interval] [count]",
            p[2]
        )));
    }
    let interval = p
        .first()
        .map(|s| parse_duration(s).map_err(|e| format!("interval: {e}")))
        .transpose()
        .map_err(Error::usage)?;
    let count = p
        .get(1)
        .map(|s| parse_count(s))
        .transpose()
        .map_err(Error::usage)?;
    Ok((interval, count))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(args: &[&str], short: &str) -> Vec<String> {
        let valued = Valued {
            short: short.into(),
            long: vec!["max-args".into(), "name".into()],
        };
        normalize(
            &args.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            &valued,
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

    /// A tool's flags, as a tool declares them.
    #[derive(argh::FromArgs, Debug)]
    /// Demo.
    struct Demo {
        /// a switch
        #[argh(switch, short = 'x')]
        x: bool,
        /// a valued flag
        #[argh(option, short = 'p')]
        pid: Option<u32>,
        /// a long valued flag
        #[argh(option)]
        max_args: Option<u32>,
        /// positional
        #[argh(positional)]
        rest: Vec<String>,
    }

    fn a(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn valued_flags_come_from_the_definition_and_common_flags_are_taken_out() {
        let (c, d) = parse_tool::<Demo>(
            "demo",
            &a(&["-xvp42", "--json", "--duration=2s", "5"]),
            None,
        )
        .unwrap();
        assert!(c.json && c.verbose && d.x);
        assert_eq!(
            (d.pid, c.duration),
            (Some(42), Some(Duration::from_secs(2)))
        );
        assert_eq!(d.rest, ["5"]);
        let (c, d) =
            parse_tool::<Demo>("demo", &a(&["-d", "500ms", "--max-args", "3"]), Some('d')).unwrap();
        assert_eq!(
            (c.duration, d.max_args),
            (Some(Duration::from_millis(500)), Some(3))
        );
        // Without a short form, -d is the tool's business (here: unknown).
        assert_eq!(
            parse_tool::<Demo>("demo", &a(&["-d", "1"]), None)
                .unwrap_err()
                .exit_code,
            2
        );
        let e = parse_tool::<Demo>("demo", &a(&["--duration", "soon"]), None).unwrap_err();
        assert!(e.message().contains("--duration"), "{}", e.message());
        let e = parse_tool::<Demo>("demo", &a(&["--duration"]), None).unwrap_err();
        assert!(e.message().contains("needs a value"), "{}", e.message());
        let help = parse_tool::<Demo>("demo", &a(&["-h"]), Some('d')).unwrap_err();
        assert_eq!(help.exit_code, 0);
        for want in [
            "--json",
            "  -d, --duration    stop",
            "--verbose",
            "--max-args",
            "--help",
        ] {
            assert!(help.message().contains(want), "{want}: {}", help.message());
        }
    }

    #[test]
    fn flags_from_the_help_text() {
        let f = Flags::of::<Demo>("demo");
        let want = [
            (Some('x'), "--x", false),
            (Some('p'), "--pid", true),
            (None, "--max-args", true),
            (None, "--help", false),
        ];
        let got: Vec<(Option<char>, &str, bool)> =
            f.0.iter()
                .map(|f| (f.short, f.long.as_str(), f.valued))
                .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn parse_errors_in_our_words() {
        let e = parse_tool::<Demo>("demo", &a(&["-p", "x"]), None).unwrap_err();
        assert_eq!(e.message(), "-p/--pid: \"x\" is not a whole number");
        let e = parse_tool::<Demo>("demo", &a(&["--max-args", "99999999999"]), None).unwrap_err();
        assert_eq!(e.message(), "--max-args: \"99999999999\" is too large");
        let e = parse_tool::<Demo>("demo", &a(&["--bogus"]), None).unwrap_err();
        assert!(e.message().contains("--bogus"), "{}", e.message());
    }

    #[test]
    fn pids() {
        assert_eq!(parse_pid("1216"), Ok(1216));
        assert!(parse_pid("99999999999999999999").is_err());
        assert!(parse_pid("0").is_err());
        assert!(parse_pid("-1").is_err());
        assert!(parse_pid("12x").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("1.5").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration(".25s").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("0.5ms").unwrap(), Duration::from_micros(500));
        assert!(parse_duration("1.2.3").is_err());
        assert!(parse_duration(".").is_err());
        assert!(parse_duration("0.0").is_err());
        assert!(parse_duration("0").is_err());
        assert!(parse_duration("3 weeks").is_err());
        assert!(parse_duration("x").is_err());
        let e = parse_duration("99999999999999999999").unwrap_err();
        assert!(e.contains("at most 10 years"), "{e}");
        assert!(parse_duration("87600h").is_ok());
    }

    #[test]
    fn interval_and_count() {
        assert_eq!(interval_count("t", &[]).unwrap(), (None, None));
        assert_eq!(
            interval_count("t", &a(&["2", "3"])).unwrap(),
            (Some(Duration::from_secs(2)), Some(3))
        );
        for bad in [
            &["0"][..],
            &["1", "0"],
            &["1", "x"],
            &["1", "2", "3"],
            &["99999999999999999999"],
        ] {
            assert_eq!(
                interval_count("t", &a(bad)).unwrap_err().exit_code,
                2,
                "{bad:?}"
            );
        }
    }
}
