use super::*;
crate::tools::testutil::tool_tests!(Profile, "profile");

#[test]
fn flags_like_bcc() {
    let (c, a) = parsed(&["-F", "99", "-fdaU", "-p", "42", "5"]);
    assert!(!c.json);
    assert_eq!((a.frequency, a.pid), (99, Some(42)));
    assert!(a.folded && a.delimited && a.annotate && a.user_stacks_only);
    assert_eq!(a.duration, Some(Duration::from_secs(5)));
    let a = parse_args(&["--stack-storage-size", "2048", "-C", "0"]).unwrap();
    assert_eq!((a.stack_storage_size, a.cpu), (2048, Some(0)));
    assert_eq!(a.frequency, 49);
}

#[test]
fn bad_input_is_a_usage_error() {
    usage_errors(
        &[
            (&["-U", "-K"][..], "-K"),
            (&["-F", "0"][..], "-F"),
            (&["-F", "100000000"][..], "-F"),
            (&["--stack-storage-size", "0"][..], "--stack-storage-size"),
            (&["-C", "100000"][..], "-C"),
            (&["-p", "0"][..], "process id"),
            (&["soon"][..], "duration"),
        ],
        "--frequency",
    );
}
