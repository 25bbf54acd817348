#!/bin/sh
# opensnoop on the emulated board: vm-files opens, in a directory whose name holds spaces, a
# file that exists, a file it creates, a missing absolute name and a missing relative one;
# through `ebpf-agent opensnoop` (every open) and the /usr/sbin/opensnoop link with -x -F
# (failed opens only, relative names made absolute). Host side: ci/vm/cases/opensnoop.py.
# shellcheck source=ci/vm/guest/lib.sh
. /usr/share/ebpf-vm/lib.sh
out=$1

# workload DIR: recorded in DIR/expect.txt as "<tag> <pid> <ppid> <directory>".
workload() {
    tag="vm-open-$RUN_ID-${1##*/}"
    dir="/tmp/ebpfvm open $RUN_ID ${1##*/}"
    mkdir -p "$dir"
    : >"$dir/present file"
    /usr/share/ebpf-vm/vm-files "$tag" "$dir" open
    read -r mpid mppid <"/tmp/markers/$tag"
    echo "$tag $mpid $mppid $dir" >>"$1/expect.txt"
}

d=$out/main
start_tool "$d" /usr/sbin/ebpf-agent opensnoop --json --verbose
wait_attached "$d" 60
workload "$d"
sleep 1
stop_tool "$d"

d=$out/failed
start_tool "$d" opensnoop --json -x -F --verbose
wait_attached "$d" 60
workload "$d"
sleep 1
stop_tool "$d"
