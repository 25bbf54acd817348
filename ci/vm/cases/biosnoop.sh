#!/bin/sh
# biosnoop on the emulated board, on /dev/nullb0 (null_blk, loaded at boot: requests complete
# in a softirq, not in the process that made them): one dd writes 8 blocks of 4096 bytes with
# O_DIRECT and fsync, another reads them back. Two runs: the hooks the kernel offers first
# (tp_btf) with -Q -d nullb0, and the /usr/sbin/biosnoop link with --hook raw_tp, every disk.
# Host side: ci/vm/cases/biosnoop.py.
# shellcheck source=ci/vm/guest/lib.sh
. /usr/share/ebpf-vm/lib.sh
out=$1
dev=nullb0

# io DIR BLOCK: the workload at block BLOCK, recorded in DIR/expect.txt as
# "write <pid> <block>" and "read <pid> <block>".
io() {
    dd if=/dev/zero of=/dev/$dev bs=4096 count=8 seek="$2" oflag=direct conv=fsync 2>/dev/null &
    p=$!
    echo "write $p $2" >>"$1/expect.txt"
    # Not a bare wait: the tool runs in the background too.
    wait "$p"
    dd if=/dev/$dev of=/dev/null bs=4096 count=8 skip="$2" iflag=direct 2>/dev/null &
    p=$!
    echo "read $p $2" >>"$1/expect.txt"
    wait "$p"
}

d=$out/main
start_tool "$d" /usr/sbin/ebpf-agent biosnoop --json --verbose -Q -d $dev
wait_attached "$d" 60
io "$d" 100
sleep 1
stop_tool "$d"

d=$out/link
start_tool "$d" biosnoop --json --verbose --hook raw_tp
wait_attached "$d" 60
io "$d" 300
sleep 1
stop_tool "$d"
