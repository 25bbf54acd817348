//! Bad input, generated: command lines, kernel records and watch lists of random shape go
//! through every tool's own code, which must answer each with a result or an error, never a
//! panic. Deterministic (a fixed seed, so a failure repeats) and bounded in time
//! (`EBPF_AGENT_FUZZ_MS` per target, 300 ms by default; `EBPF_AGENT_FUZZ_SEED` for another
//! sequence).

use std::time::{Duration, Instant};

use agent_core::output::Out;

use crate::tools::{self, filewatch::watch};

/// xorshift64*: small, deterministic, good enough to pick shapes.
struct Rng(u64);

impl Rng {
    fn new(salt: u64) -> Rng {
        let seed = std::env::var("EBPF_AGENT_FUZZ_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0x9e37_79b9_7f4a_7c15u64);
        Rng((seed ^ salt.wrapping_mul(0xff51_afd7_ed55_8ccd)) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a>(&mut self, of: &[&'a str]) -> &'a str {
        of[self.below(of.len())]
    }
    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let len = self.below(max + 1);
        (0..len).map(|_| self.next() as u8).collect()
    }
}

fn budget() -> Duration {
    let ms = std::env::var("EBPF_AGENT_FUZZ_MS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    Duration::from_millis(ms)
}

/// Runs `one` with fresh random input until the time budget is spent; returns the rounds.
fn for_a_while(salt: u64, mut one: impl FnMut(&mut Rng)) -> u64 {
    let mut rng = Rng::new(salt);
    let until = Instant::now() + budget();
    let mut rounds = 0;
    while rounds < 100 || Instant::now() < until {
        one(&mut rng);
        rounds += 1;
    }
    rounds
}

/// Values a flag may be given: numbers at and past every limit, signs, units, junk.
const VALUES: &[&str] = &[
    "0",
    "1",
    "-1",
    "2",
    "10",
    "99999999999999999999",
    "18446744073709551615",
    "18446744073709551616",
    "4294967295",
    "4294967296",
    "4194304",
    "1e9",
    "0x10",
    "1.5",
    "1.",
    ".5",
    "500ms",
    "10s",
    "5m",
    "3h",
    "1d",
    "9999999999h",
    "",
    " ",
    "-",
    "--",
    "abc",
    "12x",
    "/",
    "/etc/shadow",
    "/tmp/./a//b/../c*",
    "*",
    "relative",
    "\u{0}",
    "é",
    "all",
    "reads",
    "kprobe",
    "tracepoint",
    "auto",
];

/// Flags any tool may have, and ones it may not.
const FLAGS: &[&str] = &[
    "-p",
    "-t",
    "-u",
    "-n",
    "-d",
    "-i",
    "-e",
    "-x",
    "-T",
    "-U",
    "-P",
    "-L",
    "-m",
    "-C",
    "-a",
    "-s",
    "-r",
    "-f",
    "-F",
    "-c",
    "-l",
    "-j",
    "-q",
    "-h",
    "-v",
    "-Z",
    "--json",
    "--duration",
    "--pid",
    "--tid",
    "--uid",
    "--name",
    "--interval",
    "--max-args",
    "--hook",
    "--file",
    "--failed",
    "--verbose",
    "--threads",
    "--bogus",
    "--",
    "---",
];

/// Every tool's command-line parsing and validation (what runs before the kernel is touched)
/// answers any argv with a tool or an error carrying a documented exit code.
#[test]
fn random_command_lines_are_answered_not_panicked_on() {
    for (n, t) in tools::ALL.iter().enumerate() {
        let rounds = for_a_while(n as u64, |rng| {
            let mut argv: Vec<String> = Vec::new();
            for _ in 0..rng.below(6) {
                match rng.below(4) {
                    0 => argv.push(rng.pick(VALUES).to_string()),
                    1 => {
                        argv.push(rng.pick(FLAGS).to_string());
                    }
                    2 => {
                        argv.push(rng.pick(FLAGS).to_string());
                        argv.push(rng.pick(VALUES).to_string());
                    }
                    _ => argv.push(format!("{}={}", rng.pick(FLAGS), rng.pick(VALUES))),
                }
            }
            if let Err(e) = (t.spec.start)(t.spec.name, &argv) {
                assert!(
                    [0, 1, 2, 3, 4].contains(&e.exit_code),
                    "{} {argv:?}: exit code {} ({e})",
                    t.name(),
                    e.exit_code
                );
                assert!(!e.message().is_empty(), "{} {argv:?}: no message", t.name());
            }
        });
        assert!(rounds >= 100, "{}: {rounds} rounds", t.name());
    }
}

/// Every tool's record decoder takes records of any length and content from each of its ring
/// buffers (a kernel built from other headers, a bug on the BPF side) without panicking, in
/// text and JSON.
#[test]
fn random_records_are_decoded_without_panicking() {
    // A command line each tool accepts: the one its self-test runs with, or these.
    let argv_of = |t: &agent_core::tool::Entry| -> Vec<String> {
        match t.name() {
            "filewatch" => vec![
                "/tmp/fuzz-a".into(),
                "/tmp/fuzz-d/".into(),
                "/tmp/p-*".into(),
            ],
            "filetop" => vec!["1".into()],
            _ => (t.spec.selftest.args)("fuzz"),
        }
    };
    for (n, t) in tools::ALL.iter().enumerate() {
        for json in [false, true] {
            let mut argv = argv_of(t);
            if json {
                argv.push("--json".into());
            }
            let started = (t.spec.start)(t.spec.name, &argv)
                .unwrap_or_else(|e| panic!("{} {argv:?}: {e}", t.name()));
            let mut h = started.handler;
            let rings = h.rings().len().max(1);
            let mut out = Out::memory(json);
            h.header(&mut out);
            for_a_while(100 + 2 * n as u64 + json as u64, |rng| {
                // Mostly short (heads), sometimes as long as the largest records.
                let max = if rng.below(4) == 0 { 40_000 } else { 256 };
                let mut data = rng.bytes(max);
                // Small counts and lengths are the likely ones: zero some words.
                for w in data.chunks_mut(4) {
                    if rng.below(3) == 0 {
                        w.fill(0);
                    }
                }
                // A record's first word is often its kind: the small values, half the time.
                if data.len() >= 4 && rng.below(2) == 0 {
                    data[..4].copy_from_slice(&(rng.below(5) as u32).to_le_bytes());
                }
                h.record(rng.below(rings), &data, &mut out);
                if rng.below(64) == 0 {
                    out.memory_text();
                }
            });
            h.finish(&mut out);
        }
    }
}

/// The watch-list parser and the entry parser take any bytes: entries or a usage error.
#[test]
fn random_watch_lists_are_parsed_or_refused() {
    const PIECES: &[&str] = &[
        "/", "//", "/.", "/..", "/etc", "/shadow", "*", "a", " ", "\t", "\n", "#", "\r", "\0",
        "\u{ff}", "/tmp/", "..", ".",
    ];
    for_a_while(7, |rng| {
        let data: Vec<u8> = if rng.below(2) == 0 {
            rng.bytes(600)
        } else {
            (0..rng.below(80))
                .flat_map(|_| rng.pick(PIECES).as_bytes().to_vec())
                .collect()
        };
        match watch::parse_list("fuzz", &data) {
            Ok(lines) => {
                for l in lines {
                    // Textual canonicalisation only: the file system is not consulted.
                    if let Ok(w) = watch::Watch::parse_with(&l, &|p: &[u8]| p.to_vec()) {
                        assert!(w.bytes.len() <= watch::WATCH_LEN, "{w:?}");
                        let _ = w.keys();
                    }
                }
            }
            Err(e) => assert_eq!(e.exit_code, agent_core::error::EXIT_USAGE, "{e}"),
        }
    });
}
