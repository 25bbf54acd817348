use super::*;
crate::tools::testutil::tool_tests!(Offcputime, "offcputime");

#[test]
fn flags_like_bcc() {
    let a = parse_args(&[
        "-p", "7", "-u", "-m", "500", "-M", "9000", "--state", "1", "-fK", "3",
    ])
    .unwrap();
    assert_eq!(
        (a.pid, a.min_block_time, a.max_block_time),
        (Some(7), 500, Some(9000))
    );
    assert!(a.user_threads_only && a.folded && a.kernel_stacks_only);
    assert_eq!(
        (a.state, a.duration),
        (Some(1), Some(Duration::from_secs(3)))
    );
}

#[test]
fn bad_input_is_a_usage_error() {
    usage_errors(
        &[
            (&["-u", "-k"][..], "-k"),
            (&["-U", "-K"][..], "-K"),
            (&["-p", "1", "-t", "2"][..], "-t"),
            (&["-m", "10", "-M", "5"][..], "-M"),
            (&["-m", "x"][..], "-m"),
        ],
        "--state",
    );
}
