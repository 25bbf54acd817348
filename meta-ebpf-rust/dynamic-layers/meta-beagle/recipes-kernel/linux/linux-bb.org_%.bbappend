# Kernel options for the ebpf-agents in the BeagleBoard.org kernel (MACHINE = "beagleplay", meta-beagle).
# Only with DISTRO_FEATURES "ebpf": see classes-recipe/ebpf_kernel_config.bbclass.
inherit_defer ${@'ebpf_kernel_config' if bb.utils.contains('DISTRO_FEATURES', 'ebpf', True, False, d) else ''}
