#!/usr/bin/env bash
# Post-image script of qemu_aarch64_virt_ebpf*_defconfig: writes
# start-qemu.sh beside the images, the command that boots them (the
# first boot runs the agents' verification and leaves its report in
# /var/lib/ebpf-agent/verify.json). Buildroot sets BINARIES_DIR.
set -euo pipefail

script="${BINARIES_DIR:?}/start-qemu.sh"

cat >"${script}" <<'END'
#!/bin/sh
# Boots the image with qemu-system-aarch64 (Debian: qemu-system-arm),
# console on this terminal; extra arguments go to qemu.
# Leave with Ctrl-A X.
cd "$(dirname "$0")" || exit 1
exec qemu-system-aarch64 \
	-M virt -cpu cortex-a53 -smp 2 -m 512 -nographic \
	-kernel Image \
	-append "rootwait root=/dev/vda console=ttyAMA0" \
	-drive file=rootfs.ext4,if=none,format=raw,id=hd0 \
	-device virtio-blk-device,drive=hd0 \
	-netdev user,id=eth0 -device virtio-net-device,netdev=eth0 \
	"$@"
END
chmod 0755 "${script}"
echo "post-image: wrote ${script}"
