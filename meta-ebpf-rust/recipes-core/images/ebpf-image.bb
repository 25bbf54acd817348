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

# The collector's service and example config; "" for an ebpf-agents built without the
# PACKAGECONFIG collect (the package is then never made).
EBPF_IMAGE_COLLECT ?= "ebpf-agents-collect"
IMAGE_INSTALL += "ebpf-agents ${EBPF_IMAGE_COLLECT}"
# A kernel built without BTF (EBPF_KERNEL_BTF = "shipped") gets the BTF the tools use.
IMAGE_INSTALL += "${@'ebpf-agent-btf' if d.getVar('EBPF_KERNEL_BTF') == 'shipped' else ''}"
