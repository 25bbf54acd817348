use super::*;
crate::tools::testutil::tool_tests!(Filewatch, "filewatch");

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn flags_and_paths() {
    let argv = ["-f", "/x", "--file=/y", "-d", "2", "--json", "/etc/a", "/etc/b/"];
    let (a, c) = (parse_args(&argv).unwrap(), common(&argv));
    assert_eq!(a.file, ["/x", "/y"]);
    assert_eq!(a.paths, ["/etc/a", "/etc/b/"]);
    assert_eq!(c.duration, Some(std::time::Duration::from_secs(2)));
    assert!(c.json);
    usage_errors(
        &[
            (&["--bogus"][..], "--bogus"),
            (&["-d", "x"], "-d"),
            (&["-f"], "-f"),
        ],
        "--help",
    );
}

#[test]
fn fnv1a_known_values() {
    // The published FNV-1a 64 test vectors.
    assert_eq!(fnv1a(b""), 0xcbf29ce484222325);
    assert_eq!(fnv1a(b"a"), 0xaf63dc4c8601ec8c);
    assert_eq!(fnv1a(b"foobar"), 0x85944171f73967e8);
}

#[test]
fn entries_exact_directory_and_prefix() {
    let exact = Watch::parse(b"/etc/shadow").unwrap();
    assert!(!exact.prefix);
    assert!(exact.matches(b"/etc/shadow"));
    assert!(!exact.matches(b"/etc/shadow-"));
    assert_eq!(
        exact.keys(),
        [Key {
            hash: fnv1a(b"/etc/shadow"),
            len: 11,
            kind: EXACT
        }]
    );

    let dir = Watch::parse(b"/etc/sudoers.d/").unwrap();
    assert!(dir.prefix);
    assert!(dir.matches(b"/etc/sudoers.d/README"));
    assert!(dir.matches(b"/etc/sudoers.d"), "the directory itself");
    assert!(!dir.matches(b"/etc/sudoers.dx"));
    assert_eq!(dir.keys().len(), 2);
    assert_eq!(dir.keys()[1].len, 14);

    let pre = Watch::parse(b"/etc/ssh/ssh_host_*").unwrap();
    assert_eq!(pre.bytes, b"/etc/ssh/ssh_host_");
    assert!(pre.matches(b"/etc/ssh/ssh_host_ed25519_key"));
    assert!(!pre.matches(b"/etc/ssh/sshd_config"));
    assert_eq!(pre.keys().len(), 1);

    let root = Watch::parse(b"/").unwrap();
    assert_eq!(root.keys().len(), 1, "/ has no parent entry");

    for bad in [&b"etc/shadow"[..], b"/a*b", b"", b"/a\0b"] {
        assert!(Watch::parse(bad).is_err(), "{bad:?}");
    }
    assert!(Watch::parse(&[b'/'; 255]).is_ok());
    assert!(Watch::parse(&[b'/'; 256]).is_err());
}

#[test]
fn watch_lists_default_files_and_limits() {
    let d = watch_list(&[], &[]).unwrap();
    let texts: Vec<&[u8]> = d.iter().map(|w| w.text.as_slice()).collect();
    assert_eq!(
        texts,
        DEFAULT_WATCHES
            .iter()
            .map(|s| s.as_bytes())
            .collect::<Vec<_>>()
    );

    let dir = std::env::temp_dir().join(format!("filewatch-unit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("list");
    std::fs::write(
        &f,
        b"# credentials\n  /etc/shadow  \n\n/with space/x\n/bad\xff\n/etc/shadow\n",
    )
    .unwrap();
    let l = watch_list(&strings(&["/a"]), &[f.display().to_string()]).unwrap();
    let texts: Vec<&[u8]> = l.iter().map(|w| w.text.as_slice()).collect();
    assert_eq!(
        texts,
        [&b"/a"[..], b"/etc/shadow", b"/with space/x", b"/bad\xff"],
        "comments, blanks and duplicates dropped"
    );

    let missing = dir.join("nope").display().to_string();
    let e = watch_list(&[], std::slice::from_ref(&missing)).unwrap_err();
    assert_ne!(e.exit_code, 0);
    assert!(e.message().contains(&missing), "{}", e.message());

    let many: Vec<String> = (0..65).map(|i| format!("/f{i}")).collect();
    assert!(watch_list(&many, &[]).is_err());
    assert!(watch_list(&many[..64], &[]).is_ok());
    assert!(watch_list(&strings(&["relative"]), &[]).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn config_lists_prefix_lengths() {
    let l = watch_list(&strings(&["/etc/shadow", "/etc/ssh/", "/x*"]), &[]).unwrap();
    let c = config_of(&l);
    assert_eq!(c.max_len, 11);
    assert_eq!(c.prefix_lens[0], (1 << 9) | (1 << 2));
}

fn record(op: u16, watch_id: u32, path: &[u8], other: &[u8], path_flags: u16) -> Vec<u8> {
    let mut head = EventHead {
        time_ns: 9_000_000_000,
        flags: if op == 1 { 0o2 | 0o2000000 } else { 0 },
        pid: 100,
        tid: 101,
        ppid: 1,
        uid: 0,
        ret: if op == 1 { 3 } else { -13 },
        watch_id,
        op,
        syscall: if op == 1 { 2 } else { 8 },
        path_flags,
        pad: 0,
        path_len: path.len() as u32,
        other_len: other.len() as u32,
        comm: [0; 16],
    };
    head.comm[..3].copy_from_slice(b"vim");
    let mut rec = pod::bytes_of(&head).to_vec();
    rec.extend_from_slice(path);
    if !other.is_empty() {
        rec.resize(rec.len() + PATH_BUF - path.len(), 0);
        rec.extend_from_slice(other);
    }
    rec
}

fn run_alerts(flags: &[&str], list: &[&str], records: &[Vec<u8>]) -> (String, u64) {
    let argv: Vec<&str> = flags.iter().chain(list).copied().collect();
    let (c, a) = parsed(&argv);
    let mut t = Filewatch::new(a, &c).unwrap();
    let mut out = Out::memory(c.json);
    t.header(&mut out);
    for r in records {
        t.record(0, r, &mut out);
    }
    (out.memory_text(), t.unconfirmed)
}

#[test]
fn json_alerts_and_collisions_dropped() {
    let (out, dropped) = run_alerts(
        &["--json"],
        &["/etc/shadow", "/etc/ssh/"],
        &[
            record(1, 0, b"/etc/shadow", b"", P_FILE),
            record(4, 1, b"/etc/ssh/new\n\xff", b"/tmp/old", P_NEW),
            // A kernel match the bytes do not confirm, and an index out of range.
            record(1, 0, b"/etc/shadox", b"", 0),
            record(1, 7, b"/etc/shadow", b"", 0),
        ],
    );
    assert_eq!(dropped, 2);
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{out}");
    let a = &lines[0];
    assert_eq!(a["type"], "alert");
    assert_eq!(
        (a["op"].as_str(), a["syscall"].as_str()),
        (Some("open"), Some("openat"))
    );
    assert_eq!(a["path"], "/etc/shadow");
    assert_eq!(a["watch"], "/etc/shadow");
    assert_eq!(a["matched_by"], "file");
    assert_eq!(a["flags_text"], "O_RDWR|O_CLOEXEC");
    assert_eq!(
        (a["pid"].as_u64(), a["ppid"].as_u64(), a["ret"].as_i64()),
        (Some(100), Some(1), Some(3))
    );
    assert!(a.get("renamed_to").is_none() && a.get("renamed_from").is_none());
    let r = &lines[1];
    assert_eq!(r["op"], "rename");
    assert_eq!(r["path"], "/etc/ssh/new\n\u{fffd}");
    assert_eq!(r["path_hex"], "2f6574632f7373682f6e65770aff");
    assert_eq!(r["renamed_from"], "/tmp/old");
    assert_eq!(r["watch"], "/etc/ssh/");
    assert_eq!(r["matched_by"], "name");
    assert_eq!(r["ret"], -13);
}

#[test]
fn text_columns() {
    let (out, _) = run_alerts(
        &[],
        &["/etc/shadow"],
        &[
            record(1, 0, b"/etc/shadow", b"", 0),
            record(4, 0, b"/etc/shadow", b"/etc/shadow.new", 0),
        ],
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "TIME     PID     PPID    UID    COMM             OP      RET PATH"
    );
    assert!(
        lines[1].ends_with(" 100     1       0      vim              open      3 /etc/shadow"),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].ends_with(" rename  -13 /etc/shadow -> /etc/shadow.new"),
        "{}",
        lines[2]
    );
}
