# Adds the kernel options the ebpf-agents need to a kernel recipe: BPF syscall, BTF,
# tracepoints, perf events, ring buffers (kernel-config/ebpf-core.cfg) and the optional
# probe types (kernel-config/ebpf-probes.cfg).
#
# Two ways a kernel recipe takes fragments:
# - linux-yocto (kernel-yocto class) merges every *.cfg in SRC_URI by itself;
# - the meta-ti / BeagleBoard.org kernels (setup-defconfig.inc) merge the files listed
#   in KERNEL_CONFIG_FRAGMENTS, by absolute path.
# Both are filled in here. Symbols a kernel does not know only warn at configure time,
# so the fragments' symbols are checked against the final .config after configure.
#
# Only this layer's kernel bbappends inherit this class, and only with DISTRO_FEATURES
# "ebpf", so that adding the layer changes no kernel until a distro (or local.conf) asks
# for it. oelint-adv cannot see that condition and reads every assignment below as an
# unconditional change of a core recipe (oelint.vars.noncoreoverride): hence the inline
# suppressions.

# CONFIG_DEBUG_INFO_BTF needs pahole on the build host when the kernel is configured
# (CONFIG_PAHOLE_VERSION), or Kconfig drops it without a word.
# nooelint: oelint.vars.noncoreoverride
DEPENDS += "pahole-native"

# Fragments to merge, from the repository's kernel-config/ (EBPF_RUST_KERNEL_CONFIG_DIR,
# set in the layer's layer.conf). Only the bbappends of kernel recipes use this class,
# hence FILESEXTRAPATHS here.
# nooelint: oelint.vars.noncoreoverride
EBPF_KERNEL_FRAGMENTS ?= "ebpf-core.cfg ebpf-probes.cfg"
# nooelint: oelint.vars.noncoreoverride, oelint.vars.fileextrapaths
FILESEXTRAPATHS:prepend := "${EBPF_RUST_KERNEL_CONFIG_DIR}:"
# nooelint: oelint.vars.noncoreoverride
SRC_URI += "${@' '.join('file://' + f for f in d.getVar('EBPF_KERNEL_FRAGMENTS').split())}"

# Fragments whose every symbol must reach the final .config; a missing one fails the
# build (the others only warn). ebpf-probes.cfg holds options some kernels lack on purpose.
# nooelint: oelint.vars.noncoreoverride
EBPF_KERNEL_FRAGMENTS_REQUIRED ?= "ebpf-core.cfg"

# 32-bit ARM kernels: no forced BPF JIT (kernel-config/ebpf-arm32.cfg), whose arm32
# version cannot compile every program the tools load.
# nooelint: oelint.vars.noncoreoverride
EBPF_KERNEL_FRAGMENTS:append:arm = " ebpf-arm32.cfg"
# nooelint: oelint.vars.noncoreoverride
EBPF_KERNEL_FRAGMENTS_REQUIRED:append:arm = " ebpf-arm32.cfg"

# Where the agents get the kernel's types (BTF) from:
# - "kernel": the kernel's own, CONFIG_DEBUG_INFO_BTF (/sys/kernel/btf/vmlinux);
# - "shipped": a kernel without BTF (kernel-config/ebpf-no-btf.cfg, merged after
#   ebpf-core.cfg: a board with 512 MB keeps the megabytes of kernel BTF free, or a BSP
#   kernel cannot have it); do_ebpf_btf below makes its BTF from the DWARF of vmlinux, and
#   the ebpf-agent-btf recipe reduces it to what the tools use and installs it. Rules out
#   tp_btf and fentry hooks (the tools take their raw_tp, tracepoint and kprobe paths).
# nooelint: oelint.vars.noncoreoverride
EBPF_KERNEL_BTF ?= "kernel"
# nooelint: oelint.vars.noncoreoverride
EBPF_KERNEL_FRAGMENTS:append = "${@' ebpf-no-btf.cfg' if d.getVar('EBPF_KERNEL_BTF') == 'shipped' else ''}"
# nooelint: oelint.vars.noncoreoverride
EBPF_KERNEL_FRAGMENTS_REQUIRED:append = "${@' ebpf-no-btf.cfg' if d.getVar('EBPF_KERNEL_BTF') == 'shipped' else ''}"

# KERNEL_CONFIG_FRAGMENTS is meta-ti-bsp's (setup-defconfig.inc), unknown to oelint-adv.
# nooelint: oelint.vars.noncoreoverride, oelint.vars.mispell.unknown
KERNEL_CONFIG_FRAGMENTS += "${@' '.join('${UNPACKDIR}/' + f for f in d.getVar('EBPF_KERNEL_FRAGMENTS').split())}"

# linux-yocto passes PAHOLE=false and leaves out debug-btf.scc unless KERNEL_DEBUG is
# True (linux-yocto.inc, also unknown to oelint-adv); it also orders pahole-native
# before do_kernel_configme.
# nooelint: oelint.vars.noncoreoverride, oelint.vars.mispell.unknown
KERNEL_DEBUG = "True"

do_configure[postfuncs] += "ebpf_kernel_config_check"
ebpf_kernel_config_check[doc] = "Fails if an option of a required ebpf fragment is not in the final kernel .config"
# nooelint: oelint.vars.noncoreoverride
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
# nooelint: oelint.vars.noncoreoverride
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
