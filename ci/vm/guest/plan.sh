#!/bin/sh
# The test plan of the emulated board. Runs every step with a time limit (help 30 s, list
# 60 s, verify 90 s, each tool's case 150 s; the host gives the whole run 300 s), keeps what each
# step printed under $RESULTS, and ships $RESULTS to the host as one framed base64 block on
# the console (checked on the host by ci/vm/check.py). The plan itself asserts nothing.
#
# Per-tool cases live in /usr/share/ebpf-vm/cases/<tool>.sh (ci/vm/cases/ in the repo): the
# plan runs the case of every tool that the image has a /usr/sbin/<tool> -> ebpf-agent link for.
set -u
VM=/usr/share/ebpf-vm
RESULTS=/tmp/results
AGENT=/usr/sbin/ebpf-agent
export VM RESULTS AGENT
mkdir -p "$RESULTS/cases"
say() { echo "EBPF-VM: $*"; }

# run NAME SECS CMD...: stdout, stderr and exit code of CMD under $RESULTS/NAME.{out,err,rc}.
run() {
    name=$1 secs=$2
    shift 2
    timeout "$secs" "$@" >"$RESULTS/$name.out" 2>"$RESULTS/$name.err"
    echo $? >"$RESULTS/$name.rc"
}

# kprobe_fires: "yes" if a kprobe on vfs_read, made through tracefs, fires (the kernel's kprobes
# really work here, for the tools' kprobe paths), else what failed.
kprobe_fires() {
    t=/sys/kernel/tracing
    [ -w $t/kprobe_events ] || { echo "no-kprobe_events"; return; }
    echo 'p:ebpfvm/vfs_read vfs_read' >>$t/kprobe_events 2>/dev/null || { echo "no-vfs_read"; return; }
    : >$t/trace
    echo 1 >$t/events/ebpfvm/vfs_read/enable
    read -r _ </proc/version
    echo 0 >$t/events/ebpfvm/vfs_read/enable
    if grep -q 'vfs_read:' $t/trace; then echo yes; else echo "no-hits"; fi
    : >$t/trace
    echo '-:ebpfvm/vfs_read' >>$t/kprobe_events
}

say "PLAN-START $(cut -d' ' -f1 /proc/uptime)"
{
    echo "uptime_at_plan=$(cut -d' ' -f1 /proc/uptime)"
    echo "kernel=$(uname -r)"
    echo "machine=$(uname -m)"
    echo "cpus=$(grep -c ^processor /proc/cpuinfo)"
    [ -e /sys/kernel/btf/vmlinux ] && echo "btf=yes" || echo "btf=no"
    [ -e /sys/kernel/tracing/kprobe_events ] && echo "kprobes=yes" || echo "kprobes=no"
    [ -e /sys/kernel/tracing/events/syscalls ] && echo "syscall_tracepoints=yes" || echo "syscall_tracepoints=no"
    [ -b /dev/nullb0 ] && echo "null_blk=yes" || echo "null_blk=no"
    grep -q ' /sys/fs/bpf bpf ' /proc/mounts && echo "bpffs=yes" || echo "bpffs=no"
    echo "kprobe_fires=$(kprobe_fires)"
    # Where the config has ftrace direct calls, fentry (BPF trampolines) is expected to work
    # (Debian's arm64 6.1 has none, and its fentry attach fails).
    if [ -r "/boot/config-$(uname -r)" ]; then
        grep -q '^CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS=y' "/boot/config-$(uname -r)" &&
            echo "ftrace_direct_calls=yes" || echo "ftrace_direct_calls=no"
    fi
} >"$RESULTS/env.txt"
cp /usr/share/ebpf-vm/image.txt "$RESULTS/image.txt" 2>/dev/null
lsmod >"$RESULTS/lsmod.txt" 2>&1

if [ -x "$AGENT" ]; then
    run help 30 "$AGENT" --help
    run list 60 "$AGENT" list --json
    # `verify` exactly as a board runs it at first boot: through the shipped init script.
    if grep -Eq '(^|[[:space:]])verify([[:space:]]|$)' "$RESULTS/help.out" "$RESULTS/help.err"; then
        say "STEP verify"
        run verify-init 90 /etc/init.d/S95ebpf-verify start
        for f in verify.json verify.rc verify.log verify.done; do
            [ -e "/var/lib/ebpf-agent/$f" ] && cp "/var/lib/ebpf-agent/$f" "$RESULTS/$f"
        done
    fi
    for link in /usr/sbin/*; do
        if [ ! -L "$link" ] || [ "$(readlink "$link")" != ebpf-agent ]; then
            continue
        fi
        tool=${link##*/}
        if [ -f "$VM/cases/$tool.sh" ]; then
            say "STEP case $tool"
            mkdir -p "$RESULTS/cases/$tool"
            start=$(cut -d' ' -f1 /proc/uptime)
            timeout 150 sh "$VM/cases/$tool.sh" "$RESULTS/cases/$tool" \
                >"$RESULTS/cases/$tool/case.log" 2>&1
            echo $? >"$RESULTS/cases/$tool/case.rc"
            echo "$start $(cut -d' ' -f1 /proc/uptime)" >"$RESULTS/cases/$tool/case.time"
        else
            echo "$tool" >>"$RESULTS/nocase.txt"
        fi
    done
else
    say "no agent in this image"
fi
dmesg >"$RESULTS/dmesg.txt" 2>&1
say "PLAN-END $(cut -d' ' -f1 /proc/uptime)"

tar -czf /tmp/results.tar.gz -C "$RESULTS" .
say "RESULT-BEGIN results.tar.gz $(sha256sum /tmp/results.tar.gz | cut -d' ' -f1) $(wc -c </tmp/results.tar.gz)"
base64 /tmp/results.tar.gz
say "RESULT-END"
