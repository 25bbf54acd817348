#!/bin/sh
# filetop on the emulated board: one dd writes 3 x 1000 bytes to a file whose name holds a
# space, another reads it back (3000 bytes, then the read that finds the end). Run once per
# hook: --hook kprobe (vfs_read/vfs_write), --hook tracepoint (syscall tracepoints, what a
# kernel without kprobes gets), and through the /usr/sbin/filetop link with the hook it picks.
# The kernel counts in a map and SIGINT makes a last report of it: no wait is needed before the
# stop for the counts to be complete. Host side: ci/vm/cases/filetop.py.
# shellcheck source=ci/vm/guest/lib.sh
. /usr/share/ebpf-vm/lib.sh
out=$1

# copies DIR: the workload, recorded in DIR/expect.txt as "writer <pid> <file>" and
# "reader <pid> <file>" (the file's name is the rest of the line).
copies() {
    name="vm filetop $RUN_ID ${1##*/}"
    f="/tmp/$name"
    dd if=/dev/zero of="$f" bs=1000 count=3 2>/dev/null &
    wpid=$!
    wait "$wpid"
    dd if="$f" of=/dev/null bs=4096 2>/dev/null &
    rpid=$!
    wait "$rpid"
    rm -f "$f"
    echo "writer $wpid $name" >>"$1/expect.txt"
    echo "reader $rpid $name" >>"$1/expect.txt"
}

for hook in kprobe tracepoint; do
    d=$out/$hook
    start_tool "$d" /usr/sbin/ebpf-agent filetop --json --verbose --hook "$hook" -r 10240
    wait_attached "$d" 60
    copies "$d"
    stop_tool "$d"
done

d=$out/link
start_tool "$d" filetop --json --verbose -r 10240
wait_attached "$d" 60
copies "$d"
stop_tool "$d"
