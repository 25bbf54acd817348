################################################################################
#
# ebpf-agents
#
################################################################################

# The same commit as SRCREV of the Yocto recipe. To build a checkout instead, see
# "Building your own checkout" in buildroot-external/README.md (local.mk).
EBPF_AGENTS_VERSION = d14d05c90df62fb272602d6aac615272f92b5bd1
EBPF_AGENTS_SITE = $(call github,ebpf-rust,ebpf-rust,$(EBPF_AGENTS_VERSION))
EBPF_AGENTS_LICENSE = MIT
EBPF_AGENTS_LICENSE_FILES = LICENSE
# With EBPF_AGENTS_OVERRIDE_SRCDIR (local.mk): the build outputs of a checkout have no
# place in the package's build directory (they can weigh gigabytes).
EBPF_AGENTS_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS = \
	--exclude /target --exclude /VENDOR --exclude /output
# The cargo workspace is the top of the source tree; the binary is
# one member of it.
EBPF_AGENTS_SUBDIR = agents/ebpf-agent
EBPF_AGENTS_DEPENDENCIES = host-pkgconf elfutils zlib

# Every tool of the multi-call binary, each a cargo feature of the
# same name (and a Config.in option).
EBPF_AGENTS_TOOLS = bashreadline biolatency biosnoop biotop execsnoop exitsnoop filetop filewatch funccount funclatency offcputime opensnoop profile statsnoop syscount tcpaccept tcpconnect tcplife tcpsend tcptop
EBPF_AGENTS_SELECTED_TOOLS = \
	$(foreach tool,$(EBPF_AGENTS_TOOLS),\
		$(if $(BR2_PACKAGE_EBPF_AGENTS_$(call UPPERCASE,$(tool))),$(tool)))

# Without the "vendored" feature, libbpf-sys links the static libelf
# and zlib of the staging directory instead of building its own copies
# (which would need autotools, flex, bison and gawk on the host, and
# fixes for musl that Buildroot's elfutils already carries).
EBPF_AGENTS_CARGO_BUILD_OPTS = \
	--no-default-features \
	--features "$(subst $(space),$(comma),$(strip $(EBPF_AGENTS_SELECTED_TOOLS) \
		$(if $(BR2_PACKAGE_EBPF_AGENTS_RUN),run) \
		$(if $(BR2_PACKAGE_EBPF_AGENTS_COLLECT),collect)))"

# pkg-cargo.mk sets CARGO_PROFILE_RELEASE_* from the global Buildroot
# options (opt-level from BR2_OPTIMIZE_*, lto from BR2_ENABLE_LTO,
# codegen-units 16). Those would override the [profile.release] of
# Cargo.toml, which is tuned for size: restore it. These assignments
# come after pkg-cargo.mk's in the build command, so they win.
EBPF_AGENTS_CARGO_ENV = \
	CARGO_PROFILE_RELEASE_OPT_LEVEL=z \
	CARGO_PROFILE_RELEASE_LTO=true \
	CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 \
	CARGO_PROFILE_RELEASE_PANIC=abort \
	CARGO_PROFILE_RELEASE_STRIP=true \
	LIBBPF_SYS_LIBRARY_PATH="$(STAGING_DIR)/usr/lib"

# C compiled for the build machine (by build scripts) must not use the
# cross compiler and target flags that TARGET_CONFIGURE_OPTS exports as
# CC and CFLAGS. The cc crate takes HOST_CC/TARGET_CC before CC, but
# adds plain CFLAGS to both HOST_CFLAGS and TARGET_CFLAGS: move the
# target's flags to TARGET_*. When the target has the build machine's
# triple, the cc crate cannot tell the two apart: Buildroot's settings
# stay.
ifneq ($(RUSTC_TARGET_NAME),$(RUSTC_HOST_NAME))
EBPF_AGENTS_CARGO_ENV += \
	HOST_CC="$(HOSTCC)" \
	HOST_CXX="$(HOSTCXX)" \
	HOST_AR="$(HOSTAR)" \
	HOST_CFLAGS="$(HOST_CFLAGS)" \
	HOST_CXXFLAGS="$(HOST_CXXFLAGS)" \
	TARGET_CC="$(TARGET_CC)" \
	TARGET_CXX="$(TARGET_CXX)" \
	TARGET_AR="$(TARGET_AR)" \
	TARGET_CFLAGS="$(TARGET_CFLAGS)" \
	TARGET_CXXFLAGS="$(TARGET_CXXFLAGS)" \
	CFLAGS= \
	CXXFLAGS=
endif

# host-clang needs its BPF backend: external.mk adds it to host-llvm.
ifeq ($(BR2_PACKAGE_EBPF_AGENTS_BPF_HOST_CLANG),y)
EBPF_AGENTS_DEPENDENCIES += host-clang
EBPF_AGENTS_CARGO_ENV += \
	BPF_CLANG="$(HOST_DIR)/bin/clang" \
	BPF_STRIP="$(HOST_DIR)/bin/llvm-strip"
else
EBPF_AGENTS_CARGO_ENV += BPF_CLANG="$(call qstrip,$(BR2_PACKAGE_EBPF_AGENTS_BPF_CLANG))"
endif

# libelf compresses sections with zstd when elfutils was built with it.
ifeq ($(BR2_PACKAGE_ZSTD),y)
EBPF_AGENTS_DEPENDENCIES += zstd
EBPF_AGENTS_RUSTFLAGS += -Clink-arg=-lzstd
endif

# Rust links musl statically by default, glibc dynamically.
ifeq ($(BR2_TOOLCHAIN_USES_MUSL),y)
ifneq ($(BR2_PACKAGE_EBPF_AGENTS_STATIC),y)
EBPF_AGENTS_RUSTFLAGS += -Ctarget-feature=-crt-static
endif
else ifeq ($(BR2_PACKAGE_EBPF_AGENTS_STATIC),y)
EBPF_AGENTS_RUSTFLAGS += -Ctarget-feature=+crt-static
endif

# This variable replaces the one pkg-cargo.mk sets for ARM: keep its
# workaround.
ifneq ($(strip $(EBPF_AGENTS_RUSTFLAGS)),)
ifeq ($(NORMALIZED_ARCH),arm)
EBPF_AGENTS_RUSTFLAGS += -Clink-arg=-Wl,--allow-multiple-definition
endif
EBPF_AGENTS_CARGO_ENV += \
	CARGO_TARGET_$(call UPPERCASE,$(RUSTC_TARGET_NAME))_RUSTFLAGS="$(strip $(EBPF_AGENTS_RUSTFLAGS))"
endif

# The download step vendors the crates of a cargo package into its tarball. A source
# tree given with EBPF_AGENTS_OVERRIDE_SRCDIR skips that step: vendor them here, from
# the same cargo home, when the build directory has no VENDOR/. Offline first, so that
# a build machine without network works once that cargo home holds the crates of
# Cargo.lock; otherwise cargo downloads them. This runs before the configure step rather
# than after the rsync one: only then is host-rustc's cargo sure to be installed (the
# rsync step does not wait for the package's dependencies).
define EBPF_AGENTS_VENDOR_CRATES
	if [ ! -d $(@D)/VENDOR ]; then \
		mkdir -p $(@D)/.cargo $(BR_CARGO_HOME) && \
		cd $(@D) && \
		for net in --offline ""; do \
			$(HOST_MAKE_ENV) $(PKG_COMMON_CARGO_ENV) \
			flock $(BR_CARGO_HOME)/.br-lock \
			cargo vendor $$net --locked \
				--manifest-path $(EBPF_AGENTS_SUBDIR)/Cargo.toml \
				VENDOR >$(@D)/.cargo/vendor.toml && break; \
			test -n "$$net" || { echo "ebpf-agents: cannot vendor the" \
				"crates: no network and $(BR_CARGO_HOME) lacks" \
				"some (see buildroot-external/README.md)" >&2; \
				exit 1; }; \
		done && \
		{ if [ -f $(@D)/.cargo/config.toml ]; then \
			cat $(@D)/.cargo/config.toml; fi; \
			cat $(@D)/.cargo/vendor.toml; } >$(@D)/.cargo/config.new && \
		mv $(@D)/.cargo/config.new $(@D)/.cargo/config.toml && \
		rm -f $(@D)/.cargo/vendor.toml; \
	fi
endef
EBPF_AGENTS_PRE_CONFIGURE_HOOKS += EBPF_AGENTS_VENDOR_CRATES

EBPF_AGENTS_PROFILE_DIR = $(if $(BR2_ENABLE_DEBUG),debug,release)

# cargo install would build everything a second time: install what
# the build step produced, in the layout every image of the project
# uses.
define EBPF_AGENTS_INSTALL_TARGET_CMDS
	$(INSTALL) -D -m 0755 \
		$(@D)/target/$(RUSTC_TARGET_NAME)/$(EBPF_AGENTS_PROFILE_DIR)/ebpf-agent \
		$(TARGET_DIR)/usr/sbin/ebpf-agent
	$(foreach tool,$(EBPF_AGENTS_SELECTED_TOOLS),\
		ln -sf ebpf-agent $(TARGET_DIR)/usr/sbin/$(tool)$(sep))
	$(INSTALL) -D -m 0755 $(@D)/agents/dist/ebpf-verify-once \
		$(TARGET_DIR)/usr/libexec/ebpf-agent/ebpf-verify-once
endef

# The examples of the run command, compiled by the build script beside
# the binary.
ifeq ($(BR2_PACKAGE_EBPF_AGENTS_RUN),y)
define EBPF_AGENTS_INSTALL_EXAMPLES
	$(INSTALL) -d $(TARGET_DIR)/usr/share/ebpf-agent/examples
	$(INSTALL) -m 0644 \
		$(@D)/target/$(RUSTC_TARGET_NAME)/$(EBPF_AGENTS_PROFILE_DIR)/bpf-examples/*.bpf.[co] \
		$(@D)/target/$(RUSTC_TARGET_NAME)/$(EBPF_AGENTS_PROFILE_DIR)/bpf-examples/*.h \
		$(TARGET_DIR)/usr/share/ebpf-agent/examples/
endef
EBPF_AGENTS_POST_INSTALL_TARGET_HOOKS += EBPF_AGENTS_INSTALL_EXAMPLES
endif

ifeq ($(BR2_PACKAGE_EBPF_AGENTS_SHIPPED_BTF),y)
# The BTF of a kernel built without it: pahole makes it from the DWARF
# of vmlinux, ebpf-min-btf (this package's copy of agents/dist/) reduces
# it to the types used by the BPF objects this build compiled (every
# selected tool).
EBPF_AGENTS_DEPENDENCIES += linux host-bpftool host-pahole
define EBPF_AGENTS_INSTALL_SHIPPED_BTF
	if grep -q '^CONFIG_DEBUG_INFO_BTF=y' $(LINUX_DIR)/.config; then \
		echo "ebpf-agents: the kernel has BTF of its own: none to ship"; \
	else \
		release=$$(cat $(LINUX_DIR)/include/config/kernel.release) && \
		objects=$$(ls -td $(@D)/target/$(RUSTC_TARGET_NAME)/$(EBPF_AGENTS_PROFILE_DIR)/build/ebpf-agent-*/out | head -n1) && \
		mkdir -p $(TARGET_DIR)/usr/lib/ebpf-agent/btf && \
		PAHOLE=$(HOST_DIR)/bin/pahole BPFTOOL=$(HOST_DIR)/sbin/bpftool \
			$(EBPF_AGENTS_PKGDIR)/ebpf-min-btf $(LINUX_DIR)/vmlinux \
			$(TARGET_DIR)/usr/lib/ebpf-agent/btf/$$release.btf \
			$$objects/*.bpf.o; \
	fi
endef
EBPF_AGENTS_POST_INSTALL_TARGET_HOOKS += EBPF_AGENTS_INSTALL_SHIPPED_BTF
endif

# The collector: its example config, and its service in each init
# flavour (started once /etc/ebpf-agent/collect.json exists). The
# systemd unit runs it as the user ebpf-agent, BusyBox's script as root.
ifeq ($(BR2_PACKAGE_EBPF_AGENTS_COLLECT),y)
define EBPF_AGENTS_USERS
	ebpf-agent -1 ebpf-agent -1 * /nonexistent - - eBPF tracing agents
endef

define EBPF_AGENTS_INSTALL_COLLECT_CONFIG
	$(INSTALL) -D -m 0644 $(@D)/agents/dist/collect.example.json \
		$(TARGET_DIR)/usr/share/ebpf-agent/collect.example.json
endef
EBPF_AGENTS_POST_INSTALL_TARGET_HOOKS += EBPF_AGENTS_INSTALL_COLLECT_CONFIG

define EBPF_AGENTS_INSTALL_INIT_SYSV_COLLECT
	$(INSTALL) -D -m 0755 $(@D)/agents/dist/S96ebpf-collect \
		$(TARGET_DIR)/etc/init.d/S96ebpf-collect
endef

define EBPF_AGENTS_INSTALL_INIT_SYSTEMD_COLLECT
	$(INSTALL) -D -m 0644 $(@D)/agents/dist/ebpf-collect.service \
		$(TARGET_DIR)/usr/lib/systemd/system/ebpf-collect.service
endef
endif

define EBPF_AGENTS_INSTALL_INIT_SYSV
	$(INSTALL) -D -m 0755 $(EBPF_AGENTS_PKGDIR)/S95ebpf-verify \
		$(TARGET_DIR)/etc/init.d/S95ebpf-verify
	$(EBPF_AGENTS_INSTALL_INIT_SYSV_COLLECT)
endef

define EBPF_AGENTS_INSTALL_INIT_SYSTEMD
	$(INSTALL) -D -m 0644 $(@D)/agents/dist/ebpf-verify.service \
		$(TARGET_DIR)/usr/lib/systemd/system/ebpf-verify.service
	$(EBPF_AGENTS_INSTALL_INIT_SYSTEMD_COLLECT)
endef

$(eval $(cargo-package))
