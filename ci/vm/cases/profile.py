"""Host side of the profile case (guest side: profile.sh beside this file).

expect.txt in each variant directory: "dd <pid>", a dd copying /dev/zero to /dev/null while
profile sampled every CPU. Its samples are in the kernel: their kernel stacks must be named
from kallsyms, through the read and write paths.
"""

import json
import os

from casekit import common, expectations, read, tail

TYPES = {"ts": str, "time_ns": int, "interval_ns": int, "frequency_hz": int, "samples": int,
         "rows": list, "total_rows": int, "modules": list, "kernel_symbols": str}
# Functions of the copy's kernel path, some of which every kernel has.
PATH = {"vfs_read", "vfs_write", "ksys_read", "ksys_write", "read_iter_zero", "read_zero",
        "iov_iter_zero", "write_null", "__arch_clear_user", "__clear_user", "clear_user",
        "__arm64_sys_read", "__x64_sys_read", "__arm64_sys_write", "__x64_sys_write"}


def _main(vdir, ctx):
    reports = yield from common(vdir, "main", "interval", TYPES, "docs/tools/profile.md")
    exp = expectations(vdir)
    if len(reports) != 1 or not exp:
        yield ("main: one report and the workload's pid", False,
               f"{len(reports)} reports, expect.txt {exp}")
        return
    r = reports[0]
    pid = int(exp[0][1])
    rows = r.get("rows", [])
    counted = sum(x.get("count", 0) for x in rows)
    yield ("main: counts add up to the samples (none lost)", counted == r.get("samples"),
           f"counted {counted}, samples {r.get('samples')}")
    yield ("main: kernel symbols from kallsyms", r.get("kernel_symbols") == "kallsyms",
           f"kernel_symbols {r.get('kernel_symbols')!r}")
    mine = [x for x in rows if x.get("pid") == pid]
    n = sum(x.get("count", 0) for x in mine)
    # Its first samples may come before the shell's child has exec'd dd.
    as_dd = sum(x.get("count", 0) for x in mine if x.get("comm") == "dd")
    yield ("main: the dd was sampled, as dd", n >= 20 and as_dd * 10 >= n * 9,
           f"{n} samples, {as_dd} as dd: {json.dumps(mine)[:400]}")
    frames = [f for x in mine for f in x.get("kernel_stack", [])]
    unnamed = [f for f in frames if "symbol" not in f or f.get("module") == "[unknown]"]
    # 32-bit ARM: the unwinder of Debian's armhf 6.1 kernel ends some stacks with words that
    # are no kernel address (below 1 MiB: 0x9000-0xf000 seen); every frame at a kernel
    # address must be named.
    if ctx["arch"] == "armv7":
        unnamed = [f for f in unnamed if f.get("addr", 0) >= 1 << 20]
    yield ("main: every kernel frame named",
           frames and not unnamed,
           f"{len(frames)} frames, unnamed {json.dumps(unnamed)[:300]}")
    in_kernel = sum(x.get("count", 0) for x in mine if x.get("kernel_stack"))
    on_path = sum(x.get("count", 0) for x in mine
                  if PATH & {f.get("symbol") for f in x.get("kernel_stack", [])})
    yield ("main: most of dd's kernel samples in its read/write path",
           in_kernel and on_path * 2 >= in_kernel,
           f"{on_path} of {in_kernel}: {json.dumps(mine[:3])[:600]}")


def _folded(vdir, _ctx):
    err = read(os.path.join(vdir, "err.txt"))
    stop = read(os.path.join(vdir, "stop.txt")).decode().split()
    yield ("folded: SIGINT stops it with exit 0", stop == ["INT", "0"], tail(err))
    lines = read(os.path.join(vdir, "out.jsonl")).decode("utf-8", "replace").splitlines()
    bad, total, dd = [], 0, 0
    for line in lines:
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit() or any(not f for f in stack.split(";")):
            bad.append(line)
            continue
        total += int(count)
        if stack.startswith("dd;"):
            dd += int(count)
    samples = [l for l in err.decode("utf-8", "replace").splitlines() if " samples, " in l]
    want = samples[-1].split("profile: ")[-1].split()[0] if samples else "?"
    yield ("folded: every line `frames count`, adding up to the samples",
           not bad and lines and str(total) == want,
           f"{len(bad)} bad lines {bad[:3]}, sum {total}, -v said {want}")
    yield ("folded: dd's stacks there, its name first", dd >= 20, f"{dd} samples of dd")


def check(case_dir, ctx):
    for name, fn in (("main", _main), ("folded", _folded)):
        vdir = os.path.join(case_dir, name)
        if not os.path.isdir(vdir):
            yield (f"{name}: ran", False, f"no {vdir}")
            continue
        yield from fn(vdir, ctx)
