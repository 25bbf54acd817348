#!/bin/sh
# tcpsend on the emulated board, over loopback: busybox nc exchanges on 127.0.0.1 and ::1, 1000
# bytes up and 2000 down (tcp_traffic in ci/vm/guest/lib.sh). Run once per hook: --hook kprobe
# (tcp_sendmsg), --hook tracepoint (sock_send_length: 6.3 and later; on older kernels the run
# must refuse to start, saying why), and through the /usr/sbin/tcpsend link with the hook it
# picks. Host side: ci/vm/cases/tcpsend.py.
# shellcheck source=ci/vm/guest/lib.sh
. /usr/share/ebpf-vm/lib.sh
out=$1

base=4820
for variant in kprobe tracepoint link; do
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
