# Kernel options for the ebpf-agents in linux-yocto (qemuarm64 and the other reference machines).
# Only with DISTRO_FEATURES "ebpf": see classes-recipe/ebpf_kernel_config.bbclass.
inherit_defer ${@'ebpf_kernel_config' if bb.utils.contains('DISTRO_FEATURES', 'ebpf', True, False, d) else ''}
