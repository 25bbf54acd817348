SUMMARY = "Kernel BTF for the ebpf-agents, for a kernel built without it"
DESCRIPTION = "With EBPF_KERNEL_BTF set to shipped, the kernel has no BTF of its own \
               (no /sys/kernel/btf/vmlinux). Its BTF, made by the kernel's do_ebpf_btf \
               task from the DWARF of vmlinux, is reduced here to the types the agents' \
               BPF programs use (a few KB) and installed where the agent looks for it: \
               /usr/lib/ebpf-agent/btf/<kernel release>.btf. Empty when the kernel has \
               BTF of its own."
HOMEPAGE = "https://github.com/ebpf-rust/ebpf-rust"
BUGTRACKER = "https://github.com/ebpf-rust/ebpf-rust/issues"
SECTION = "kernel"
# The kernel's type information: the kernel's licence (the common licence text, as
# packagegroups and other source-less recipes do).
LICENSE = "GPL-2.0-only"
# nooelint: oelint.var.licenseremotefile
LIC_FILES_CHKSUM = "file://${COMMON_LICENSE_DIR}/GPL-2.0-only;md5=801f80980d171dd6425610833a22dbe6"

# bpftool: gen min_core_btf; ebpf-agents: its BPF objects, in its sysroot.
DEPENDS = "bpftool-native ebpf-agents"

# ebpf-min-btf: the layer's copy of agents/dist/ebpf-min-btf (ci/yocto-check keeps them
# identical). The other inputs are the kernel's BTF and ebpf-agents' sysroot.
SRC_URI = "file://ebpf-min-btf"
S = "${UNPACKDIR}"

inherit features_check

# do_ebpf_btf comes with the layer's kernel class, which DISTRO_FEATURES "ebpf" adds.
REQUIRED_DISTRO_FEATURES = "ebpf"

# One kernel, one file: this machine's.
PACKAGE_ARCH = "${MACHINE_ARCH}"

do_configure[noexec] = "1"

do_compile[depends] += "virtual/kernel:do_ebpf_btf"
do_compile() {
    release=$(cat ${STAGING_KERNEL_BUILDDIR}/kernel-abiversion)
    rm -rf ${B}/btf
    mkdir -p ${B}/btf
    if [ ! -e ${STAGING_KERNEL_BUILDDIR}/ebpf-vmlinux.btf ]; then
        bbnote "kernel $release has BTF of its own: no BTF to ship"
        return
    fi
    BPFTOOL=bpftool sh ${UNPACKDIR}/ebpf-min-btf \
        ${STAGING_KERNEL_BUILDDIR}/ebpf-vmlinux.btf ${B}/btf/$release.btf \
        ${RECIPE_SYSROOT}${datadir}/ebpf-agent/bpf/*.bpf.o
}

do_install() {
    install -d ${D}${nonarch_libdir}/ebpf-agent/btf
    for f in ${B}/btf/*.btf; do
        if [ -e "$f" ]; then
            install -m 0644 "$f" ${D}${nonarch_libdir}/ebpf-agent/btf/
        fi
    done
}

FILES:${PN} += "${nonarch_libdir}/ebpf-agent/btf"
ALLOW_EMPTY:${PN} = "1"
