#!/bin/sh
# tcpconnect on the emulated board, over loopback: busybox nc connections to 127.0.0.1 and ::1
# (tcp_traffic in ci/vm/guest/lib.sh) and a refused connect to each. Run once with every
# connect, and through the /usr/sbin/tcpconnect link with -4 and -P (only the IPv4 connection's
# port and the IPv6 one's: -4 cuts the second). Host side: ci/vm/cases/tcpconnect.py.
# shellcheck source=ci/vm/guest/lib.sh
. /usr/share/ebpf-vm/lib.sh
out=$1

d=$out/main
start_tool "$d" /usr/sbin/ebpf-agent tcpconnect --json --verbose
wait_attached "$d" 60
tcp_traffic "$d" 4710 refused
stop_tool "$d"

d=$out/link
start_tool "$d" tcpconnect --json --verbose -4 -P 4720,4721
wait_attached "$d" 60
tcp_traffic "$d" 4720 refused
stop_tool "$d"
