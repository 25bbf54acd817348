#!/bin/sh
# statsnoop on the emulated board: vm-files tests (stat) a file that exists, a missing
# absolute name and a missing relative one, in a directory whose name holds spaces; through
# `ebpf-agent statsnoop` (every call) and the /usr/sbin/statsnoop link with -x (failed calls
# only). Host side: ci/vm/cases/statsnoop.py.
# shellcheck source=ci/vm/guest/lib.sh
. /usr/share/ebpf-vm/lib.sh
out=$1

# workload DIR: recorded in DIR/expect.txt as "<tag> <pid> <ppid> <directory>".
workload() {
    tag="vm-stat-$RUN_ID-${1##*/}"
    dir="/tmp/ebpfvm stat $RUN_ID ${1##*/}"
    mkdir -p "$dir"
    : >"$dir/present file"
    /usr/share/ebpf-vm/vm-files "$tag" "$dir" stat
    read -r mpid mppid <"/tmp/markers/$tag"
    echo "$tag $mpid $mppid $dir" >>"$1/expect.txt"
}

d=$out/main
start_tool "$d" /usr/sbin/ebpf-agent statsnoop --json --verbose
wait_attached "$d" 60
workload "$d"
sleep 1
stop_tool "$d"

d=$out/failed
start_tool "$d" statsnoop --json -x --verbose
wait_attached "$d" 60
workload "$d"
sleep 1
stop_tool "$d"
