use super::*;
use crate::tools::testutil::{parse, rejected};

#[test]
fn patterns_like_bcc() {
    let t = |s| parse_target(s).unwrap();
    assert_eq!(t("vfs_*"), Target::Kernel("vfs_*".into()));
    assert_eq!(t("k:vfs_read"), Target::Kernel("vfs_read".into()));
    assert_eq!(
        t("t:sched:sched_*"),
        Target::Tracepoint("sched".into(), "sched_*".into())
    );
    assert_eq!(
        t("u:/lib/x/libc.so.6:malloc"),
        Target::User("/lib/x/libc.so.6".into(), "malloc".into())
    );
    assert_eq!(t("c:str*"), Target::User("c".into(), "str*".into()));
    assert_eq!(t("p:c:malloc"), Target::User("c".into(), "malloc".into()));
    for bad in ["t:sched", "k:", "u::f", "t::x", "a:b:c:d"] {
        assert!(parse_target(bad).is_err(), "{bad}");
    }
}

#[test]
fn flags() {
    let (c, a) =
        parse::<Funccount>("funccount", &["-p", "9", "-i", "1", "-d", "3", "-T", "t:a:b", "vfs_*"])
            .unwrap();
    assert_eq!(c.duration, Some(Duration::from_secs(3)));
    assert_eq!((a.pid, a.interval), (Some(9), Some(Duration::from_secs(1))));
    assert!(a.timestamp && !a.regexp);
    assert_eq!(a.patterns, ["t:a:b", "vfs_*"]);
    for (argv, what) in [
        (&[][..], "PATTERN"),
        (&["-r", "vfs_(read"][..], "unclosed"),
        (&["t:sched"][..], "bad pattern"),
        (&["-i", "0", "vfs_read"][..], "duration"),
    ] {
        let e = rejected::<Funccount>("funccount", argv);
        assert_eq!(e.exit_code, 2, "{argv:?}: {e}");
        assert!(e.to_string().contains(what), "{argv:?}: {e}");
    }
}
