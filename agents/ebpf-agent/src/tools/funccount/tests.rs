use super::*;
use crate::tools::testutil::{parse, rejected};

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
