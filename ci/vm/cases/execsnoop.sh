#!/bin/sh
# execsnoop on the emulated board: markers with unique argv (one of them with a space, a
# newline and a byte that is not UTF-8 in its arguments) and a failing exec, with and without
# -x, through `ebpf-agent execsnoop` and through the /usr/sbin/execsnoop link.
# Host side: ci/vm/cases/execsnoop.py.
# shellcheck source=ci/vm/guest/lib.sh
. /usr/share/ebpf-vm/lib.sh
out=$1
MARKER=/usr/share/ebpf-vm/vm-marker
shell_pid

# markers DIR N: N markers, each recorded in DIR/expect.txt as "marker <tag> <pid> <ppid>".
markers() {
    n=1
    while [ "$n" -le "$2" ]; do
        tag="vm-marker-$RUN_ID-${1##*/}-$n"
        "$MARKER" "$tag" "a b"
        read -r mpid mppid <"/tmp/markers/$tag"
        echo "marker $tag $mpid $mppid" >>"$1/expect.txt"
        n=$((n + 1))
    done
}

# odd_marker DIR: a marker whose argument holds a newline, a tab, a quote and the byte 0xff.
odd_marker() {
    tag="vm-odd-$RUN_ID-${1##*/}"
    "$MARKER" "$tag" "$(printf 'line1\nline2\t"q"\\ \377end')"
    read -r mpid mppid <"/tmp/markers/$tag"
    echo "odd $tag $mpid $mppid" >>"$1/expect.txt"
}

# failing_exec DIR: an exec of a path that does not exist (ENOENT).
failing_exec() {
    path="/nonexistent/vm-missing-$RUN_ID"
    "$path" arg1 2>/dev/null &
    fpid=$!
    wait "$fpid"
    echo "fail $path $fpid $SHELL_PID" >>"$1/expect.txt"
}

# 1. The multi-call binary, failed execs included (-x).
d=$out/main
start_tool "$d" /usr/sbin/ebpf-agent execsnoop --json -x --verbose
wait_attached "$d" 60
markers "$d" 3
odd_marker "$d"
failing_exec "$d"
sleep 1
stop_tool "$d"

# 2. The /usr/sbin/execsnoop link, without -x: the failing exec must not show.
d=$out/link
start_tool "$d" execsnoop --json --verbose
wait_attached "$d" 60
markers "$d" 1
failing_exec "$d"
sleep 1
stop_tool "$d"
