include $(sort $(wildcard $(BR2_EXTERNAL_EBPF_RUST_PATH)/package/*/*.mk))

# What this tree needs of Buildroot's own packages. host-llvm builds only the
# backends listed in LLVM_TARGETS_TO_BUILD: the target's architecture, and BPF when
# BR2_PACKAGE_LLVM_BPF is set, an option of the target llvm that would also install
# LLVM on the target. The BPF programs of ebpf-agents only need host-clang's BPF
# backend: add it to host-llvm here, after llvm.mk (Buildroot includes the external
# trees' makefiles after its own), rather than in ebpf-agents.mk, which sets the
# variables of ebpf-agents only.
ifeq ($(BR2_PACKAGE_EBPF_AGENTS_BPF_HOST_CLANG),y)
ifeq ($(filter BPF,$(LLVM_TARGETS_TO_BUILD)),)
LLVM_TARGETS_TO_BUILD += BPF
endif
endif
