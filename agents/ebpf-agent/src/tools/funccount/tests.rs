use super::*;
crate::tools::testutil::tool_tests!(Funccount, "funccount");

#[test]
fn flags() {
    let (c, a) = parsed(&["-p", "9", "-i", "1", "-d", "3", "-T", "t:a:b", "vfs_*"]);
    assert_eq!(c.duration, Some(Duration::from_secs(3)));
    assert_eq!((a.pid, a.interval), (Some(9), Some(Duration::from_secs(1))));
    assert!(a.timestamp && !a.regexp);
    assert_eq!(a.patterns, ["t:a:b", "vfs_*"]);
    usage_errors(
        &[
            (&[][..], "PATTERN"),
            (&["-r", "vfs_(read"][..], "unclosed"),
            (&["t:sched"][..], "bad pattern"),
            (&["-i", "0", "vfs_read"][..], "duration"),
        ],
        "--regexp",
    );
}
