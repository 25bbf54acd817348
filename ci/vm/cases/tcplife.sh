#!/bin/sh
# tcplife on the emulated board, over loopback: busybox nc exchanges on 127.0.0.1 and ::1, 1000
# bytes up and 2000 down (tcp_traffic in ci/vm/guest/lib.sh), and a refused connect to each. Run
# once with --hook kprobe (the accepting process from the kretprobe on inet_csk_accept), and
# through the /usr/sbin/tcplife link with --hook tracepoint (from the accept syscalls' exits)
# and -D (remote port: only the IPv4 client's end). Host side: ci/vm/cases/tcplife.py.
# shellcheck source=ci/vm/guest/lib.sh
. /usr/share/ebpf-vm/lib.sh
out=$1

d=$out/kprobe
start_tool "$d" /usr/sbin/ebpf-agent tcplife --json --verbose --hook kprobe
wait_attached "$d" 60
tcp_traffic "$d" 4760 refused
stop_tool "$d"

d=$out/link
start_tool "$d" tcplife --json --verbose --hook tracepoint -D 4770
wait_attached "$d" 60
tcp_traffic "$d" 4770 refused
stop_tool "$d"
