#!/bin/sh
# exitsnoop on the emulated board: processes that exit with 0, with 3, and killed by SIGKILL,
# through `ebpf-agent exitsnoop` (all exits) and the /usr/sbin/exitsnoop link with -x (failed
# exits only). Host side: ci/vm/cases/exitsnoop.py.
# shellcheck source=ci/vm/guest/lib.sh
. /usr/share/ebpf-vm/lib.sh
out=$1
EXITER=/usr/share/ebpf-vm/vm-exit

# exits DIR: one process per way to end, each in DIR/expect.txt as
# "<tag> <pid> <ppid> <exit status or signal name>".
exits() {
    for how in 0 3 KILL; do
        tag="vm-exit-$RUN_ID-${1##*/}-$how"
        "$EXITER" "$tag" "$how"
        read -r mpid mppid <"/tmp/markers/$tag"
        echo "$tag $mpid $mppid $how" >>"$1/expect.txt"
    done
}

d=$out/main
start_tool "$d" /usr/sbin/ebpf-agent exitsnoop --json --verbose
wait_attached "$d" 60
exits "$d"
sleep 1
stop_tool "$d"

d=$out/failed
start_tool "$d" exitsnoop --json -x --verbose
wait_attached "$d" 60
exits "$d"
sleep 1
stop_tool "$d"
