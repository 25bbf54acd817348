#!/bin/sh
# biolatency on the emulated board, on /dev/nullb0 (null_blk, the board's only disk): a dd
# writes 8 blocks of 4096 bytes with O_DIRECT and fsync, another reads them back. Runs: the
# hooks the kernel offers first with -D -F -d nullb0 (one report, at SIGINT); the
# /usr/sbin/biolatency link with --hook raw_tp -Q -m, a report every second. Host side:
# ci/vm/cases/biolatency.py.
# shellcheck source=ci/vm/guest/lib.sh
. /usr/share/ebpf-vm/lib.sh
out=$1
dev=nullb0

# io DIR: both dds, recorded in DIR/expect.txt as "write <pid>" and "read <pid>".
io() {
    dd if=/dev/zero of=/dev/$dev bs=4096 count=8 oflag=direct conv=fsync 2>/dev/null &
    p=$!
    echo "write $p" >>"$1/expect.txt"
    # Not a bare wait: the tool runs in the background too.
    wait "$p"
    dd if=/dev/$dev of=/dev/null bs=4096 count=8 iflag=direct 2>/dev/null &
    p=$!
    echo "read $p" >>"$1/expect.txt"
    wait "$p"
}

d=$out/main
start_tool "$d" /usr/sbin/ebpf-agent biolatency --json --verbose -D -F -d $dev
wait_attached "$d" 60
io "$d"
stop_tool "$d"

d=$out/link
start_tool "$d" biolatency --json --verbose --hook raw_tp -Q -m 1
wait_attached "$d" 60
io "$d"
sleep 1
stop_tool "$d"

