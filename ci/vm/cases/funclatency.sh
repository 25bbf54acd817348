#!/bin/sh
# funclatency on the emulated board: vfs_read timed for a dd of 3000 single-byte reads,
# traced by pid from before it starts (fentry/fexit where the kernel has trampolines, else
# kprobes). expect.txt: "dd <pid> <bytes> <rc>". Host side: ci/vm/cases/funclatency.py.
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
