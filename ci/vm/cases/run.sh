#!/bin/sh
# `ebpf-agent run` on the emulated board: every example the image ships in
# /usr/share/ebpf-agent/examples, each with a workload of known shape: an exec of a marker path
# (hello's bpf_printk), a held dd copying single bytes (syscalls' counts, by pid), cat of marker
# paths (opens' records), direct reads of null_blk counted in its stats (biolatency's histogram),
# a loopback TCP transfer of known size (tcpsend: the tracepoint on 6.3+, the kprobe before),
# and opens of a watched path (shadow's alerts). Host side: ci/vm/cases/run.py.
# shellcheck source=ci/vm/guest/lib.sh
. /usr/share/ebpf-vm/lib.sh
out=$1
EX=/usr/share/ebpf-agent/examples
BYTES=2000

d=$out/hello
mkdir -p /tmp/m
ln -sf /bin/busybox "/tmp/m/hello-$RUN_ID"
start_tool "$d" /usr/sbin/ebpf-agent run "$EX/hello.bpf.o" --json --verbose
wait_attached "$d" 60
# One exec must give one line: the emulated armv7 board (one vCPU) ran none of the program
# for the first ~0.2 s after the attach in 1 run of 3 (docs/emulated-board.md: the guest's own
# code patching under TCG); half a second later it never missed one in this case.
usleep 500000
# busybox has no applet of that name: the exec happens all the same.
"/tmp/m/hello-$RUN_ID" 2>/dev/null
echo "exec /tmp/m/hello-$RUN_ID" >>"$d/expect.txt"
sleep 1
stop_tool "$d"

# A subshell held on a fifo, then dd copying $BYTES single bytes (as the syscount case).
d=$out/syscalls
mkdir -p "$d"
mkfifo "$d/go"
# shellcheck disable=SC2016 # expanded by that shell
sh -c 'read -r _ <"$1"; exec dd if=/dev/zero of=/dev/null bs=1 count="$2" 2>/dev/null' \
    held-dd "$d/go" "$BYTES" &
DD_PID=$!
start_tool "$d" /usr/sbin/ebpf-agent run "$EX/syscalls.bpf.o" --json --verbose --set "target_pid=$DD_PID"
wait_attached "$d" 60
echo go >"$d/go"
wait "$DD_PID"
echo "dd $DD_PID $BYTES $?" >>"$d/expect.txt"
rm -f "$d/go"
stop_tool "$d"

d=$out/opens
start_tool "$d" /usr/sbin/ebpf-agent run "$EX/opens.bpf.o" --json --verbose
wait_attached "$d" 60
for i in 1 2 3; do
    cat "/tmp/vm-open-$RUN_ID-$i" 2>/dev/null
    echo "open /tmp/vm-open-$RUN_ID-$i" >>"$d/expect.txt"
done
sleep 1
stop_tool "$d"

d=$out/biolatency
if [ -b /dev/nullb0 ]; then
    # shellcheck disable=SC2046 # major and minor, in hex
    set -- $(stat -c '%t %T' /dev/nullb0)
    dev=$(((0x$1 << 20) | 0x$2))
    start_tool "$d" /usr/sbin/ebpf-agent run "$EX/biolatency.bpf.o" --json --verbose --set "target_dev=$dev"
    wait_attached "$d" 60
    read -r r1 _ _ _ w1 _ </sys/block/nullb0/stat
    dd if=/dev/nullb0 of=/dev/null bs=4k count=50 iflag=direct 2>/dev/null
    read -r r2 _ _ _ w2 _ </sys/block/nullb0/stat
    echo "ios $((r2 - r1 + w2 - w1))" >>"$d/expect.txt"
    sleep 1
    stop_tool "$d"
fi

d=$out/tcpsend
ip link set lo up 2>/dev/null
port=$((20000 + $$ % 20000))
head -c 5000 /dev/zero >/tmp/tcp-payload
start_tool "$d" /usr/sbin/ebpf-agent run "$EX/tcpsend.bpf.o" --json --verbose
wait_attached "$d" 60
# The server's input stays open (a background job's would be /dev/null, whose end makes nc
# close the connection before the client has sent everything).
sleep 12 | timeout 20 nc -l -p "$port" >/tmp/tcp-received &
srv=$!
sleep 1
timeout 10 nc 127.0.0.1 "$port" </tmp/tcp-payload
wait "$srv"
echo "tcp $port 5000 $(wc -c </tmp/tcp-received)" >>"$d/expect.txt"
sleep 1
stop_tool "$d"

d=$out/shadow
start_tool "$d" /usr/sbin/ebpf-agent run "$EX/shadow.bpf.o" --json --verbose
wait_attached "$d" 60
cat /etc/shadow >/dev/null 2>&1
echo "alert /etc/shadow" >>"$d/expect.txt"
sleep 1
stop_tool "$d"

d=$out/shadow-set
start_tool "$d" /usr/sbin/ebpf-agent run "$EX/shadow.bpf.o" --json --verbose --set "target=/tmp/secret-$RUN_ID"
wait_attached "$d" 60
cat /etc/shadow >/dev/null 2>&1
cat "/tmp/secret-$RUN_ID" >/dev/null 2>&1
echo "alert /tmp/secret-$RUN_ID" >>"$d/expect.txt"
sleep 1
stop_tool "$d"
