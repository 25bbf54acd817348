#!/bin/sh
# funccount on the emulated board: a dd copying 3000 single bytes (3000 read() and 3000
# write() calls), traced by pid from before it starts, with kernel functions (kprobes on
# vfs_read and vfs_write*, by globs) and a syscall tracepoint; then, through the link, a
# tracepoint glob over sched:sched_process_[fe]* for a shell that forks /bin/true five times;
# then a storm: a dd of 100000 single bytes whose write() calls are counted while the counts
# are drained every 20 ms.
# expect.txt: "dd <pid> <bytes> <rc>", "shell <pid> <forks>". Host side: funccount.py.
# shellcheck source=ci/vm/guest/lib.sh
. /usr/share/ebpf-vm/lib.sh
out=$1
BYTES=3000

# held_dd DIR [BYTES]: a dd of BYTES (default $BYTES) single bytes, held on DIR/go.
held_dd() {
    DD_BYTES=${2:-$BYTES}
    mkdir -p "$1"
    rm -f "$1/go"
    mkfifo "$1/go"
    # shellcheck disable=SC2016 # expanded by that shell
    sh -c 'read -r _ <"$1"; exec dd if=/dev/zero of=/dev/null bs=1 count="$2" 2>/dev/null' \
        held-dd "$1/go" "$DD_BYTES" &
    DD_PID=$!
}
release_dd() {
    echo go >"$1/go"
    wait "$DD_PID"
    echo "dd $DD_PID $DD_BYTES $?" >>"$1/expect.txt"
    rm -f "$1/go"
}

d=$out/kernel
held_dd "$d"
start_tool "$d" /usr/sbin/ebpf-agent funccount --json --verbose -p "$DD_PID" 'k:vfs_rea?' \
    'vfs_write*' 't:syscalls:sys_enter_write'
wait_attached "$d" 90
release_dd "$d"
stop_tool "$d"

d=$out/tracepoints
mkdir -p "$d"
rm -f "$d/go"
mkfifo "$d/go"
# A shell of its own, traced by pid, held on the fifo: its five forks are counted (the execs
# and exits happen in the children, other pids), and its own exit.
sh -c 'read -r _ <"$1"; for i in 1 2 3 4 5; do /bin/true; done' tp-shell "$d/go" &
TP_PID=$!
start_tool "$d" funccount --json --verbose -p "$TP_PID" 't:sched:sched_process_[fe]*'
wait_attached "$d" 60
echo go >"$d/go"
wait "$TP_PID"
echo "shell $TP_PID 5" >>"$d/expect.txt"
rm -f "$d/go"
stop_tool "$d"

d=$out/storm
held_dd "$d" 100000
start_tool "$d" funccount --json --verbose -i 20ms -p "$DD_PID" 't:syscalls:sys_enter_write'
wait_attached "$d" 60
release_dd "$d"
stop_tool "$d"
