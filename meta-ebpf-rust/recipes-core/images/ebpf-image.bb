SUMMARY = "Console image with the ebpf-rust tracing agents"
DESCRIPTION = "A small console image for trying the ebpf-rust agents on a board \
               (made for MACHINE = beagleplay): the agents with a symlink per tool, \
               a first-boot service that runs `ebpf-agent verify` and keeps its JSON \
               report in /var/lib/ebpf-agent/, and an SSH server to collect it."
LICENSE = "MIT"

inherit core-image features_check

# The kernel needs BTF and the options of kernel-config/ebpf-core.cfg: DISTRO_FEATURES
# "ebpf" makes this layer add them to the kernel (see the layer's documentation).
REQUIRED_DISTRO_FEATURES = "ebpf"

IMAGE_FEATURES += "ssh-server-dropbear"

IMAGE_INSTALL += "ebpf-agents ebpf-agents-collect"
# A kernel built without BTF (EBPF_KERNEL_BTF = "shipped") gets the BTF the tools use.
IMAGE_INSTALL += "${@'ebpf-agent-btf' if d.getVar('EBPF_KERNEL_BTF') == 'shipped' else ''}"
