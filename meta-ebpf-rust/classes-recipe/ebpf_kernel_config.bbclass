# Adds the kernel options the ebpf-agents need to a kernel recipe: BPF syscall, BTF,
# tracepoints, perf events, ring buffers (ebpf-core.cfg) and the optional probe types
# (ebpf-probes.cfg). The fragments are the layer's recipes-kernel/linux/files/*.cfg, which
# recipes-kernel/linux/linux-ebpf-rust.inc adds to FILESEXTRAPATHS before inheriting this
# class; the layer's kernel bbappends require that file only with DISTRO_FEATURES "ebpf".
#
# Two ways a kernel recipe takes fragments:
# - linux-yocto (kernel-yocto class) merges every *.cfg of SRC_URI in do_kernel_configme,
#   and do_kernel_configcheck reports the options that did not reach the final .config
#   (a warning; KMETA_AUDIT_WERROR = "1" makes it an error);
# - the meta-ti / BeagleBoard.org kernels (meta-ti-bsp's setup-defconfig.inc) merge the
#   files listed in KERNEL_CONFIG_FRAGMENTS, by absolute path, and say nothing of symbols
#   the kernel does not know: here ebpf_kernel_config_check compares the fragments with
#   the final .config after do_configure.

# CONFIG_DEBUG_INFO_BTF needs pahole on the build host when the kernel is configured
# (CONFIG_PAHOLE_VERSION), or Kconfig drops it without a word.
DEPENDS += "pahole-native"

# Where the agents get the kernel's types (BTF) from:
# - "kernel": the kernel's own, CONFIG_DEBUG_INFO_BTF (/sys/kernel/btf/vmlinux);
# - "shipped": a kernel without BTF (ebpf-no-btf.cfg, merged after ebpf-core.cfg: a board
#   with 512 MB keeps the megabytes of kernel BTF free, or a BSP kernel cannot have it);
#   do_ebpf_btf below makes its BTF from the DWARF of vmlinux, and the ebpf-agent-btf
#   recipe reduces it to what the tools use and installs it. Rules out tp_btf and fentry
#   hooks (the tools take their raw_tp, tracepoint and kprobe paths).
# oelint-adv takes this name of the layer's own for a misspelt KERNEL_* variable.
# nooelint: oelint.vars.mispell.unknown
EBPF_KERNEL_BTF ?= "kernel"

# 32-bit ARM kernels also get ebpf-arm32.cfg: no forced BPF JIT, whose arm32 version
# cannot compile every program the tools load.
EBPF_KERNEL_FRAGMENTS ?= "ebpf-core.cfg ebpf-probes.cfg${@oe.utils.conditional('TARGET_ARCH', 'arm', ' ebpf-arm32.cfg', '', d)}${@oe.utils.conditional('EBPF_KERNEL_BTF', 'shipped', ' ebpf-no-btf.cfg', '', d)}"
SRC_URI += "${@' '.join('file://' + f for f in d.getVar('EBPF_KERNEL_FRAGMENTS').split())}"

# Fragments whose every symbol must reach the final .config; a missing one fails the
# build (the others only warn). ebpf-probes.cfg holds options some kernels lack on purpose.
# Used by ebpf_kernel_config_check, that is for kernels without kernel-yocto.
EBPF_KERNEL_FRAGMENTS_REQUIRED ?= "ebpf-core.cfg${@oe.utils.conditional('TARGET_ARCH', 'arm', ' ebpf-arm32.cfg', '', d)}${@oe.utils.conditional('EBPF_KERNEL_BTF', 'shipped', ' ebpf-no-btf.cfg', '', d)}"

# linux-yocto only makes pahole-native available to do_kernel_configme, and only stops
# passing PAHOLE=false to make, when KERNEL_DEBUG is "True", which also adds the
# reproducibility and debug-btf kernel features. The fragments set the BTF options
# themselves: ask for pahole alone, and leave KERNEL_DEBUG to the user.
do_kernel_configme[depends] += "${@'pahole-native:do_populate_sysroot' if bb.data.inherits_class('kernel-yocto', d) else ''}"
EXTRA_OEMAKE:remove = "${@'PAHOLE=false' if bb.data.inherits_class('kernel-yocto', d) else ''}"

# KERNEL_CONFIG_FRAGMENTS is meta-ti-bsp's (setup-defconfig.inc), unknown to oelint-adv.
# nooelint: oelint.vars.mispell.unknown
KERNEL_CONFIG_FRAGMENTS += "${@'' if bb.data.inherits_class('kernel-yocto', d) else ' '.join('${UNPACKDIR}/' + f for f in d.getVar('EBPF_KERNEL_FRAGMENTS').split())}"

do_configure[postfuncs] += "${@'' if bb.data.inherits_class('kernel-yocto', d) else 'ebpf_kernel_config_check'}"
ebpf_kernel_config_check[doc] = "Fails if an option of a required ebpf fragment is not in the final kernel .config"
python ebpf_kernel_config_check() {
    import os
    import re

    def read_config(path):
        opts = {}
        with open(path) as f:
            for line in f:
                line = line.strip()
                m = re.match(r'^(CONFIG_[A-Za-z0-9_]+)=(.*)$', line)
                if m:
                    opts[m.group(1)] = m.group(2)
                    continue
                m = re.match(r'^# (CONFIG_[A-Za-z0-9_]+) is not set$', line)
                if m:
                    opts[m.group(1)] = 'n'
        return opts

    config = os.path.join(d.getVar('B'), '.config')
    if not os.path.exists(config):
        bb.warn('ebpf_kernel_config: no %s to check' % config)
        return
    have = read_config(config)

    required = (d.getVar('EBPF_KERNEL_FRAGMENTS_REQUIRED') or '').split()
    frags = (d.getVar('EBPF_KERNEL_FRAGMENTS') or '').split()
    wanted = [read_config(os.path.join(d.getVar('UNPACKDIR'), f)) for f in frags]
    for i, frag in enumerate(frags):
        missing = []
        # A later fragment overrides an earlier one (ebpf-no-btf.cfg turns BTF off).
        later = set().union(*wanted[i + 1:])
        for opt, want in sorted(wanted[i].items()):
            if opt in later:
                continue
            got = have.get(opt, 'n')
            # A built-in option satisfies a request for a module.
            if got != want and not (want == 'm' and got == 'y'):
                missing.append('%s=%s (got %s)' % (opt, want, got))
        if missing:
            msg = '%s: %d option(s) did not reach the kernel .config: %s' % (frag, len(missing), ', '.join(missing))
            if frag in required:
                bb.fatal(msg)
            bb.warn(msg)
        else:
            bb.note('%s: all options are in the kernel .config' % frag)
}

# EBPF_KERNEL_BTF = "shipped": the kernel's BTF, made by pahole from the DWARF of vmlinux
# (pahole-native, above), for the ebpf-agent-btf recipe, beside the other files the shared
# kernel work directory holds for recipes built against this kernel. Nothing when the kernel
# has BTF of its own.
do_ebpf_btf[doc] = "Makes the kernel's BTF from its DWARF when it is built without BTF, for ebpf-agent-btf"
do_ebpf_btf() {
    btf="${STAGING_KERNEL_BUILDDIR}/ebpf-vmlinux.btf"
    rm -f "$btf"
    if grep -q '^CONFIG_DEBUG_INFO_BTF=y' "${B}/.config"; then
        bbnote "the kernel has BTF of its own: no BTF to make"
        return
    fi
    grep -q '^CONFIG_DEBUG_INFO=y' "${B}/.config" ||
        bbfatal "EBPF_KERNEL_BTF = shipped needs CONFIG_DEBUG_INFO (kernel-config/ebpf-no-btf.cfg): vmlinux has no DWARF to make BTF from"
    pahole --btf_encode_detached="$btf.tmp" "${B}/vmlinux" ||
        bbfatal "pahole could not make BTF from ${B}/vmlinux"
    mv "$btf.tmp" "$btf"
}
# After do_shared_workdir, which empties STAGING_KERNEL_BUILDDIR.
addtask ebpf_btf after do_compile do_shared_workdir before do_build
