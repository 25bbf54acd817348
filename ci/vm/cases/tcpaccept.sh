#!/bin/sh
# tcpaccept on the emulated board, over loopback: busybox nc servers on 127.0.0.1 and ::1 accept
# one connection each (tcp_traffic in ci/vm/guest/lib.sh). Run once per hook: --hook kprobe (the
# kretprobe on inet_csk_accept), --hook tracepoint (the accept syscalls' exits, what a kernel
# without kprobes gets), and through the /usr/sbin/tcpaccept link with the hook it picks and -6.
# Host side: ci/vm/cases/tcpaccept.py.
# shellcheck source=ci/vm/guest/lib.sh
. /usr/share/ebpf-vm/lib.sh
out=$1

base=4730
for hook in kprobe tracepoint; do
    d=$out/$hook
    start_tool "$d" /usr/sbin/ebpf-agent tcpaccept --json --verbose --hook "$hook"
    wait_attached "$d" 60
    tcp_traffic "$d" "$base" refused
    stop_tool "$d"
    base=$((base + 10))
done

d=$out/link
start_tool "$d" tcpaccept --json --verbose -6
wait_attached "$d" 60
tcp_traffic "$d" "$base" refused
stop_tool "$d"
