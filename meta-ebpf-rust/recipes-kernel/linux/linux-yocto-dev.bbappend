# Kernel options for the ebpf-agents in linux-yocto-dev (the development kernel).
# Only with DISTRO_FEATURES "ebpf" (see recipes-kernel/linux/linux-ebpf-rust.inc): without
# it this file changes nothing but the name below, which no task uses. oelint-adv cannot
# see that condition and reads the line as an unconditional change of a core recipe.
# nooelint: oelint.vars.noncoreoverride
EBPF_RUST_KERNEL_INC = "${@bb.utils.contains('DISTRO_FEATURES', 'ebpf', 'recipes-kernel/linux/linux-ebpf-rust.inc', '', d)}"
require ${EBPF_RUST_KERNEL_INC}
