# shellcheck shell=bash
# Shared helpers of the emulated-board scripts (sourced, not run).
#
# Environment knobs (all optional):
#   EBPF_VM_CACHE          kernel/busybox cache        (default /var/cache/ebpf-rust-vm)
#   EBPF_VM_WORK           images, console logs, results (default <repo>/target/vm)
#   EBPF_VM_SERIES         Debian kernel series to test  (default "5.10 6.1 6.12")
#   EBPF_VM_KERNEL         boot this kernel image instead of Debian's (modules are then not used)
#   EBPF_VM_TIMEOUT        seconds for a whole VM run     (default 600)

VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$VM_DIR/../.." && pwd)
# shellcheck disable=SC2034 # used by the scripts that source this file
VM_CACHE=${EBPF_VM_CACHE:-/var/cache/ebpf-rust-vm}
# shellcheck disable=SC2034
VM_WORK=${EBPF_VM_WORK:-$REPO_ROOT/target/vm}
# shellcheck disable=SC2034
VM_SERIES=${EBPF_VM_SERIES:-5.10 6.1 6.12}

log() { printf '[vm %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { printf '[vm] error: %s\n' "$*" >&2; exit 1; }

# The architectures of `--arch all`.
# shellcheck disable=SC2034 # used by the scripts that source this file
VM_ARCHES="x86_64 aarch64 armv7"

# arch_var ARCH FIELD: per-architecture facts, in one table. flavour: the Debian kernel
# flavour (linux-image-<version>-<flavour>); series: the kernel series the board runs (armv7:
# Debian's armhf 6.1, built without BTF, with the BTF the image ships for it, ci/vm/btf/).
arch_var() {
    local arch=$1 field=$2
    case "$arch:$field" in
        x86_64:debarch|x86_64:flavour) echo amd64 ;;
        x86_64:triple) echo x86_64-unknown-linux-musl ;;
        x86_64:qemu) echo qemu-system-x86_64 ;;
        x86_64:console) echo ttyS0 ;;
        aarch64:debarch|aarch64:flavour) echo arm64 ;;
        aarch64:triple) echo aarch64-unknown-linux-musl ;;
        aarch64:qemu) echo qemu-system-aarch64 ;;
        aarch64:console) echo ttyAMA0 ;;
        armv7:debarch) echo armhf ;;
        armv7:flavour) echo armmp-lpae ;;
        armv7:triple) echo armv7-unknown-linux-musleabihf ;;
        armv7:qemu) echo qemu-system-arm ;;
        armv7:console) echo ttyAMA0 ;;
        armv7:series) echo 6.1 ;;
        *:series) echo "5.10 6.1 6.12" ;;
        *) die "unknown architecture/field: $arch/$field (architectures: $VM_ARCHES)" ;;
    esac
}

# arch_series ARCH SERIES...: those of SERIES that ARCH's board runs.
arch_series() {
    local arch=$1 s picked=()
    shift
    for s in "$@"; do
        [[ " $(arch_var "$arch" series) " == *" $s "* ]] && picked+=("$s")
    done
    echo "${picked[*]}"
}

# pinned_kernel ARCH SERIES: "<package> <version>" when the board must boot one exact kernel
# (the one its shipped BTF was made for: ci/vm/btf/<release>.txt), else nothing.
pinned_kernel() {
    local arch=$1 s=$2 txt pkg ver
    for txt in "$REPO_ROOT"/ci/vm/btf/*.txt; do
        [ -e "$txt" ] || continue
        pkg=$(sed -n 's/^package=//p' "$txt")
        ver=$(sed -n 's/^version=//p' "$txt")
        case ${pkg%%:*} in
            "linux-image-$s".*"-$(arch_var "$arch" flavour)")
                [ "${pkg##*:}" = "$(arch_var "$arch" debarch)" ] && echo "${pkg%%:*} $ver" ;;
        esac
    done
}

need_root() {
    [ "$(id -u)" = 0 ] || die "run as root: installs Debian packages and writes $VM_CACHE"
}

# apt_update_once: `apt-get update` at most once per script run (and only when needed).
APT_UPDATED=${APT_UPDATED:-0}
apt_update_once() {
    if [ "$APT_UPDATED" = 0 ]; then
        log "apt-get update"
        # ci/apt-get waits up to 20 minutes while another package manager holds the locks.
        timeout 1500 "$REPO_ROOT/ci/apt-get" update -qq >/dev/null ||
            die "apt-get update failed or took over 25 min (no access to Debian's package registry?)"
        APT_UPDATED=1
        export APT_UPDATED
    fi
}

# ensure_cmds CMD:PACKAGE...: install the Debian packages whose commands are missing.
ensure_cmds() {
    local pair cmd pkg missing=()
    for pair in "$@"; do
        cmd=${pair%%:*}
        pkg=${pair#*:}
        command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    need_root
    apt_update_once
    log "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive timeout 1800 "$REPO_ROOT/ci/apt-get" install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null || die "apt-get install ${missing[*]} failed or took over 30 min (the package locks included)"
}

host_tools() {
    ensure_cmds qemu-system-x86_64:qemu-system-x86 qemu-system-aarch64:qemu-system-arm \
        qemu-system-arm:qemu-system-arm cpio:cpio gzip:gzip xz:xz-utils zstd:zstd python3:python3 timeout:coreutils \
        dpkg-deb:dpkg base64:coreutils
}
