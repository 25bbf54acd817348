# shellcheck shell=bash
# Shared by the ci/ scripts: repository paths, idempotent installs, and the environment for
# fully static musl builds of the agent.

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export REPO
# The oldest Rust we support (workspace rust-version); CI builds with exactly this one too.
MSRV=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' "$REPO/Cargo.toml")
export MSRV
# x86_64, aarch64 (BeaglePlay's Cortex-A53) and 32-bit ARMv7 (BeagleBone Black's Cortex-A8).
TARGETS=(x86_64-unknown-linux-musl aarch64-unknown-linux-musl armv7-unknown-linux-musleabihf)

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
    local foreign
    for foreign in arm64 armhf; do
        if [[ " ${missing[*]} " == *":$foreign"* ]] && ! dpkg --print-foreign-architectures | grep -qx "$foreign"; then
            dpkg --add-architecture "$foreign"
        fi
    done
    log "apt-get install ${missing[*]}"
    "$REPO/ci/apt-get" update -qq
    DEBIAN_FRONTEND=noninteractive "$REPO/ci/apt-get" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The packages a static build for every target needs (design notes: the musl recipe).
build_deps() {
    apt_install clang llvm make gcc libc6-dev pkg-config autoconf automake autopoint libtool \
        flex bison gawk musl-tools gcc-aarch64-linux-gnu binutils-aarch64-linux-gnu \
        libc6-dev-arm64-cross linux-libc-dev musl-dev:arm64 gcc-arm-linux-gnueabihf \
        binutils-arm-linux-gnueabihf libc6-dev-armhf-cross linux-libc-dev-armhf-cross \
        musl-dev:armhf file
    command -v rustup >/dev/null || die "rustup is needed (https://rustup.rs)"
    # std's sources: musl_env builds std with the agent.
    rustup component list --installed | grep -q '^rust-src' || rustup component add rust-src
    local t
    for t in "${TARGETS[@]}"; do
        rust_std "$t" >/dev/null
    done
}

# rust_std TRIPLE: prints "prebuilt" when the toolchain (RUSTUP_TOOLCHAIN, else the default)
# has, or rustup can add, its standard library for TRIPLE; else "source": std is then built
# from the rust-src component with the agent (some rustup mirrors carry only the most common
# targets' std). Dies if neither can be had.
declare -A RUST_STD_SEEN=()
rust_std() {
    local t=$1 tc=() key="${RUSTUP_TOOLCHAIN:-default}/$1"
    if [ -z "${RUST_STD_SEEN[$key]:-}" ]; then
        [ -z "${RUSTUP_TOOLCHAIN:-}" ] || tc=(--toolchain "$RUSTUP_TOOLCHAIN")
        if rustup target list "${tc[@]}" --installed | grep -qx "$t" ||
            rustup target add "${tc[@]}" "$t" >/dev/null 2>&1; then
            RUST_STD_SEEN[$key]=prebuilt
        else
            rustup component list "${tc[@]}" --installed | grep -q '^rust-src' ||
                rustup component add "${tc[@]}" rust-src >/dev/null 2>&1 ||
                die "rustup can add neither the standard library for $t nor rust-src to build it"
            RUST_STD_SEEN[$key]=source
        fi
    fi
    echo "${RUST_STD_SEEN[$key]}"
}

# A directory holding only the kernel's UAPI headers (linux/, asm/, asm-generic/) for one
# arch. musl-gcc compiles with -nostdinc, which hides them; libbpf needs them. Added with
# -idirafter so musl's own headers always win.
uapi_dir() {
    local arch=$1 dir="$REPO/target/musl-uapi/$1" asm
    case $arch in
        x86_64) asm=/usr/include/x86_64-linux-gnu/asm ;;
        aarch64) asm=/usr/aarch64-linux-gnu/include/asm ;;
        armv7) asm=/usr/arm-linux-gnueabihf/include/asm ;;
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
    local triple=$1 var arch=${1%%-*} uapi cflags cc linker
    var=${triple//-/_}
    uapi=$(uapi_dir "$arch")
    cflags="-I$REPO/agents/musl-compat -idirafter $uapi"
    case $triple in
        x86_64-unknown-linux-musl)
            cc=musl-gcc linker=""
            export "AR_$var=ar" ;;
        aarch64-unknown-linux-musl)
            # Debian's aarch64 gcc emits calls to libgcc's outline atomics, absent with musl.
            cflags+=" -mno-outline-atomics"
            cc=aarch64-linux-musl-gcc linker=aarch64-linux-gnu-gcc
            export "AR_$var=aarch64-linux-gnu-ar"
            # zlib's and elfutils' configure scripts take the archiver from AR.
            export AR=aarch64-linux-gnu-ar ;;
        armv7-unknown-linux-musleabihf)
            # Debian's armhf gcc defaults to ARMv7-A, Thumb-2, VFPv3-D16, hard float: what
            # the Rust target assumes, and what a Cortex-A8 runs.
            cc=arm-linux-musleabihf-gcc linker=arm-linux-gnueabihf-gcc
            export "AR_$var=arm-linux-gnueabihf-ar" AR=arm-linux-gnueabihf-ar ;;
        *) die "no static recipe for $triple" ;;
    esac
    export "CC_$var=$cc" "CFLAGS_$var=$cflags"
    local rustflags="-C target-feature=+crt-static -C relocation-model=static -C link-arg=-Wl,-z,norelro"
    # std is built from rust-src with the agent, with the release profile's size settings and
    # without its `backtrace` feature: the prebuilt std carries a DWARF symbolizer (gimli,
    # addr2line, miniz_oxide, rustc-demangle: 225 KB of the aarch64 binary with every
    # tool) for backtraces that a panic=abort binary without debug info never prints. Panic
    # messages stay. On a stable toolchain this needs RUSTC_BOOTSTRAP, as the Linux kernel's
    # own Rust build does; the result is checked by every test that runs the binary.
    export RUSTC_BOOTSTRAP=1 CARGO_UNSTABLE_BUILD_STD=std,panic_abort \
        CARGO_UNSTABLE_BUILD_STD_FEATURES=optimize_for_size
    if [ "$(rust_std "$triple")" = source ]; then
        # No prebuilt std for this target: cargo builds std (and panic_abort) from rust-src
        # with the agent, on a stable toolchain too. The binary then links against Debian's
        # musl (musl-dev:<arch>) through its gcc wrapper, instead of the C runtime that a
        # prebuilt std brings, and std's unwinder comes from gcc's libgcc_eh (a prebuilt
        # std's libunwind.a is LLVM's; with panic=abort only backtraces use it).
        local unwind=$REPO/target/musl-unwind/$triple
        mkdir -p "$unwind"
        ln -sfn "$("${linker:-gcc}" -print-file-name=libgcc_eh.a)" "$unwind/libunwind.a"
        linker=$cc
        rustflags+=" -C link-self-contained=no -L $unwind"
    fi
    [ -z "$linker" ] || export "CARGO_TARGET_${var^^}_LINKER=$linker"
    # Static and not position-independent: `file` says "statically linked", and the code is
    # smaller without the PIE relocations. ASLR of the stack and mmap remains.
    # No PT_GNU_RELRO: musl applies RELRO only in its dynamic linker, never in a static non-PIE
    # executable, while the linker pads the file so that the (unused) RELRO region ends on a
    # max-page-size boundary: up to 64 KiB of zeros on aarch64, which also made the size jump
    # with unrelated changes.
    export "CARGO_TARGET_${var^^}_RUSTFLAGS=$rustflags"
    # elfutils' configure insists on argp, fts and obstack libraries that musl lacks; libelf
    # uses none of them.
    export ac_cv_search_argp_parse="none required" ac_cv_search_fts_close="none required" \
        ac_cv_search__obstack_free="none required"
}

# bpf_objects_dir TRIPLE: the directory holding the BPF objects (<tool>.bpf.o, featprobe.bpf.o)
# of the agent built for TRIPLE with every tool, as ci/build builds it (cargo builds what is
# missing). What BTF shipped for a kernel is reduced to (agents/dist/ebpf-min-btf).
bpf_objects_dir() {
    local t=$1 dir
    dir=$(
        musl_env "$t"
        cd "$REPO" || exit 1
        cargo build --release --locked --target "$t" -p ebpf-agent --message-format=json |
            python3 -c '
import json, re, sys
dirs = [m.get("out_dir", "") for m in map(json.loads, sys.stdin)
        if m.get("reason") == "build-script-executed"]
print(next((d for d in dirs if re.search(r"/build/ebpf-agent-[0-9a-f]+/out$", d)), ""))'
    )
    if [ -z "$dir" ] || [ ! -d "$dir" ]; then
        die "no BPF objects found for $t (cargo build failed?)"
    fi
    echo "$dir"
}
