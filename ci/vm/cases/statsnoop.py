"""Host side of the statsnoop case (guest side: statsnoop.sh beside this file).

expect.txt in each variant directory: "<tag> <pid> <ppid> <directory>" for one run of
vm-files in "stat" mode (see ci/vm/guest/vm-files). Variant "main" traced every call,
"failed" ran with -x.
"""

import json
import os
import re

from casekit import common, expectations, read, tail

TYPES = {"ts": str, "time_ns": int, "pid": int, "tid": int, "comm": str, "syscall": str,
         "ret": int, "path": str, "path_truncated": bool, "path_read_error": bool, "fd": int,
         "at_flags": int}
# The stat family that takes a path (docs/tools/statsnoop.md): 64-bit kernels, and 32-bit
# ones (the *64 calls of ARMv7).
BY_PATH = {"newfstatat", "statx", "newstat", "newlstat", "stat64", "lstat64", "fstatat64"}


def _hooks(vdir, name, arch):
    """The syscalls the "tracing:" line says were attached: the stat family is per
    architecture (arm64 has no newstat/newlstat; x86_64 has both; 32-bit arm has the *64
    calls and newstat/newlstat, but no newfstatat)."""
    err = read(os.path.join(vdir, "err.txt")).decode("utf-8", "replace")
    if arch in ("x86_64", "aarch64"):
        # One program on every syscall's exit, picking the stat calls of both ABIs by number.
        line = "tracing: raw tracepoint raw_syscalls:sys_exit"
        yield (f"{name}: {line}", line in err, tail(err.encode()))
        return
    m = re.search(r"tracing: tracepoints syscalls:sys_\{enter,exit\}_\{([a-z0-9,]+)\}", err)
    attached = set(m.group(1).split(",")) if m else set()
    must = {"newfstatat", "statx", "statfs", "fstatfs", "newfstat"}
    absent = {"newstat", "newlstat"}
    if arch == "x86_64":
        must, absent = must | absent, set()
    elif arch == "armv7":
        must = {"fstatat64", "statx", "statfs", "fstatfs", "statfs64", "fstatfs64", "stat64",
                "lstat64", "fstat64", "newstat", "newlstat", "newfstat"}
        absent = {"newfstatat"}
    ok = must <= attached and not absent & attached
    yield (f"{name}: attached the stat syscalls of {arch}", ok,
           f"attached {sorted(attached)}, expected {sorted(must)} and none of {sorted(absent)}")


def _variant(vdir, name, failed_only, arch):
    events = yield from common(vdir, name, "stat", TYPES, "docs/tools/statsnoop.md")
    yield from _hooks(vdir, name, arch)
    exp = expectations(vdir)
    if not exp:
        yield (f"{name}: the workload ran", False, "no expect.txt")
        return
    tag, pid, _, *dparts = exp[0]
    pid, d = int(pid), " ".join(dparts)
    mine = [ev for ev in events if ev.get("pid") == pid]

    def one(label, path, ret):
        hits = [ev for ev in mine if ev.get("path") == path]
        ok = (len(hits) >= 1 and all(
            ev["ret"] == ret and ev["tid"] == pid and ev["comm"] == "vm-files"
            and ev["fd"] == -100 and ev["syscall"] in BY_PATH and not ev["path_truncated"]
            for ev in hits))
        return (f"{name}: {label}", ok, f"{path!r}: {json.dumps(hits)[:700]}")

    if not failed_only:
        yield one("stat of an existing file: ret 0", f"{d}/present file", 0)
    else:
        ok = [ev for ev in mine if ev.get("ret") == 0]
        yield (f"{name}: -x hides the successful calls", not ok, json.dumps(ok)[:600])
    yield one("missing absolute name: ret -2", f"/nonexistent/{tag}", -2)
    yield one("missing relative name, exactly as given: ret -2", f"rel-missing-{tag}", -2)


def check(case_dir, ctx):
    for name, failed_only in (("main", False), ("failed", True)):
        vdir = os.path.join(case_dir, name)
        if not os.path.isdir(vdir):
            yield (f"{name}: ran", False, f"no {vdir}")
            continue
        yield from _variant(vdir, name, failed_only, ctx["arch"])
