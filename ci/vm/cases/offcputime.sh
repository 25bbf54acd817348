#!/bin/sh
# offcputime on the emulated board: a sleep of 1 s, traced by pid from before it starts (a
# subshell held on a fifo, then exec'd into sleep). expect.txt: "sleep <pid> <ms>".
# Host side: ci/vm/cases/offcputime.py.
# shellcheck source=ci/vm/guest/lib.sh
. /usr/share/ebpf-vm/lib.sh
out=$1

# held_sleep DIR: a subshell that waits on a fifo, then becomes `sleep 1`. Sets HELD_PID.
held_sleep() {
    mkdir -p "$1"
    rm -f "$1/go"
    mkfifo "$1/go"
    # shellcheck disable=SC2016 # expanded by that shell
    sh -c 'read -r _ <"$1"; exec sleep 1' held-sleep "$1/go" &
    HELD_PID=$!
}
release() {
    echo go >"$1/go"
    wait "$HELD_PID"
    echo "sleep $HELD_PID 1000" >>"$1/expect.txt"
    rm -f "$1/go"
}

d=$out/main
held_sleep "$d"
start_tool "$d" /usr/sbin/ebpf-agent offcputime --json --verbose -p "$HELD_PID" 3
wait_attached "$d" 60
release "$d"
wait_exit 60
stop_tool "$d"

d=$out/folded
held_sleep "$d"
start_tool "$d" offcputime -f -K --verbose -p "$HELD_PID" 3
wait_attached "$d" 60
release "$d"
wait_exit 60
stop_tool "$d"
