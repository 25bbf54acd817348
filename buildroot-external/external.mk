include $(sort $(wildcard $(BR2_EXTERNAL_EBPF_RUST_PATH)/package/*/*.mk))
