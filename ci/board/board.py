#!/usr/bin/env python3
"""Boots, reaches and powers off one emulated board booting from its (virtual) SD card.

    ci/board/board.py up   --card IMG --dir DIR --key KEY [--name NAME] [--ssh-port N]
                           [--metrics-port N] [--mem 512M] [--timeout 300]
    ci/board/board.py down --dir DIR
    ci/board/board.py ssh  --dir DIR -- COMMAND...
    ci/board/board.py dtb  --out FILE

`up` starts qemu-system-aarch64 -M virt -cpu cortex-a53 (software emulation; --arch x86_64:
qemu-system-x86_64 -cpu max) with Debian's U-Boot for qemu as its firmware (u-boot-qemu:
qemu_arm64/u-boot.bin, qemu-x86_64/u-boot.rom). U-Boot finds the card (a virtio block
device: U-Boot's qemu builds have no SD host driver), reads
extlinux/extlinux.conf from its bootable FAT partition and boots the kernel and initramfs
it names, which mount the ext4 root partition, as on a BeaglePlay. The board's network is
qemu's user-mode network, restricted (the board reaches nothing outside), with port forwards
on 127.0.0.1 only: ssh (port 22 of the board) and metrics (port 9464). The serial console
goes to DIR/console.log.

`up` returns once the board answers ssh (0), or fails (1) with the reason: no firmware
banner, U-Boot found nothing it could boot on the card, the kernel panicked, the initramfs
said why the root partition did not mount, the board went off, or a stage took too long.
It never waits longer than --timeout seconds in all. DIR/board.json keeps the ports and the
qemu pid, DIR/ssh_config a `Host NAME` entry for `ssh -F`, DIR/boot.json the times of each
stage. `down` powers the board off (poweroff over ssh, then qemu's quit, then a kill).
`dtb` writes the device tree qemu makes for this machine (the card carries it).
"""

import argparse
import json
import os
import re
import shlex
import signal
import socket
import struct
import subprocess
import sys
import time

# Per architecture: the emulated machine and Debian's U-Boot for it (u-boot-qemu).
ARCH = {
    "aarch64": {
        "qemu": ["qemu-system-aarch64", "-M", "virt", "-cpu", "cortex-a53"],
        "uboot": "/usr/lib/u-boot/qemu_arm64/u-boot.bin",
    },
    # Debian 12's U-Boot for qemu-x86_64 (2023.01) triple-faults when it starts Linux, and
    # its 32-bit qemu-x86 build hands the kernel an empty initrd: qemu loads what the card's
    # extlinux.conf names instead (read from the card's boot partition by the harness).
    "x86_64": {
        "qemu": ["qemu-system-x86_64", "-cpu", "max"],
        "uboot": None,
    },
}
MARK = "EBPF-BOARD: "
METRICS_PORT = 9464

# Lines of U-Boot that mean it could not boot from the card.
UBOOT_FAILURES = [
    "EXTLINUX FAILED", "SCRIPT FAILED", "Wrong Image Format", "Bad Linux ARM64 Image magic",
    "Unable to read file", "Error reading cluster", "BOOTP broadcast", "Skipping ",
    "ERROR: Did not find a cmdline Flattened Device Tree",
]


class Failure(Exception):
    pass


def card_diagnosis(card):
    """What the card's partition table says about the card, when U-Boot cannot boot it."""
    try:
        with open(card, "rb") as f:
            mbr = f.read(512)
        size = os.path.getsize(card)
    except OSError as e:
        return f"the card cannot be read: {e.strerror}"
    if len(mbr) < 512 or mbr[510:512] != b"\x55\xaa":
        return "the card has no partition table (not flashed?)"
    end = 0
    for i in range(4):
        start, count = struct.unpack_from("<II", mbr, 446 + 16 * i + 8)
        end = max(end, (start + count) * 512)
    if end > size:
        return (f"the card holds {size >> 20} MiB but its partitions end at {end >> 20} MiB: "
                "the image was cut short (a bad flash?)")
    return "its partition table is whole: a damaged boot partition?"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ssh_base(board):
    return ["ssh", "-F", os.path.join(board["dir"], "ssh_config"), board["name"]]


def write_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)


def load(dirname):
    try:
        with open(os.path.join(dirname, "board.json")) as f:
            return json.load(f)
    except OSError:
        raise Failure(f"no board in {dirname} (board.py up makes one)") from None


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie of ours is not alive.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def console_tail(path, n=25):
    try:
        with open(path, "rb") as f:
            lines = f.read().decode("utf-8", "replace").replace("\r", "").split("\n")
    except OSError:
        return "(no console)"
    return "\n".join("    " + ln for ln in lines[-n:])


def machine(arch, mem):
    """The emulated machine, the same for every board (and for its device tree). Both vCPUs
    run on one host thread, as in ci/vm/run-vm (QEMU 7.2 with a thread per vCPU now and then
    runs stale code after the guest kernel patches its own text)."""
    q = ARCH[arch]["qemu"]
    return q[:1] + ["-accel", "tcg,thread=single"] + q[1:] + ["-smp", "2", "-m", mem]


def dtb(args):
    """Writes the device tree qemu makes for the board (what U-Boot hands the kernel)."""
    m = machine("aarch64", args.mem)
    m[m.index("virt")] = f"virt,dumpdtb={args.out}"
    r = subprocess.run(m + ["-display", "none"], capture_output=True, text=True, timeout=60)
    if r.returncode != 0 or not os.path.isfile(args.out):
        raise Failure(f"qemu could not write the device tree: {r.stderr.strip()}")
    return 0


def extlinux_boot(card, dirname):
    """What U-Boot would load: the kernel, initrd and command line that the card's
    extlinux.conf names, read from its boot partition with mtools (qemu -kernel, for the
    machines whose U-Boot cannot boot Linux)."""
    with open(card, "rb") as f:
        mbr = f.read(512)
    if mbr[510:512] != b"\x55\xaa":
        raise Failure("the card has no partition table (not flashed?)")
    start = struct.unpack_from("<I", mbr, 446 + 8)[0] * 512
    img = f"{card}@@{start}"
    env = {**os.environ, "MTOOLS_SKIP_CHECK": "1"}

    def mtools(*cmd):
        r = subprocess.run(cmd, capture_output=True, env=env)
        if r.returncode != 0:
            raise Failure(f"the card's boot partition cannot be read ({' '.join(cmd[:1])}: "
                          f"{r.stderr.decode(errors='replace').strip()}): " + card_diagnosis(card))
        return r.stdout

    conf = mtools("mtype", "-i", img, "::extlinux/extlinux.conf").decode(errors="replace")
    label = {}
    for line in conf.splitlines():
        words = line.strip().split(None, 1)
        if len(words) == 2 and words[0] in ("kernel", "linux", "initrd", "append"):
            label.setdefault("kernel" if words[0] == "linux" else words[0], words[1])
    if "kernel" not in label:
        raise Failure("the card's extlinux.conf names no kernel")
    out = {"append": label.get("append", "")}
    for key in ("kernel", "initrd"):
        if key in label:
            path = os.path.join(dirname, "boot-" + key)
            mtools("mcopy", "-n", "-o", "-i", img, "::" + label[key].lstrip("/"), path)
            out[key] = path
    return out


def qemu_command(args, board):
    net = (f"user,id=lan,restrict=on,hostfwd=tcp:127.0.0.1:{board['ssh_port']}-:22,"
           f"hostfwd=tcp:127.0.0.1:{board['metrics_port']}-:{METRICS_PORT}")
    if ARCH[args.arch]["uboot"]:
        firmware = ["-bios", ARCH[args.arch]["uboot"]]
    else:
        boot = extlinux_boot(args.card, board["dir"])
        firmware = ["-kernel", boot["kernel"], "-append", boot["append"]]
        if "initrd" in boot:
            firmware += ["-initrd", boot["initrd"]]
    return machine(args.arch, args.mem) + firmware + [
        "-drive", f"if=none,id=card,file={os.path.abspath(args.card)},format=raw",
        "-device", "virtio-blk-pci,drive=card",
        "-netdev", net, "-device", "virtio-net-pci,netdev=lan,romfile=",
        "-display", "none", "-monitor", "none", "-no-reboot",
        "-serial", f"file:{board['console']}",
        "-qmp", f"unix:{board['qmp']},server=on,wait=off",
    ]


def try_ssh(board, timeout=15):
    try:
        r = subprocess.run(ssh_base(board) + ["true"], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired:
        return False
    return r.returncode == 0


def up(args):
    os.makedirs(args.dir, exist_ok=True)
    name = args.name or os.path.basename(os.path.abspath(args.dir))
    uboot = ARCH[args.arch]["uboot"]
    for path, what in ((args.card, "card image"), (args.key, "ssh key"), (uboot, "U-Boot")):
        if path and not os.path.isfile(path):
            hint = " (Debian: u-boot-qemu)" if path == uboot else ""
            raise Failure(f"no {what} at {path}{hint}")
    old = os.path.join(args.dir, "board.json")
    if os.path.exists(old):
        prev = json.load(open(old))
        if alive(prev.get("pid", 0)):
            raise Failure(f"board {name} is already up (pid {prev['pid']}): board.py down first")
    board = {
        "name": name, "dir": os.path.abspath(args.dir), "card": os.path.abspath(args.card),
        "ssh_port": args.ssh_port or free_port(),
        "metrics_port": args.metrics_port or free_port(),
        "arch": args.arch,
        "console": os.path.join(os.path.abspath(args.dir), "console.log"),
        "qmp": os.path.join(os.path.abspath(args.dir), "qmp.sock"),
    }
    with open(os.path.join(args.dir, "ssh_config"), "w") as f:
        f.write(f"Host {name}\n    HostName 127.0.0.1\n    Port {board['ssh_port']}\n"
                f"    User root\n    IdentityFile {os.path.abspath(args.key)}\n"
                "    IdentitiesOnly yes\n    BatchMode yes\n    StrictHostKeyChecking no\n"
                "    UserKnownHostsFile /dev/null\n    LogLevel ERROR\n    ConnectTimeout 30\n")
    for p in (board["console"], board["qmp"]):
        if os.path.exists(p):
            os.unlink(p)
    open(board["console"], "w").close()
    cmd = qemu_command(args, board)
    board["qemu"] = shlex.join(cmd)
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=open(os.path.join(args.dir, "qemu.err"), "w"),
                            start_new_session=True)
    board["pid"] = proc.pid
    write_json(old, board)

    times = {}
    stages = [  # (key, what the console shows, seconds it may take after the previous one)
        ("firmware_s", "U-Boot ", 60),
        ("extlinux_s", "Found /extlinux/extlinux.conf", 60),
        ("kernel_s", "Starting kernel", 90),
        ("initrd_s", MARK + "INITRD", 120),
        ("root_s", MARK + "ROOT", 60),
    ]
    if not uboot:
        stages = [("initrd_s", MARK + "INITRD", 180)] + stages[4:]
    stage = 0
    last = 0.0
    pos = 0
    pending = ""
    reason = None
    ssh_tries = 0
    next_ssh = 0.0
    try:
        while True:
            now = time.monotonic() - t0
            with open(board["console"], "rb") as f:
                f.seek(pos)
                chunk = f.read()
            pos += len(chunk)
            pending += chunk.decode("utf-8", "replace").replace("\r", "")
            *lines, pending = pending.split("\n")
            for line in lines:
                if stage < len(stages) and stages[stage][1] in line:
                    times[stages[stage][0]] = round(now, 1)
                    last = now
                    stage += 1
                if MARK + "FAIL" in line:
                    said = [ln.split(MARK + "KERNEL ", 1)[1] for ln in
                            open(board["console"], errors="replace").read().split("\n")
                            if MARK + "KERNEL " in ln]
                    reason = ("the board's initramfs could not start the system: "
                              + line.split(MARK + "FAIL ", 1)[-1].strip()
                              + "".join(f"\n    kernel: {s.strip()}" for s in said))
                elif "Kernel panic" in line:
                    reason = f"the kernel panicked: {line.strip()}"
                elif "firmware_s" in times and "kernel_s" not in times and \
                        any(m in line for m in UBOOT_FAILURES):
                    reason = (f"U-Boot could not boot from the card ({line.strip()}); "
                              + card_diagnosis(args.card))
                elif MARK + "READY" in line:
                    times["ready_s"] = round(now, 1)
            if reason:
                raise Failure(reason)
            if not alive(proc.pid):
                proc.wait()
                raise Failure(f"qemu exited (status {proc.returncode}) before the board "
                              "answered ssh" + qemu_error(args.dir))
            if now > args.timeout:
                raise Failure(f"the board did not answer ssh within {args.timeout:.0f} s")
            if stage < len(stages) and now - last > stages[stage][2]:
                raise Failure(f"no '{stages[stage][1].strip()}' on the console "
                              f"{stages[stage][2]} s after the previous stage")
            if stage == len(stages) and now >= next_ssh:
                ssh_tries += 1
                if try_ssh(board):
                    times["ssh_s"] = round(time.monotonic() - t0, 1)
                    times["ssh_tries"] = ssh_tries
                    break
                next_ssh = time.monotonic() - t0 + 2
            time.sleep(0.3)
    except Failure as e:
        kill(board)
        times["error"] = str(e)
        write_json(os.path.join(args.dir, "boot.json"), times)
        raise Failure(f"board {name}: {e}\n  console ({board['console']}), last lines:\n"
                      f"{console_tail(board['console'])}") from None
    write_json(os.path.join(args.dir, "boot.json"), times)
    print(f"board {name}: up, ssh on 127.0.0.1:{board['ssh_port']}, metrics on "
          f"127.0.0.1:{board['metrics_port']} (U-Boot {times.get('firmware_s')} s, kernel "
          f"{times.get('kernel_s')} s, root {times.get('root_s')} s, ssh {times['ssh_s']} s)",
          file=sys.stderr)
    return 0


def qemu_error(dirname):
    try:
        err = open(os.path.join(dirname, "qemu.err")).read().strip()
    except OSError:
        return ""
    return f": {err.splitlines()[-1]}" if err else ""


def qmp_quit(board):
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(5)
            s.connect(board["qmp"])
            s.recv(4096)
            s.sendall(b'{"execute":"qmp_capabilities"}\n')
            s.recv(4096)
            s.sendall(b'{"execute":"quit"}\n')
            s.recv(4096)
    except OSError:
        pass


def wait_gone(pid, seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if not alive(pid):
            return True
        time.sleep(0.3)
    return not alive(pid)


def kill(board):
    pid = board.get("pid", 0)
    if not pid or not alive(pid):
        return
    qmp_quit(board)
    if not wait_gone(pid, 5):
        os.kill(pid, signal.SIGKILL)
        wait_gone(pid, 5)


def down(args):
    board = load(args.dir)
    pid = board.get("pid", 0)
    if not alive(pid):
        print(f"board {board['name']}: already off", file=sys.stderr)
        return 0
    how = "powered off"
    try:
        subprocess.run(ssh_base(board) + ["poweroff"], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=20)
    except subprocess.TimeoutExpired:
        pass
    if not wait_gone(pid, args.timeout):
        how = f"did not power off within {args.timeout} s: stopped"
        kill(board)
    print(f"board {board['name']}: {how}", file=sys.stderr)
    return 0


def ssh(args):
    board = load(args.dir)
    cmd = args.command[1:] if args.command[:1] == ["--"] else args.command
    return subprocess.run(ssh_base(board) + cmd).returncode


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    u = sub.add_parser("up")
    u.add_argument("--card", required=True)
    u.add_argument("--dir", required=True)
    u.add_argument("--key", required=True, help="private key whose public half the card holds")
    u.add_argument("--name")
    u.add_argument("--arch", default="aarch64", choices=sorted(ARCH))
    u.add_argument("--ssh-port", type=int)
    u.add_argument("--metrics-port", type=int)
    u.add_argument("--mem", default="512M")
    u.add_argument("--timeout", type=float, default=300)
    d = sub.add_parser("down")
    d.add_argument("--dir", required=True)
    d.add_argument("--timeout", type=float, default=60)
    t = sub.add_parser("dtb")
    t.add_argument("--out", required=True)
    t.add_argument("--mem", default="512M")
    s = sub.add_parser("ssh")
    s.add_argument("--dir", required=True)
    s.add_argument("command", nargs=argparse.REMAINDER)
    args = p.parse_args()
    try:
        return {"up": up, "down": down, "ssh": ssh, "dtb": dtb}[args.cmd](args)
    except Failure as e:
        print(f"[board] FAILED: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
