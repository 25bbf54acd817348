# Kernel options for the ebpf-agents in the TI staging kernel (MACHINE = "beagleplay-ti" and the other TI boards, meta-ti-bsp).
# Only with DISTRO_FEATURES "ebpf": see classes-recipe/ebpf_kernel_config.bbclass.
inherit_defer ${@'ebpf_kernel_config' if bb.utils.contains('DISTRO_FEATURES', 'ebpf', True, False, d) else ''}
