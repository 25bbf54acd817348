# shellcheck shell=bash
# Shared by the ci/ scripts: repository paths, idempotent installs, and the environment for
# fully static musl builds of the agent.

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export REPO
# The oldest Rust we support (workspace rust-version); CI builds with exactly this one too.
MSRV=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' "$REPO/Cargo.toml")
export MSRV
TARGETS=(x86_64-unknown-linux-musl aarch64-unknown-linux-musl)

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# apt_install PKG...: installs what is missing (as root), once per machine.
apt_install() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    [ "$(id -u)" -eq 0 ] || die "missing packages (${missing[*]}): run as root or install them"
    if [[ " ${missing[*]} " == *":arm64"* ]] && ! dpkg --print-foreign-architectures | grep -qx arm64; then
        dpkg --add-architecture arm64
    fi
    log "apt-get install ${missing[*]}"
    "$REPO/ci/apt-get" update -qq
    DEBIAN_FRONTEND=noninteractive "$REPO/ci/apt-get" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The packages a static two-target build needs (design notes: the musl recipe).
build_deps() {
    apt_install clang llvm make gcc libc6-dev pkg-config autoconf automake autopoint libtool \
        flex bison gawk musl-tools gcc-aarch64-linux-gnu binutils-aarch64-linux-gnu \
        libc6-dev-arm64-cross linux-libc-dev musl-dev:arm64 file
    command -v rustup >/dev/null || die "rustup is needed (https://rustup.rs)"
    local t
    for t in "${TARGETS[@]}"; do
        rustup target list --installed | grep -qx "$t" || rustup target add "$t"
    done
}

# A directory holding only the kernel's UAPI headers (linux/, asm/, asm-generic/) for one
# arch. musl-gcc compiles with -nostdinc, which hides them; libbpf needs them. Added with
# -idirafter so musl's own headers always win.
uapi_dir() {
    local arch=$1 dir="$REPO/target/musl-uapi/$1" asm
    case $arch in
        x86_64) asm=/usr/include/x86_64-linux-gnu/asm ;;
        aarch64) asm=/usr/aarch64-linux-gnu/include/asm ;;
        *) die "no UAPI headers known for $arch" ;;
    esac
    mkdir -p "$dir"
    ln -sfn /usr/include/linux "$dir/linux"
    ln -sfn /usr/include/asm-generic "$dir/asm-generic"
    ln -sfn "$asm" "$dir/asm"
    echo "$dir"
}

# musl_env TRIPLE: exports what cargo, cc and libbpf-sys's vendored builds need for TRIPLE.
musl_env() {
    local triple=$1 var arch=${1%%-*} uapi cflags
    var=${triple//-/_}
    uapi=$(uapi_dir "$arch")
    cflags="-I$REPO/agents/musl-compat -idirafter $uapi"
    case $triple in
        x86_64-unknown-linux-musl)
            export "CC_$var=musl-gcc" "AR_$var=ar" ;;
        aarch64-unknown-linux-musl)
            # Debian's aarch64 gcc emits calls to libgcc's outline atomics, absent with musl.
            cflags+=" -mno-outline-atomics"
            export "CC_$var=aarch64-linux-musl-gcc" "AR_$var=aarch64-linux-gnu-ar"
            export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER=aarch64-linux-gnu-gcc
            # zlib's and elfutils' configure scripts take the archiver from AR.
            export AR=aarch64-linux-gnu-ar ;;
        *) die "no static recipe for $triple" ;;
    esac
    export "CFLAGS_$var=$cflags"
    # Static and not position-independent: `file` says "statically linked", and the code is
    # smaller without the PIE relocations. ASLR of the stack and mmap remains.
    # No PT_GNU_RELRO: musl applies RELRO only in its dynamic linker, never in a static non-PIE
    # executable, while the linker pads the file so that the (unused) RELRO region ends on a
    # max-page-size boundary: up to 64 KiB of zeros on aarch64, which also made the size jump
    # with unrelated changes.
    export "CARGO_TARGET_${var^^}_RUSTFLAGS=-C target-feature=+crt-static -C relocation-model=static -C link-arg=-Wl,-z,norelro"
    # elfutils' configure insists on argp, fts and obstack libraries that musl lacks; libelf
    # uses none of them.
    export ac_cv_search_argp_parse="none required" ac_cv_search_fts_close="none required" \
        ac_cv_search__obstack_free="none required"
}
