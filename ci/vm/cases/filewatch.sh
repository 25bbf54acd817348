#!/bin/sh
# filewatch on the emulated board: a watch list of an exact path, a directory and a glob in a
# directory whose name holds spaces; vm-files opens the exact path, creates a file the glob
# matches, fails to open a missing name in the directory and opens a file nothing matches;
# then rm unlinks a file in the directory and mv renames the exact path away. Through
# `ebpf-agent filewatch PATH...` and the /usr/sbin/filewatch link with -f (a watch-list
# file). Host side: ci/vm/cases/filewatch.py.
# shellcheck source=ci/vm/guest/lib.sh
. /usr/share/ebpf-vm/lib.sh
out=$1
shell_pid

# setup DIR: the directory and its files; sets tag, dir and the watch list.
setup() {
    tag="vm-watch-$RUN_ID-${1##*/}"
    dir="/tmp/ebpfvm watch $RUN_ID ${1##*/}"
    mkdir -p "$dir/watched.d"
    : >"$dir/secret-$tag"
    : >"$dir/other-$tag"
    : >"$dir/watched.d/doomed"
    mkdir -p "$1"
    printf '# the case'"'"'s watch list\n%s\n  %s  \n%s\n' "$dir/secret-$tag" "$dir/watched.d/" \
        "$dir/glob-*" >"$1/watch.list"
}

# workload DIR: recorded in DIR/expect.txt as "files <tag> <pid> <ppid> <directory>",
# "rm <pid> <ppid>" and "mv <pid> <ppid>".
workload() {
    /usr/share/ebpf-vm/vm-files "$tag" "$dir" watch
    read -r mpid mppid <"/tmp/markers/$tag"
    echo "files $tag $mpid $mppid $dir" >>"$1/expect.txt"
    rm "$dir/watched.d/doomed" &
    cpid=$!
    wait "$cpid"
    echo "rm $cpid $SHELL_PID" >>"$1/expect.txt"
    mv "$dir/secret-$tag" "$dir/moved-$tag" &
    cpid=$!
    wait "$cpid"
    echo "mv $cpid $SHELL_PID" >>"$1/expect.txt"
}

d=$out/main
setup "$d"
start_tool "$d" /usr/sbin/ebpf-agent filewatch --json --verbose "$dir/secret-$tag" \
    "$dir/watched.d/" "$dir/glob-*"
wait_attached "$d" 60
workload "$d"
sleep 1
stop_tool "$d"

d=$out/list
setup "$d"
start_tool "$d" filewatch --json --verbose -f "$d/watch.list"
wait_attached "$d" 60
workload "$d"
sleep 1
stop_tool "$d"
