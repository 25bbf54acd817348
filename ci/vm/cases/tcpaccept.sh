#!/bin/sh
# tcpaccept on the emulated board, over loopback: busybox nc servers on 127.0.0.1 and ::1 accept
# one connection each (tcp_traffic in ci/vm/guest/lib.sh); refused connects give nothing to
# accept. Run once with --hook kprobe (the kretprobe on inet_csk_accept), and through the
# /usr/sbin/tcpaccept link with --hook tracepoint (the accept syscalls' exits, what a kernel
# without kprobes gets) and -6. Then the kretprobe again, with IDLE listeners blocked in
# accept() (more than the kernel has kretprobe instances) while the traffic's servers accept:
# from 6.7 the returns the kernel drops are reported as lost. Host side:
# ci/vm/cases/tcpaccept.py.
# shellcheck source=ci/vm/guest/lib.sh
. /usr/share/ebpf-vm/lib.sh
out=$1

d=$out/kprobe
start_tool "$d" /usr/sbin/ebpf-agent tcpaccept --json --verbose --hook kprobe
wait_attached "$d" 60
tcp_traffic "$d" 4730 refused
stop_tool "$d"

d=$out/link
start_tool "$d" tcpaccept --json --verbose --hook tracepoint -6
wait_attached "$d" 60
tcp_traffic "$d" 4740 refused
stop_tool "$d"

d=$out/idle
IDLE=12
start_tool "$d" /usr/sbin/ebpf-agent tcpaccept --json --verbose --hook kprobe
wait_attached "$d" 60
i=0 idle=
while [ "$i" -lt "$IDLE" ]; do
    nc -l -p $((4760 + i)) 127.0.0.1 </dev/null >/dev/null 2>&1 &
    idle="$idle $!"
    i=$((i + 1))
done
# Until all listen (then each waits in accept()): LISTEN (0A) sockets on those ports.
i=0
while [ "$(grep -cE ':(129[89A-F]|12A[0-3]) 00000000:0000 0A ' /proc/net/tcp)" -lt "$IDLE" ] &&
    [ "$i" -lt 300 ]; do
    usleep 100000
    i=$((i + 1))
done
echo "idle $IDLE $(grep -cE ':(129[89A-F]|12A[0-3]) 00000000:0000 0A ' /proc/net/tcp)" >>"$d/expect.txt"
usleep 500000
tcp_traffic "$d" 4790
stop_tool "$d"
# shellcheck disable=SC2086 # one word a pid
kill $idle 2>/dev/null
wait
