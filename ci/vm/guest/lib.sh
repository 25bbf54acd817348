#!/bin/sh
# Helpers of the per-tool cases (sourced by /usr/share/ebpf-vm/cases/<tool>.sh). Their own
# variables start with "_" (POSIX sh has no locals): a case's variables stay its own.
#
# A case runs its tool in the background, waits until it is attached, makes the workload
# with unique markers, stops the tool, and writes what it expects into expect.txt beside the
# tool's output. The host side of the case (ci/vm/cases/<tool>.py) compares the two.

# A unique run id, for markers no other process can produce by chance.
# shellcheck disable=SC2034 # used by the cases
RUN_ID=$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')

# start_tool DIR CMD ARGS...: runs the tool in the background, stdout into DIR/out.jsonl,
# stderr into DIR/err.txt. Sets TOOL_PID.
start_tool() {
    _dir=$1
    shift
    mkdir -p "$_dir"
    echo "$*" >"$_dir/cmd.txt"
    "$@" >"$_dir/out.jsonl" 2>"$_dir/err.txt" &
    TOOL_PID=$!
    echo "$TOOL_PID" >"$_dir/tool.pid"
    TOOL_T0=$(cut -d' ' -f1 /proc/uptime)
}

# wait_attached DIR [SECS] [PATTERN]: waits until the tool's stderr (--verbose) has a line
# matching PATTERN, by default the "tracing: ..." line a tool prints once all its hooks are
# attached and its signal handlers installed (a single "attached <hook>" line comes too early:
# the other hooks are not there yet). Writes DIR/attach.txt: "attached <seconds>", or "died",
# or "unconfirmed" (no such line within SECS: the case goes on, its checks will say why).
wait_attached() {
    _dir=$1 _limit=$((${2:-60} * 10)) _pattern=${3:-'tracing:'} _i=0
    while [ "$_i" -lt "$_limit" ]; do
        if grep -q -- "$_pattern" "$_dir/err.txt" 2>/dev/null; then
            echo "attached $(awk -v a="$TOOL_T0" '{ printf "%.2f", $1 - a }' /proc/uptime)" \
                >"$_dir/attach.txt"
            return 0
        fi
        if ! kill -0 "$TOOL_PID" 2>/dev/null; then
            echo "died" >"$_dir/attach.txt"
            return 1
        fi
        usleep 100000
        _i=$((_i + 1))
    done
    echo "unconfirmed" >"$_dir/attach.txt"
    return 0
}

# stop_tool DIR: SIGINT, as a user's Ctrl-C; SIGTERM then SIGKILL if the tool does not exit.
# Writes DIR/stop.txt: "<signal that stopped it> <exit code>".
stop_tool() {
    _dir=$1
    for _sig in INT TERM KILL; do
        kill -s "$_sig" "$TOOL_PID" 2>/dev/null
        _i=0
        while [ "$_i" -lt 100 ] && kill -0 "$TOOL_PID" 2>/dev/null; do
            # A zombie still answers kill -0: reap it with wait below.
            [ "$(cut -d' ' -f3 "/proc/$TOOL_PID/stat" 2>/dev/null)" = Z ] && break
            usleep 100000
            _i=$((_i + 1))
        done
        if ! kill -0 "$TOOL_PID" 2>/dev/null ||
            [ "$(cut -d' ' -f3 "/proc/$TOOL_PID/stat" 2>/dev/null)" = Z ]; then
            wait "$TOOL_PID"
            echo "$_sig $?" >"$_dir/stop.txt"
            return 0
        fi
    done
    echo "none -" >"$_dir/stop.txt"
}

# wait_exit SECS: waits until the tool ends by itself (a duration it was given), at most SECS
# seconds; stop_tool after it then only collects the exit code. For tools whose last report
# takes long on an emulated board (the stack tools name every frame through /proc/kallsyms).
wait_exit() {
    _n=0
    while kill -0 "$TOOL_PID" 2>/dev/null && [ "$_n" -lt $(($1 * 10)) ]; do
        [ "$(cut -d' ' -f3 "/proc/$TOOL_PID/stat" 2>/dev/null)" = Z ] && break
        usleep 100000
        _n=$((_n + 1))
    done
}

# shell_pid: sets SHELL_PID to the pid of the calling shell (right in subshells too, unlike
# $$; call it directly, not in $(...), which is a subshell of its own).
shell_pid() {
    # shellcheck disable=SC2034 # used by the cases
    read -r SHELL_PID _ </proc/self/stat
}
