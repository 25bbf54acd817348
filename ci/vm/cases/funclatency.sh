#!/bin/sh
# funclatency on the emulated board: vfs_read timed for a dd of 3000 single-byte reads,
# traced by pid from before it starts (fentry/fexit where the kernel has trampolines, else
# kprobes). expect.txt: "dd <pid> <bytes> <rc>". Then pipe_read, system-wide, while READERS
# shells block in it at once, more than the kernel has kretprobe instances: the returns it
# drops must be counted as untimed. expect.txt: "blocked <readers> <lines>".
# Host side: ci/vm/cases/funclatency.py.
# shellcheck source=ci/vm/guest/lib.sh
. /usr/share/ebpf-vm/lib.sh
out=$1
BYTES=3000

d=$out/main
mkdir -p "$d"
rm -f "$d/go"
mkfifo "$d/go"
# shellcheck disable=SC2016 # expanded by that shell
sh -c 'read -r _ <"$1"; exec dd if=/dev/zero of=/dev/null bs=1 count="$2" 2>/dev/null' \
    held-dd "$d/go" "$BYTES" &
DD_PID=$!
start_tool "$d" /usr/sbin/ebpf-agent funclatency --json --verbose -u -p "$DD_PID" vfs_read
wait_attached "$d" 90
echo go >"$d/go"
wait "$DD_PID"
echo "dd $DD_PID $BYTES $?" >>"$d/expect.txt"
rm -f "$d/go"
stop_tool "$d"

# Blocked readers: shells reading one fifo a byte at a time (busybox read), all waiting in
# pipe_read for the writer, which waits WAIT seconds (long enough for every reader to start on
# a slow emulated board), then writes LINES short lines and closes.
READERS=30 LINES=90 WAIT=20
d=$out/blocked
mkdir -p "$d"
rm -f "$d/fifo"
mkfifo "$d/fifo"
start_tool "$d" /usr/sbin/ebpf-agent funclatency --json --verbose pipe_read
wait_attached "$d" 90
# shellcheck disable=SC2016 # expanded by that shell
sh -c 'sleep "$1"; i=0; while [ "$i" -lt "$2" ]; do echo x; usleep 20000; i=$((i + 1)); done' \
    writer "$WAIT" "$LINES" >"$d/fifo" &
waits=$!
i=0
while [ "$i" -lt "$READERS" ]; do
    sh -c 'while read -r _; do :; done' <"$d/fifo" &
    waits="$waits $!"
    i=$((i + 1))
done
# shellcheck disable=SC2086 # one word a job
wait $waits
echo "blocked $READERS $LINES" >>"$d/expect.txt"
rm -f "$d/fifo"
stop_tool "$d"
