#!/bin/sh
# The test plan of the emulated board. Runs every step with a time limit (help 30 s, list
# 60 s, verify 180 s, each tool's case 150 s), all within the plan's budget (ebpfvm.budget=
# on the kernel command line, which the host sets below its own limit for the whole run), keeps
# what each step printed under $RESULTS, and ships $RESULTS to the host as one framed base64
# block on the console (checked on the host by ci/vm/check.py). The plan itself asserts
# nothing. A step that overruns its limit leaves hung.txt beside its output: every process
# with its state, wait channel and kernel stack, taken before the step is killed.
#
# Per-tool cases live in /usr/share/ebpf-vm/cases/<tool>.sh (ci/vm/cases/ in the repo): the
# plan runs the case of every tool that the image has a /usr/sbin/<tool> -> ebpf-agent link for,
# and the case of `ebpf-agent run` (run.sh) when the image has its examples.
set -u
VM=/usr/share/ebpf-vm
RESULTS=/tmp/results
AGENT=/usr/sbin/ebpf-agent
export VM RESULTS AGENT
mkdir -p "$RESULTS/cases"
say() { echo "EBPF-VM: $*"; }

uptime_s() { cut -d' ' -f1 /proc/uptime | cut -d. -f1; }
budget=$(sed -n 's/.*ebpfvm\.budget=\([0-9][0-9]*\).*/\1/p' /proc/cmdline)
deadline=$(($(uptime_s) + ${budget:-240}))

# limit SECS: prints the time a step may take: SECS, or what is left of the plan's budget
# (less 10 s to ship the results); 0 when nothing is left.
limit() {
    _left=$((deadline - $(uptime_s) - 10))
    [ "$_left" -lt 0 ] && _left=0
    [ "$1" -lt "$_left" ] && echo "$1" || echo "$_left"
}

# snapshot FILE: every process (state, wait channel, command line, kernel stack) into FILE.
snapshot() {
    for _p in /proc/[0-9]*; do
        [ -r "$_p/stat" ] || continue
        # Kernel threads have no command line: their stacks say nothing about a plan step.
        # (Files in /proc have no size: read it to know.)
        _c=$(tr '\0' ' ' <"$_p/cmdline" 2>/dev/null)
        [ -n "$_c" ] || continue
        echo "== ${_p#/proc/} $(cut -d' ' -f3 "$_p/stat" 2>/dev/null) wchan=$(cat "$_p/wchan" 2>/dev/null) $_c"
        cat "$_p/stack" 2>/dev/null
    done >"$1"
    dmesg | tail -n 60 >>"$1" 2>&1
}

# bounded FILE_PREFIX SECS CMD...: runs CMD for at most SECS; on overrun, snapshots the board
# into FILE_PREFIX.hung.txt, kills CMD and any agent it left running. Returns CMD's status
# (124 when it overran, 125 when the budget had no time left for it).
bounded() {
    _prefix=$1 _secs=$(limit "$2")
    shift 2
    if [ "$_secs" -le 0 ]; then
        echo "skipped: the plan's budget (${budget:-240} s) was spent" >"$_prefix.hung.txt"
        return 125
    fi
    "$@" &
    _pid=$!
    _t=0
    while kill -0 "$_pid" 2>/dev/null && [ "$_t" -lt "$((_secs * 5))" ]; do
        usleep 200000
        _t=$((_t + 1))
    done
    if kill -0 "$_pid" 2>/dev/null; then
        snapshot "$_prefix.hung.txt"
        kill -KILL "$_pid" 2>/dev/null
        wait "$_pid"
        for _p in /proc/[0-9]*; do
            [ "$(readlink "$_p/exe" 2>/dev/null)" = "$AGENT" ] && kill -KILL "${_p#/proc/}" 2>/dev/null
        done
        say "STEP-OVERRUN $_secs s" >/dev/console
        return 124
    fi
    wait "$_pid"
}

# run NAME SECS CMD...: stdout, stderr and exit code of CMD under $RESULTS/NAME.{out,err,rc}.
run() {
    name=$1 secs=$2
    shift 2
    bounded "$RESULTS/$name" "$secs" "$@" >"$RESULTS/$name.out" 2>"$RESULTS/$name.err"
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

# run_case NAME: the case NAME.sh (a tool's, or a command's), within its time limit.
run_case() {
    say "STEP case $1"
    mkdir -p "$RESULTS/cases/$1"
    _start=$(cut -d' ' -f1 /proc/uptime)
    # -x: the case's log shows where it was when it failed or overran.
    bounded "$RESULTS/cases/$1/case" 150 sh -x "$VM/cases/$1.sh" \
        "$RESULTS/cases/$1" >"$RESULTS/cases/$1/case.log" 2>&1
    echo $? >"$RESULTS/cases/$1/case.rc"
    echo "$_start $(cut -d' ' -f1 /proc/uptime)" >"$RESULTS/cases/$1/case.time"
}

say "PLAN-START $(cut -d' ' -f1 /proc/uptime)"
{
    echo "uptime_at_plan=$(cut -d' ' -f1 /proc/uptime)"
    echo "kernel=$(uname -r)"
    echo "machine=$(uname -m)"
    echo "cpus=$(grep -c ^processor /proc/cpuinfo)"
    [ -e /sys/kernel/btf/vmlinux ] && echo "btf=yes" || echo "btf=no"
    # BTF the image ships for a kernel without its own (what the agent falls back on).
    [ -e "/usr/lib/ebpf-agent/btf/$(uname -r).btf" ] && echo "shipped_btf=yes" || echo "shipped_btf=no"
    [ -e /sys/kernel/tracing/kprobe_events ] && echo "kprobes=yes" || echo "kprobes=no"
    [ -e /sys/kernel/tracing/events/syscalls ] && echo "syscall_tracepoints=yes" || echo "syscall_tracepoints=no"
    [ -b /dev/nullb0 ] && echo "null_blk=yes" || echo "null_blk=no"
    grep -q ' /sys/fs/bpf bpf ' /proc/mounts && echo "bpffs=yes" || echo "bpffs=no"
    grep -q ' lo$' /proc/net/if_inet6 2>/dev/null && echo "ipv6_lo=yes" || echo "ipv6_lo=no"
    [ -e /sys/kernel/tracing/events/sock/sock_send_length ] && echo "sock_send_length=yes" ||
        echo "sock_send_length=no"
    echo "kprobe_fires=$(bounded "$RESULTS/kprobe-fires" 30 kprobe_fires)"
    # Where the config has ftrace direct calls, fentry (BPF trampolines) is expected to work
    # (Debian's arm64 6.1 has none, and its fentry attach fails).
    if [ -r "/boot/config-$(uname -r)" ]; then
        grep -q '^CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS=y' "/boot/config-$(uname -r)" &&
            echo "ftrace_direct_calls=yes" || echo "ftrace_direct_calls=no"
    fi
} >"$RESULTS/env.txt"
cp /usr/share/ebpf-vm/image.txt "$RESULTS/image.txt" 2>/dev/null
lsmod >"$RESULTS/lsmod.txt" 2>&1

if grep -q 'ebpfvm\.selftest=overrun' /proc/cmdline; then
    # The harness's own test (ci/vm-test): a step that hangs is cut off at its limit and
    # leaves its snapshot; nothing else runs.
    run selftest-overrun 2 sleep 600
elif [ -x "$AGENT" ]; then
    run help 30 "$AGENT" --help
    run list 60 "$AGENT" list --json
    # `verify` exactly as a board runs it at first boot: through the shipped init script.
    if grep -Eq '(^|[[:space:]])verify([[:space:]]|$)' "$RESULTS/help.out" "$RESULTS/help.err"; then
        say "STEP verify"
        run verify-init 180 /etc/init.d/S95ebpf-verify start
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
            run_case "$tool"
        else
            echo "$tool" >>"$RESULTS/nocase.txt"
        fi
    done
    # `ebpf-agent run` on the examples the image ships with it.
    if [ -d /usr/share/ebpf-agent/examples ] && [ -f "$VM/cases/run.sh" ]; then
        run_case run
    fi
else
    say "no agent in this image"
fi
dmesg >"$RESULTS/dmesg.txt" 2>&1
say "PLAN-END $(cut -d' ' -f1 /proc/uptime)"

tar -czf /tmp/results.tar.gz -C "$RESULTS" .
say "RESULT-BEGIN results.tar.gz $(sha256sum /tmp/results.tar.gz | cut -d' ' -f1) $(wc -c </tmp/results.tar.gz)"
base64 /tmp/results.tar.gz
say "RESULT-END"
