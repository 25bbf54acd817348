#!/bin/sh
# tcpaccept on the emulated board, over loopback: busybox nc servers on 127.0.0.1 and ::1 accept
# one connection each (tcp_traffic in ci/vm/guest/lib.sh); refused connects give nothing to
# accept. Run once with --hook kprobe (the kretprobe on inet_csk_accept), and through the
# /usr/sbin/tcpaccept link with --hook tracepoint (the accept syscalls' exits, what a kernel
# without kprobes gets) and -6. Host side: ci/vm/cases/tcpaccept.py.
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
