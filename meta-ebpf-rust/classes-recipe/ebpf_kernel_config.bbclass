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

EBPF_KERNEL_FRAGMENTS ?= "ebpf-core.cfg ebpf-probes.cfg"
SRC_URI += "${@' '.join('file://' + f for f in d.getVar('EBPF_KERNEL_FRAGMENTS').split())}"

# Fragments whose every symbol must reach the final .config; a missing one fails the
# build (the others only warn). ebpf-probes.cfg holds options some kernels lack on purpose.
# Used by ebpf_kernel_config_check, that is for kernels without kernel-yocto.
EBPF_KERNEL_FRAGMENTS_REQUIRED ?= "ebpf-core.cfg"

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
    for frag in (d.getVar('EBPF_KERNEL_FRAGMENTS') or '').split():
        missing = []
        for opt, want in sorted(read_config(os.path.join(d.getVar('UNPACKDIR'), frag)).items()):
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
