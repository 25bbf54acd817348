# shellcheck shell=bash
# Shared by the SD-card scripts of ci/board (sourced, not run): paths, the Debian packages an
# image takes, and the ssh options of the harness. Builds on ci/vm/lib.sh (cache, arch table,
# installs).
#
# Environment knobs (all optional, besides ci/vm/lib.sh's):
#   EBPF_BOARD_WORK   cards, consoles, keys, pulled data (default <repo>/target/board)

# shellcheck source=ci/vm/lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/vm/lib.sh"

# shellcheck disable=SC2034 # used by the scripts that source this file
BOARD_DIR=$REPO_ROOT/ci/board
# shellcheck disable=SC2034 # used by the scripts that source this file
BOARD_WORK=${EBPF_BOARD_WORK:-$REPO_ROOT/target/board}
DEBDIR=$VM_CACHE/debs

blog() { printf '[board %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

board_tools() {
    host_tools
    ensure_cmds genimage:genimage bmaptool:bmap-tools mkfs.vfat:dosfstools mcopy:mtools file:file \
        mke2fs:e2fsprogs debugfs:e2fsprogs losetup:mount ssh:openssh-client \
        ssh-keygen:openssh-client sha256sum:coreutils
    [ -f /usr/lib/u-boot/qemu_arm64/u-boot.bin ] || {
        need_root
        apt_update_once
        log "installing u-boot-qemu"
        DEBIAN_FRONTEND=noninteractive timeout 1800 "$REPO_ROOT/ci/apt-get" install -y -qq \
            --no-install-recommends u-boot-qemu >/dev/null || die "apt-get install u-boot-qemu failed"
    }
}

# fetch_debs PKG:ARCH...: the cached .deb of each package's candidate version, one path a line
# (downloaded once into $VM_CACHE/debs). As ci/vm/fetch-kernels does for kernels: versions
# come from apt's lists, not from names written here, so a Debian point release that replaces
# a package changes nothing; stale lists are updated once, and without the registry the newest
# cached .deb of the package is used. One apt-cache and one apt-get call for all of them
# (each loads apt's cache, which takes seconds on a loaded machine).
fetch_debs() {
    local spec key ver pass native
    native=$(dpkg --print-architecture)
    local -A file=()
    local -a missing=()
    mkdir -p "$DEBDIR"
    for pass in cached-lists updated-lists; do
        local -A cand=()
        while read -r key ver; do
            cand[$key]=$ver
        done < <(apt-cache policy "$@" 2>/dev/null | awk -v native="$native" '
            /^[^ ].*:$/ { key = substr($0, 1, length($0) - 1); if (key !~ /:/) key = key ":" native }
            /^  Candidate: / && $2 != "(none)" { print key, $2 }')
        missing=()
        for spec in "$@"; do
            [ -n "${cand[$spec]:-}" ] || continue
            file[$spec]="$DEBDIR/${spec%%:*}_${cand[$spec]//:/%3a}_${spec#*:}.deb"
            [ -s "${file[$spec]}" ] || missing+=("${spec}=${cand[$spec]}")
        done
        if [ ${#missing[@]} -gt 0 ]; then
            log "downloading ${missing[*]}"
            (cd "$DEBDIR" && timeout 900 "$REPO_ROOT/ci/apt-get" download -qq "${missing[@]}" 2>&1 |
                grep -v 'unsandboxed as root' >&2) || true
        fi
        local all=1
        for spec in "$@"; do
            [ -s "${file[$spec]:-/nonexistent}" ] || all=0
        done
        [ "$all" = 1 ] && break
        [ "$pass" = cached-lists ] || break
        APT_UPDATED=0
        apt_update_once
    done
    for spec in "$@"; do
        if [ ! -s "${file[$spec]:-/nonexistent}" ]; then
            file[$spec]=$(compgen -G "$DEBDIR/${spec%%:*}_*_${spec#*:}.deb" | sort -V | tail -n1 || true)
            [ -n "${file[$spec]}" ] || die "cannot fetch $spec from Debian's registry, and none is cached"
            log "warning: $spec: using the cached $(basename "${file[$spec]}")"
        fi
        echo "${file[$spec]}"
    done
}

# ssh_opts KEY PORT: the options the harness reaches a board with. Every board makes new host
# keys at its first boot: they are not recorded (a lab of throw-away boards, on loopback).
ssh_opts() {
    printf '%s\n' -i "$1" -p "$2" -o BatchMode=yes -o StrictHostKeyChecking=no \
        -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=10
}

# prometheus_dir: Debian's prometheus package unpacked (not installed: the package would
# start a server on port 9090 of the machine), printed as the directory holding usr/bin/.
prometheus_dir() {
    local deb dir
    deb=$(fetch_debs prometheus:"$(dpkg --print-architecture)")
    dir=$VM_CACHE/prometheus/$(basename "$deb" .deb)
    if [ ! -x "$dir/usr/bin/prometheus" ]; then
        rm -rf "$dir"
        mkdir -p "$dir"
        dpkg-deb -x "$deb" "$dir" || die "cannot unpack $deb"
    fi
    echo "$dir"
}
