#!/bin/sh
# tcpsend on the emulated board, over loopback: busybox nc exchanges on 127.0.0.1 and ::1, 1000
# bytes up and 2000 down (tcp_traffic in ci/vm/guest/lib.sh), through the /usr/sbin/tcpsend link
# with the hook it picks (sock_send_length from 6.3 on, else kprobes on tcp_sendmsg), and once
# more with the other: --hook kprobe where the kernel has the tracepoint, --hook tracepoint
# where it has not (the run must refuse to start, saying why). Host side:
# ci/vm/cases/tcpsend.py.
# shellcheck source=ci/vm/guest/lib.sh
. /usr/share/ebpf-vm/lib.sh
out=$1

base=4820
# The kprobe path where the kernel has the 6.3 tracepoints too (the link picks those); where
# it has not, the link picks kprobes and a forced --hook tracepoint must refuse to start.
if [ -e /sys/kernel/tracing/events/sock/sock_send_length ]; then
    variants="kprobe link"
else
    variants="tracepoint link"
fi
for variant in $variants; do
    d=$out/$variant
    if [ "$variant" = link ]; then
        start_tool "$d" tcpsend --json --verbose
    else
        start_tool "$d" /usr/sbin/ebpf-agent tcpsend --json --verbose --hook "$variant"
    fi
    if wait_attached "$d" 60; then
        tcp_traffic "$d" "$base"
    fi
    stop_tool "$d"
    base=$((base + 10))
done
