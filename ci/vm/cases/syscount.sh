#!/bin/sh
# syscount on the emulated board: a dd that copies 3000 single bytes (3000 read() and 3000
# write() calls), traced by pid from before it starts, through `ebpf-agent syscount` (per
# syscall, a report every second) and through the /usr/sbin/syscount link (-P -L: one row for
# the process, with time). Counts are complete once dd has returned: SIGINT makes a last report
# of the map. Host side: ci/vm/cases/syscount.py.
# shellcheck source=ci/vm/guest/lib.sh
. /usr/share/ebpf-vm/lib.sh
out=$1
BYTES=3000

# held_dd DIR: a subshell that waits on a fifo, then becomes dd. Sets DD_PID; `release_dd DIR`
# lets it run, waits for it and records "dd <pid> <bytes> <exit code>" in DIR/expect.txt.
held_dd() {
    mkdir -p "$1"
    rm -f "$1/go"
    mkfifo "$1/go"
    # A shell of its own: the plan runs this case under sh -x, whose trace would add calls.
    # shellcheck disable=SC2016 # expanded by that shell
    sh -c 'read -r _ <"$1"; exec dd if=/dev/zero of=/dev/null bs=1 count="$2" 2>/dev/null' \
        held-dd "$1/go" "$BYTES" &
    DD_PID=$!
}
release_dd() {
    echo go >"$1/go"
    wait "$DD_PID"
    echo "dd $DD_PID $BYTES $?" >>"$1/expect.txt"
    rm -f "$1/go"
}

d=$out/main
held_dd "$d"
start_tool "$d" /usr/sbin/ebpf-agent syscount --json --verbose -i 1 -T 100 -p "$DD_PID"
wait_attached "$d" 60
release_dd "$d"
sleep 1 # at least one report of the interval before the one at SIGINT
stop_tool "$d"

d=$out/link
held_dd "$d"
start_tool "$d" syscount --json --verbose -P -L -p "$DD_PID"
wait_attached "$d" 60
release_dd "$d"
stop_tool "$d"
