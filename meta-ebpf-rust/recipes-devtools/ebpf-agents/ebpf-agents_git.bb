SUMMARY = "Low-overhead eBPF tracing agents (execsnoop and friends) in one binary"
DESCRIPTION = "ebpf-agent is a multi-call binary of CO-RE eBPF tracing tools: \
               /usr/sbin/<tool> symlinks run each tool. libbpf, libelf and zlib are \
               linked in statically, so the only run-time dependency is the C library. \
               A first-boot service checks that every tool loads and attaches on the \
               running kernel."
HOMEPAGE = "https://github.com/ebpf-rust/ebpf-rust"
BUGTRACKER = "https://github.com/ebpf-rust/ebpf-rust/issues"
SECTION = "devel"
CVE_PRODUCT = "ebpf-agent"

# The sources this recipe fetches: our code and BPF programs (MIT; the programs declare
# "Dual MIT/GPL" to the kernel), libbpf inside the libbpf-sys crate (LGPL-2.1 or
# BSD-2-Clause) and the other Rust crates (MIT, MIT or Apache-2.0, BSD-3-Clause: argh).
# libelf (elfutils) and zlib are linked in statically but come from their own recipes,
# which carry their licences.
LICENSE = "MIT & (LGPL-2.1-only | BSD-2-Clause) & (MIT | Apache-2.0) & BSD-3-Clause"
LIC_FILES_CHKSUM = "file://LICENSE;md5=a739e14c8f8307dd04717fbee2cf5464"

# libbpf is built from the copy in the libbpf-sys crate; libelf and zlib come from the
# sysroot as static archives. clang-native compiles bpf/<tool>.bpf.c for the BPF target.
DEPENDS = "clang-native elfutils zlib"

PV = "0.1.0+git"

SRC_URI = "git://github.com/ebpf-rust/ebpf-rust.git;protocol=https;branch=main"
SRCREV = "d14d05c90df62fb272602d6aac615272f92b5bd1"

require ${BPN}-crates.inc

inherit cargo cargo-update-recipe-crates pkgconfig systemd update-rc.d useradd

# One PACKAGECONFIG per tool, each the cargo feature of the same name: the tools that
# ci/tool-list prints. meta-ebpf-rust/scripts/update-tools rewrites these lines from it,
# ci/yocto-check compares. An image that wants fewer tools sets
# PACKAGECONFIG:pn-ebpf-agents.
EBPF_AGENT_TOOLS = "bashreadline biolatency biosnoop biotop execsnoop exitsnoop filetop filewatch funccount funclatency offcputime opensnoop profile statsnoop syscount tcpaccept tcpconnect tcplife tcpsend tcptop"
PACKAGECONFIG ??= "${EBPF_AGENT_TOOLS} run collect"
PACKAGECONFIG[bashreadline] = "--features bashreadline"
PACKAGECONFIG[biolatency] = "--features biolatency"
PACKAGECONFIG[biosnoop] = "--features biosnoop"
PACKAGECONFIG[biotop] = "--features biotop"
PACKAGECONFIG[execsnoop] = "--features execsnoop"
PACKAGECONFIG[exitsnoop] = "--features exitsnoop"
PACKAGECONFIG[filetop] = "--features filetop"
PACKAGECONFIG[filewatch] = "--features filewatch"
PACKAGECONFIG[funccount] = "--features funccount"
PACKAGECONFIG[funclatency] = "--features funclatency"
PACKAGECONFIG[offcputime] = "--features offcputime"
PACKAGECONFIG[opensnoop] = "--features opensnoop"
PACKAGECONFIG[profile] = "--features profile"
PACKAGECONFIG[statsnoop] = "--features statsnoop"
PACKAGECONFIG[syscount] = "--features syscount"
PACKAGECONFIG[tcpaccept] = "--features tcpaccept"
PACKAGECONFIG[tcpconnect] = "--features tcpconnect"
PACKAGECONFIG[tcplife] = "--features tcplife"
PACKAGECONFIG[tcpsend] = "--features tcpsend"
PACKAGECONFIG[tcptop] = "--features tcptop"
# Also link the C library statically (-C target-feature=+crt-static). Meant for
# TCLIBC = "musl" (fully static Rust on musl works from wrynose on); with glibc the
# binary is static too, but glibc's user/group lookups then need its shared NSS modules.
PACKAGECONFIG[static] = ",,,"
# `ebpf-agent run PROG.bpf.o` (the cargo feature run) and its examples, compiled for the
# target, in /usr/share/ebpf-agent/examples.
PACKAGECONFIG[run] = ",,,"
CARGO_BUILD_FLAGS += "${@bb.utils.contains('PACKAGECONFIG', 'run', '--features run', '', d)}"
# `ebpf-agent collect` (the cargo feature collect): the tools of /etc/ebpf-agent/collect.json
# as one service. Its service and example config are the package ${PN}-collect.
PACKAGECONFIG[collect] = ",,,"
CARGO_BUILD_FLAGS += "${@bb.utils.contains('PACKAGECONFIG', 'collect', '--features collect', '', d)}"

# Cargo workspace: the binary crate is agents/ebpf-agent, the lock file is at the top.
CARGO_SRC_DIR = "agents/ebpf-agent"
CARGO_LOCK_PATH = "${S}/Cargo.lock"

# Without the `vendored` feature libbpf-sys links the sysroot's libelf.a and libz.a:
# the distro's patched elfutils and zlib, and no autotools run inside the cargo build.
CARGO_BUILD_FLAGS += "--no-default-features"
# libbpf-sys has rustc look for libelf.a and libz.a here (rustc bundles static archives
# itself and does not search the linker's sysroot).
export LIBBPF_SYS_LIBRARY_PATH = "${STAGING_LIBDIR}"
# libbpf's C sources sit in the crate, under CARGO_HOME, which DEBUG_PREFIX_MAP does not
# cover: map WORKDIR as rust-common does for the Rust code.
export LIBBPF_SYS_EXTRA_CFLAGS = "-ffile-prefix-map=${WORKDIR}=${TARGET_DBGSRC_DIR}"
# The build script compiles the BPF programs with this clang and strips their DWARF.
export BPF_CLANG = "${STAGING_BINDIR_NATIVE}/clang"
export BPF_STRIP = "${STAGING_BINDIR_NATIVE}/llvm-strip"
# The objects keep their BTF, whose line info names the source files: map the build paths
# away as for C code, or the binary holds TMPDIR paths (buildpaths QA error).
export BPF_CFLAGS = "${DEBUG_PREFIX_MAP}"
# The release profile strips the binary; leave that to the build system, which keeps
# the debug symbols in ${PN}-dbg.
export CARGO_PROFILE_RELEASE_STRIP = "false"

RUSTFLAGS:append = " ${@bb.utils.contains('PACKAGECONFIG', 'static', '-C target-feature=+crt-static', '', d)}"

EBPF_AGENT_ENABLED_TOOLS = "${@' '.join(t for t in d.getVar('EBPF_AGENT_TOOLS').split() if bb.utils.contains('PACKAGECONFIG', t, True, False, d))}"

# A PACKAGECONFIG without any tool cannot build: base.bbclass skips the recipe at parse
# time with this reason (SKIP_RECIPE[<pn>]), instead of a failure in the middle of a build.
SKIP_RECIPE[ebpf-agents] = "${@'' if d.getVar('EBPF_AGENT_ENABLED_TOOLS').split() else 'PACKAGECONFIG enables no tool; pick some of: ' + d.getVar('EBPF_AGENT_TOOLS')}"

do_install() {
    install -d ${D}${sbindir}
    install -m 0755 ${B}/target/${CARGO_TARGET_SUBDIR}/ebpf-agent ${D}${sbindir}/ebpf-agent
    for tool in ${EBPF_AGENT_ENABLED_TOOLS}; do
        ln -sf ebpf-agent ${D}${sbindir}/$tool
    done

    if ${@bb.utils.contains('PACKAGECONFIG', 'run', 'true', 'false', d)}; then
        # Compiled by the build script beside the binary (objects, sources, kernel.h).
        install -d ${D}${datadir}/ebpf-agent/examples
        install -m 0644 ${B}/target/${CARGO_TARGET_SUBDIR}/bpf-examples/*.bpf.o \
            ${B}/target/${CARGO_TARGET_SUBDIR}/bpf-examples/*.bpf.c \
            ${B}/target/${CARGO_TARGET_SUBDIR}/bpf-examples/*.h ${D}${datadir}/ebpf-agent/examples/
    fi

    install -d ${D}${libexecdir}/ebpf-agent
    install -m 0755 ${S}/agents/dist/ebpf-verify-once ${D}${libexecdir}/ebpf-agent/ebpf-verify-once

    if ${@bb.utils.contains('DISTRO_FEATURES', 'systemd', 'true', 'false', d)}; then
        install -d ${D}${systemd_system_unitdir}
        install -m 0644 ${S}/agents/dist/ebpf-verify.service ${D}${systemd_system_unitdir}/ebpf-verify.service
    fi
    if ${@bb.utils.contains('DISTRO_FEATURES', 'sysvinit', 'true', 'false', d)}; then
        install -d ${D}${sysconfdir}/init.d
        install -m 0755 ${S}/agents/dist/S95ebpf-verify ${D}${sysconfdir}/init.d/ebpf-verify
    fi

    # The collector's service (started once /etc/ebpf-agent/collect.json exists) and its
    # example config: the package ${PN}-collect.
    if ${@bb.utils.contains('PACKAGECONFIG', 'collect', 'true', 'false', d)}; then
        install -d ${D}${datadir}/ebpf-agent
        install -m 0644 ${S}/agents/dist/collect.example.json ${D}${datadir}/ebpf-agent/collect.example.json
    fi
    if ${@bb.utils.contains('DISTRO_FEATURES', 'systemd', bb.utils.contains('PACKAGECONFIG', 'collect', 'true', 'false', d), 'false', d)}; then
        install -m 0644 ${S}/agents/dist/ebpf-collect.service ${D}${systemd_system_unitdir}/ebpf-collect.service
    fi
    if ${@bb.utils.contains('DISTRO_FEATURES', 'sysvinit', bb.utils.contains('PACKAGECONFIG', 'collect', 'true', 'false', d), 'false', d)}; then
        install -m 0755 ${S}/agents/dist/S96ebpf-collect ${D}${sysconfdir}/init.d/ebpf-collect
    fi
}

PACKAGES =+ "${PN}-collect"
FILES:${PN}-collect += "${datadir}/ebpf-agent/collect.example.json \
                        ${systemd_system_unitdir}/ebpf-collect.service \
                        ${sysconfdir}/init.d/ebpf-collect"
FILES:${PN} += "${datadir}/ebpf-agent"
RDEPENDS:${PN}-collect = "${PN}"

# The systemd unit runs the collector as this system user (the SysV script as root).
USERADD_PACKAGES = "${PN}-collect"
USERADD_PARAM:${PN}-collect = "--system --user-group --no-create-home --home-dir /nonexistent \
                               --shell /sbin/nologin --comment 'eBPF tracing agents' ebpf-agent"

# The tools' BPF objects, as the build compiled them for this target, for the sysroot
# only: ebpf-agent-btf reduces a kernel's BTF to the types they use, for the BTF an image
# ships for a kernel built without it (EBPF_KERNEL_BTF = "shipped"). A tool added later is
# covered once this recipe is built with it. (The objects are embedded in the binary: the
# image needs no copy.)
SYSROOT_PREPROCESS_FUNCS += "ebpf_agents_sysroot_bpf"
ebpf_agents_sysroot_bpf[doc] = "Stages the BPF objects for ebpf-agent-btf"
ebpf_agents_sysroot_bpf() {
    objects=$(ls -td ${B}/target/${CARGO_TARGET_SUBDIR}/build/ebpf-agent-*/out | head -n1)
    install -d ${SYSROOT_DESTDIR}${datadir}/ebpf-agent/bpf
    install -m 0644 "$objects"/*.bpf.o ${SYSROOT_DESTDIR}${datadir}/ebpf-agent/bpf/
}

EBPF_COLLECT_PKG = "${@bb.utils.contains('PACKAGECONFIG', 'collect', '${PN}-collect', '', d)}"
SYSTEMD_PACKAGES = "${PN} ${EBPF_COLLECT_PKG}"
SYSTEMD_SERVICE:${PN} = "ebpf-verify.service"
SYSTEMD_SERVICE:${PN}-collect = "ebpf-collect.service"

INITSCRIPT_PACKAGES = "${PN} ${EBPF_COLLECT_PKG}"
INITSCRIPT_NAME = "ebpf-verify"
INITSCRIPT_PARAMS = "start 95 2 3 4 5 ."
INITSCRIPT_NAME:${PN}-collect = "ebpf-collect"
INITSCRIPT_PARAMS:${PN}-collect = "start 96 2 3 4 5 . stop 04 0 1 6 ."
