#!/bin/sh
# bashreadline on the emulated board, whose image has no bash: the tool must refuse with the
# reason and exit code 3 (and `verify` skips it). Host side: ci/vm/cases/bashreadline.py.
# shellcheck source=ci/vm/guest/lib.sh
. /usr/share/ebpf-vm/lib.sh
out=$1

d=$out/main
mkdir -p "$d"
if [ -e /bin/bash ]; then
    echo "bash present" >"$d/expect.txt"
fi
/usr/sbin/ebpf-agent bashreadline --json --verbose --duration 1 >"$d/out.jsonl" 2>"$d/err.txt"
echo "$?" >"$d/rc.txt"
