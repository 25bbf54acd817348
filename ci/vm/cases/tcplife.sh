#!/bin/sh
# tcplife on the emulated board, over loopback: busybox nc exchanges on 127.0.0.1 and ::1, 1000
# bytes up and 2000 down (tcp_traffic in ci/vm/guest/lib.sh), and a refused connect to each. Run
# once per hook of the accepting process (--hook kprobe, --hook tracepoint), and through the
# /usr/sbin/tcplife link with its own pick and -D (remote port: only the IPv4 client's end).
# Host side: ci/vm/cases/tcplife.py.
# shellcheck source=ci/vm/guest/lib.sh
. /usr/share/ebpf-vm/lib.sh
out=$1

base=4760
for hook in kprobe tracepoint; do
    d=$out/$hook
    start_tool "$d" /usr/sbin/ebpf-agent tcplife --json --verbose --hook "$hook"
    wait_attached "$d" 60
    tcp_traffic "$d" "$base" refused
    stop_tool "$d"
    base=$((base + 10))
done

d=$out/link
start_tool "$d" tcplife --json --verbose -D "$base"
wait_attached "$d" 60
tcp_traffic "$d" "$base" refused
stop_tool "$d"
