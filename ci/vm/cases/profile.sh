#!/bin/sh
# profile on the emulated board: a dd copying /dev/zero to /dev/null (its time is in the
# kernel) under a system-wide profile of 4 s (the positional duration), in JSON (main) and
# folded through the /usr/sbin/profile link (-f). expect.txt: "dd <pid>". Host side:
# ci/vm/cases/profile.py.
# shellcheck source=ci/vm/guest/lib.sh
. /usr/share/ebpf-vm/lib.sh
out=$1

# busy DIR: a dd for about as long as the tool samples, recorded in DIR/expect.txt.
busy() {
    dd if=/dev/zero of=/dev/null bs=64k count=400000 2>/dev/null &
    echo "dd $!" >>"$1/expect.txt"
    wait_tool=$!
    sleep 3
    kill "$wait_tool" 2>/dev/null
    wait "$wait_tool" 2>/dev/null
}

d=$out/main
start_tool "$d" /usr/sbin/ebpf-agent profile --json --verbose -F 99 --stack-storage-size 8192 4
wait_attached "$d" 60
busy "$d"
wait_exit 60
stop_tool "$d"

d=$out/folded
start_tool "$d" profile -f --verbose -F 99 --stack-storage-size 8192 4
wait_attached "$d" 60
busy "$d"
wait_exit 60
stop_tool "$d"
