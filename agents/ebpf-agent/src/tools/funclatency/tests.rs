use super::*;
crate::tools::testutil::tool_tests!(Funclatency, "funclatency");

#[test]
fn flags_like_libbpf_tools() {
    let (c, a) = parsed(&["-u", "-p", "5", "-i", "2", "-d", "10", "-T", "c:nanosleep"]);
    assert_eq!(c.duration, Some(Duration::from_secs(10)));
    assert!(a.microseconds && a.timestamp && !a.milliseconds);
    assert_eq!((a.pid, a.function.as_str()), (Some(5), "c:nanosleep"));
    usage_errors(
        &[
            (&["-m", "-u", "vfs_read"][..], "-u"),
            (&["vfs_*"][..], "wildcards"),
            (&["t:sched:sched_switch"][..], "tracepoints"),
            (&[][..], "function"),
        ],
        "--microseconds",
    );
}

#[test]
fn selftest_target_by_offset() {
    let args = selftest_args("m");
    let f = args.last().unwrap();
    let (_, off) = f.rsplit_once(':').unwrap();
    assert!(
        agent_core::bpf::uprobe_offset(off).is_some_and(|o| o > 0),
        "{f}"
    );
}
