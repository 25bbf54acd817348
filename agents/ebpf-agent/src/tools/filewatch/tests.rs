use super::watch::{
    below, canonical, fnv1a, parse_list, Key, Kind, EXACT, FIRST, LIST_MAX_BYTES, LIST_MAX_LINES,
    PREFIX,
};
use super::*;
use crate::tools::testutil::{json_lines, padded, record, written};
crate::tools::testutil::tool_tests!(Filewatch, "filewatch");

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Parses an entry with the textual part of canonicalisation only (no file system).
fn pure(text: &[u8]) -> std::result::Result<Watch, String> {
    Watch::parse_with(text, &|p: &[u8]| {
        let mut out: Vec<u8> = b"/".to_vec();
        for c in p.split(|&b| b == b'/') {
            match c {
                b"" | b"." => {}
                b".." => out = watch::parent(&out).to_vec(),
                _ => {
                    if out != b"/" {
                        out.push(b'/');
                    }
                    out.extend_from_slice(c);
                }
            }
        }
        out
    })
}

#[test]
fn flags_and_paths() {
    let argv = [
        "-f",
        "/x",
        "--file=/y",
        "-d",
        "2",
        "--json",
        "/etc/a",
        "/etc/b/",
    ];
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
            (&["-f", "/dev/zero"], "larger than 65536 bytes"),
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

fn k(b: &[u8], kind: u16, anchor: u16) -> Key {
    Key {
        hash: fnv1a(b),
        len: b.len() as u32,
        kind,
        anchor,
    }
}

#[test]
fn entries_exact_directory_and_prefix() {
    let exact = pure(b"/etc/shadow").unwrap();
    assert_eq!(exact.kind, Kind::Exact);
    assert!(exact.matches(b"/etc/shadow"));
    assert!(!exact.matches(b"/etc/shadow-"));
    assert_eq!(exact.keys(), [k(b"/etc/shadow", EXACT, 0)]);
    assert_eq!(exact.anchor_keys(b"/etc", 3), [k(b"shadow", EXACT, 3)]);
    assert_eq!(
        exact.anchor_keys(b"/", 1),
        [k(b"etc/shadow", EXACT, 1), k(b"etc", FIRST, 1)],
        "a path deeper than one name below its anchor goes through a FIRST component"
    );
    assert!(exact.anchor_keys(b"/usr", 1).is_empty());

    let dir = pure(b"/etc/sudoers.d/").unwrap();
    assert_eq!(
        (dir.kind, dir.bytes.as_slice()),
        (Kind::Dir, &b"/etc/sudoers.d"[..])
    );
    assert!(dir.matches(b"/etc/sudoers.d/README"));
    assert!(dir.matches(b"/etc/sudoers.d"), "the directory itself");
    assert!(!dir.matches(b"/etc/sudoers.dx"));
    assert_eq!(
        dir.keys(),
        [
            k(b"/etc/sudoers.d/", PREFIX, 0),
            k(b"/etc/sudoers.d", EXACT, 0)
        ]
    );
    assert_eq!(
        dir.anchor_keys(b"/etc", 2),
        [
            k(b"sudoers.d", EXACT, 2),
            k(b"sudoers.d/", PREFIX, 2),
            k(b"sudoers.d", FIRST, 2)
        ]
    );
    assert_eq!(pure(b"/etc/sudoers.d/*").unwrap(), {
        let mut d = dir.clone();
        d.text = b"/etc/sudoers.d/*".to_vec();
        d
    });

    let pre = pure(b"/etc/ssh/ssh_host_*").unwrap();
    assert_eq!(
        (pre.kind, pre.bytes.as_slice()),
        (Kind::Prefix, &b"/etc/ssh/ssh_host_"[..])
    );
    assert!(pre.matches(b"/etc/ssh/ssh_host_ed25519_key"));
    assert!(!pre.matches(b"/etc/ssh/sshd_config"));
    assert_eq!(pre.keys(), [k(b"/etc/ssh/ssh_host_", PREFIX, 0)]);
    assert_eq!(
        pre.anchor_keys(b"/etc/ssh", 4),
        [k(b"ssh_host_", PREFIX, 4)]
    );

    // Written non-canonically, matched canonically.
    let odd = pure(b"/tmp/./dir//sub/../file").unwrap();
    assert_eq!(odd.bytes, b"/tmp/dir/file");
    assert_eq!(odd.text, b"/tmp/./dir//sub/../file");
    assert_eq!(pure(b"/a/./b*").unwrap().bytes, b"/a/b");

    let root = pure(b"/").unwrap();
    assert_eq!(root.keys().len(), 1, "/ has no parent entry");

    for bad in [&b"etc/shadow"[..], b"/a*b", b"", b"/a\0b"] {
        assert!(pure(bad).is_err(), "{bad:?}");
    }
    let long = [b'a'; 254];
    let mut p = vec![b'/'];
    p.extend_from_slice(&long);
    assert!(pure(&p).is_ok());
    p.push(b'a');
    assert!(pure(&p).unwrap_err().contains("more than 255"));
    assert_eq!(below(b"/", b"/etc"), Some(&b"etc"[..]));
    assert_eq!(below(b"/etc", b"/etcx"), None);
}

/// The anchor is the deepest directory of the entry's path that exists now.
#[test]
fn anchors_are_the_deepest_existing_directory() {
    let e = pure(b"/srv/a/b/c").unwrap();
    let exists = |p: &[u8]| p == b"/srv" || p == b"/srv/a";
    assert_eq!(e.anchor(&exists), b"/srv/a");
    assert_eq!(e.anchor(&|_: &[u8]| false), b"/");
    let d = pure(b"/srv/a/").unwrap();
    assert_eq!(
        d.anchor(&exists),
        b"/srv",
        "a directory entry hangs from its parent"
    );
}

/// Real canonicalisation: symbolic links of the part that exists resolved, the rest folded.
#[test]
fn canonical_resolves_links_and_folds_the_rest() {
    let dir = std::env::temp_dir().join(format!("filewatch-canon-{}", std::process::id()));
    let real = dir.join("real");
    std::fs::create_dir_all(real.join("sub")).unwrap();
    std::os::unix::fs::symlink(&real, dir.join("link")).unwrap();
    let d = dir.canonicalize().unwrap();
    let d = d.to_str().unwrap();
    let c = |p: String| String::from_utf8(canonical(p.as_bytes())).unwrap();
    assert_eq!(c(format!("{d}/link/sub/x")), format!("{d}/real/sub/x"));
    assert_eq!(
        c(format!("{d}/./real//sub/../sub")),
        format!("{d}/real/sub")
    );
    assert_eq!(c(format!("{d}/missing/../real")), format!("{d}/real"));
    assert_eq!(
        c(format!("{d}/link")),
        format!("{d}/real"),
        "a linked entry is its target"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn watch_lists_default_files_and_limits() {
    let d = watch_list(&[], &[], DEFAULT_WATCHES).unwrap();
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
        b"# credentials\n  /etc/shadow  \n\n/with space/x\n/bad\xff\n/etc/./shadow\n",
    )
    .unwrap();
    let l = watch_list(&strings(&["/a"]), &[f.display().to_string()], &[]).unwrap();
    let texts: Vec<&[u8]> = l.iter().map(|w| w.text.as_slice()).collect();
    assert_eq!(
        texts,
        [&b"/a"[..], b"/etc/shadow", b"/with space/x", b"/bad\xff"],
        "comments, blanks and duplicates (once canonical) dropped"
    );

    let missing = dir.join("nope").display().to_string();
    let e = watch_list(&[], std::slice::from_ref(&missing), &[]).unwrap_err();
    assert_eq!(e.exit_code, 2);
    assert!(e.message().contains(&missing), "{}", e.message());

    let many: Vec<String> = (0..65).map(|i| format!("/f{i}")).collect();
    assert!(watch_list(&many, &[], &[]).is_err());
    assert!(watch_list(&many[..64], &[], &[]).is_ok());
    assert!(watch_list(&strings(&["relative"]), &[], &[]).is_err());

    // Files are bounded: size, lines, text.
    for (data, why) in [
        (
            vec![0u8; LIST_MAX_BYTES as usize + 1],
            "larger than 65536 bytes",
        ),
        (vec![b'\n'; LIST_MAX_LINES + 1], "more than 4096 lines"),
        (b"/a\n/b\0c\n".to_vec(), "line 2 holds a NUL"),
    ] {
        let e = parse_list("L", &data).unwrap_err();
        assert_eq!(e.exit_code, 2);
        assert!(e.message().contains(why), "{}", e.message());
    }
    assert_eq!(
        parse_list("L", &vec![b'\n'; LIST_MAX_LINES - 1])
            .unwrap()
            .len(),
        0
    );
    let e = watch_list(&[], &strings(&["/dev/zero"]), &[]).unwrap_err();
    assert!(
        e.message().contains("/dev/zero is larger"),
        "{}",
        e.message()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn config_lists_prefix_lengths() {
    let l: Vec<Watch> = ["/etc/shadow", "/etc/ssh/", "/x*"]
        .iter()
        .map(|t| pure(t.as_bytes()).unwrap())
        .collect();
    let c = config_of(&l);
    assert_eq!(c.max_len, 11);
    assert_eq!(c.prefix_lens[0], (1 << 9) | (1 << 2));
    // Below each possible anchor: "ssh/" below /etc, "etc/ssh/" below /, and "x" below /.
    assert_eq!(c.anchor_prefix_lens[0], (1 << 4) | (1 << 8) | (1 << 1));
    assert_eq!(c.self_tgid, std::process::id());
}

struct Rec<'a> {
    op: u16,
    watch_id: u32,
    path: &'a [u8],
    other: &'a [u8],
    name: &'a [u8],
    path_flags: u16,
    compat: u16,
}

impl Rec<'_> {
    fn bytes(&self) -> Vec<u8> {
        let op = self.op;
        let head = EventHead {
            time_ns: 9_000_000_000,
            flags: if op == 1 { 0o2 | 0o2000000 } else { 0 },
            pid: 100,
            tid: 101,
            ppid: 1,
            uid: 0,
            ret: if op == 1 { 3 } else { -13 },
            watch_id: self.watch_id,
            op,
            syscall: if op == 1 { 2 } else { 8 },
            path_flags: self.path_flags,
            compat: self.compat,
            path_len: self.path.len() as u32,
            other_len: self.other.len() as u32,
            name_len: self.name.len() as u32,
            comm: padded(b"vim"),
            ..Default::default()
        };
        let mut rec = record(&head);
        rec.extend_from_slice(self.path);
        rec.extend_from_slice(self.other);
        rec.extend_from_slice(self.name);
        rec
    }
}

fn rec<'a>(op: u16, watch_id: u32, path: &'a [u8], path_flags: u16) -> Rec<'a> {
    Rec {
        op,
        watch_id,
        path,
        other: b"",
        name: b"",
        path_flags,
        compat: 0,
    }
}

fn run_alerts(json: bool, list: &[&str], records: &[Vec<u8>]) -> (String, u64) {
    let list = list.iter().map(|t| pure(t.as_bytes()).unwrap()).collect();
    let mut t = Filewatch::with_list(list);
    let text = written(json, |out| {
        t.header(out);
        for r in records {
            t.record(0, r, out);
        }
    });
    (text, t.unconfirmed)
}

#[test]
fn json_alerts_and_collisions_dropped() {
    let (out, dropped) = run_alerts(
        true,
        &["/etc/shadow", "/etc/ssh/"],
        &[
            Rec {
                name: b"../etc/./shadow",
                ..rec(1, 0, b"/etc/shadow", 0)
            }
            .bytes(),
            Rec {
                other: b"/tmp/old",
                ..rec(4, 1, b"/etc/ssh/new\n\xff", P_NEW)
            }
            .bytes(),
            // A kernel match the bytes do not confirm, and an index out of range.
            rec(1, 0, b"/etc/shadox", 0).bytes(),
            rec(1, 7, b"/etc/shadow", 0).bytes(),
            // Too deep to tell: reported, with no entry and an incomplete path.
            Rec {
                compat: 1,
                ..rec(1, u32::MAX, b"/z/z/z", P_FILE | P_UNDECIDED)
            }
            .bytes(),
        ],
    );
    assert_eq!(dropped, 2);
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 3, "{out}");
    let a = &lines[0];
    assert_eq!(a["type"], "alert");
    assert_eq!(
        (a["op"].as_str(), a["syscall"].as_str(), a["abi"].as_str()),
        (Some("open"), Some("openat"), Some(std::env::consts::ARCH))
    );
    assert_eq!(a["path"], "/etc/shadow");
    assert_eq!(a["name"], "../etc/./shadow");
    assert_eq!(a["watch"], "/etc/shadow");
    assert_eq!(a["matched_by"], "name");
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
    assert_eq!(
        (r["watch"].as_str(), r["name"].as_str()),
        (Some("/etc/ssh/"), Some(""))
    );
    assert_eq!(r["ret"], -13);
    let u = &lines[2];
    assert_eq!(
        (
            u["watch"].as_str(),
            u["matched_by"].as_str(),
            &u["path_incomplete"]
        ),
        (Some(""), Some("file"), &true.into())
    );
    assert_eq!(u["abi"], crate::syscalls::COMPAT.name);
}

#[test]
fn text_columns() {
    let (out, _) = run_alerts(
        false,
        &["/etc/shadow"],
        &[
            rec(1, 0, b"/etc/shadow", 0).bytes(),
            Rec {
                other: b"/etc/shadow.new",
                ..rec(4, 0, b"/etc/shadow", 0)
            }
            .bytes(),
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

#[test]
fn syscall_names_by_id() {
    assert_eq!(syscall_name(1), "open");
    assert_eq!(syscall_name(10), "creat");
    assert_eq!(syscall_name(11), "open_by_handle_at");
    assert_eq!(syscall_name(12), "io_uring_enter");
    assert_eq!(syscall_name(13), "io_uring");
    assert_eq!(syscall_name(14), "vfs");
    assert_eq!(syscall_name(0), "unknown");
    assert_eq!(syscall_name(99), "unknown");
}
