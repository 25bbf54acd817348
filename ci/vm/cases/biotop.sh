#!/bin/sh
# biotop on the emulated board, on /dev/nullb0 (null_blk): a dd writes 8 blocks of 4096 bytes
# with O_DIRECT and fsync, another reads them back. Runs: the hooks the kernel offers first,
# a report every second; the /usr/sbin/biotop link with --hook raw_tp -s io -p and the writer
# held on a fifo until the tool traces its pid (the reader, not traced, must not show).
# Counts are complete once the dds have returned: SIGINT makes a last report of the map.
# Host side: ci/vm/cases/biotop.py.
# shellcheck source=ci/vm/guest/lib.sh
. /usr/share/ebpf-vm/lib.sh
out=$1
dev=nullb0

# io DIR: both dds, recorded in DIR/expect.txt as "W <pid>" and "R <pid>".
io() {
    dd if=/dev/zero of=/dev/$dev bs=4096 count=8 oflag=direct conv=fsync 2>/dev/null &
    p=$!
    echo "W $p" >>"$1/expect.txt"
    # Not a bare wait: the tool runs in the background too.
    wait "$p"
    dd if=/dev/$dev of=/dev/null bs=4096 count=8 iflag=direct 2>/dev/null &
    p=$!
    echo "R $p" >>"$1/expect.txt"
    wait "$p"
}

d=$out/main
start_tool "$d" /usr/sbin/ebpf-agent biotop --json --verbose -C -r 10240 1
wait_attached "$d" 60
io "$d"
stop_tool "$d"

d=$out/link
mkdir -p "$d"
mkfifo "$d/go"
# The writer is this shell itself, exec'd into dd: its pid is known before it writes.
# shellcheck disable=SC2016 # expanded by that shell
sh -c 'read -r _ <"$1"; exec dd if=/dev/zero of="$2" bs=4096 count=8 oflag=direct conv=fsync 2>/dev/null' \
    held "$d/go" /dev/$dev &
held=$!
start_tool "$d" biotop --json --verbose -C --hook raw_tp -s io -p "$held" 3600
wait_attached "$d" 60
echo go >"$d/go"
wait "$held"
echo "W $held" >>"$d/expect.txt"
dd if=/dev/$dev of=/dev/null bs=4096 count=8 iflag=direct 2>/dev/null &
p=$!
echo "untraced $p" >>"$d/expect.txt"
wait "$p"
rm -f "$d/go"
stop_tool "$d"

