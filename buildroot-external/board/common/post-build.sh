#!/usr/bin/env bash
# Post-build script of every image of this tree. Buildroot calls it with
# TARGET_DIR as $1 and BR2_CONFIG in the environment.
#
# - checks that ebpf-agents installed the on-device layout the images
#   promise, so that a broken image fails here and not on the board;
# - on BusyBox/SysV init, mounts tracefs and bpffs from /etc/fstab at
#   boot (systemd mounts both itself).
set -euo pipefail

target_dir=${1:?usage: $0 TARGET_DIR}

fail() {
	echo "post-build: $*" >&2
	exit 1
}

if grep -q '^BR2_PACKAGE_EBPF_AGENTS=y' "${BR2_CONFIG:?}"; then
	[ -x "${target_dir}/usr/sbin/ebpf-agent" ] ||
		fail "/usr/sbin/ebpf-agent is missing"
	[ -x "${target_dir}/usr/libexec/ebpf-agent/ebpf-verify-once" ] ||
		fail "/usr/libexec/ebpf-agent/ebpf-verify-once is missing"
	for link in "${target_dir}"/usr/sbin/*; do
		[ -L "${link}" ] || continue
		if [ "$(readlink "${link}")" = "ebpf-agent" ]; then
			echo "post-build: tool ${link#"${target_dir}"}"
		fi
	done
fi

if ! grep -q '^BR2_INIT_SYSTEMD=y' "${BR2_CONFIG}"; then
	fstab="${target_dir}/etc/fstab"
	[ -f "${fstab}" ] || fail "${fstab} is missing"
	add_mount() {
		# $1 device, $2 mount point, $3 type, $4 options
		if ! awk -v mp="$2" '$2 == mp { found = 1 } END { exit !found }' "${fstab}"; then
			printf '%s\t%s\t%s\t%s\t0\t0\n' "$1" "$2" "$3" "$4" >>"${fstab}"
		fi
	}
	add_mount tracefs /sys/kernel/tracing tracefs nosuid,nodev,noexec
	add_mount bpf /sys/fs/bpf bpf nosuid,nodev,noexec,mode=700
fi
