"""Host side of the filetop case (guest side: filetop.sh beside this file).

expect.txt in each variant directory: "writer <pid> <name>" (dd wrote 3 x 1000 bytes to
/tmp/<name>) and "reader <pid> <name>" (dd read them back: one read of 3000 bytes and one of 0).
Variants "kprobe" and "tracepoint" forced the hook, "link" ran the /usr/sbin/filetop link with
the hook it picks (the syscall tracepoints, on every kernel). Every path must give the same
numbers.
"""

import json
import os

from casekit import common, expectations, read

TYPES = {"ts": str, "time_ns": int, "interval_ns": int, "rows": list, "total_rows": int}
ROW = {"pid": int, "tid": int, "comm": str, "file": str, "ino": int, "file_type": str,
       "reads": int, "writes": int, "read_bytes": int, "write_bytes": int}
WANT = {"writer": (0, 3, 0, 3000), "reader": (2, 0, 3000, 0)}
HOOK_LINE = {"kprobe": "tracing: kprobes on vfs_read and vfs_write",
             "tracepoint": "tracing: syscall tracepoints of read"}


def _variant(vdir, name, ctx):
    intervals = yield from common(vdir, name, "interval", TYPES, "docs/tools/filetop.md")
    err = read(os.path.join(vdir, "err.txt")).decode("utf-8", "replace")
    # The link picks the syscall tracepoints on every kernel that has them (all of ours).
    hook = name if name in HOOK_LINE else "tracepoint"
    yield (f"{name}: -v says the {hook} path was picked", HOOK_LINE[hook] in err,
           "\n".join(line for line in err.splitlines() if "tracing:" in line) or err[-600:])
    rows = [r for iv in intervals for r in iv.get("rows", [])]
    bad = [r for r in rows for k, t in ROW.items()
           if not isinstance(r.get(k), t) or isinstance(r.get(k), bool)]
    yield (f"{name}: every row fits the schema", not bad, json.dumps(bad[:3])[:600])
    yield (f"{name}: regular files only (no -a)",
           all(r.get("file_type") == "regular" for r in rows),
           json.dumps([r for r in rows if r.get("file_type") != "regular"][:3])[:600])
    for line in read(os.path.join(vdir, "expect.txt")).decode().splitlines():
        role, pid, fname = line.split(" ", 2)
        pid = int(pid)
        mine = [r for r in rows if r.get("pid") == pid and r.get("file") == fname]
        got = tuple(sum(r.get(k, 0) for r in mine)
                    for k in ("reads", "writes", "read_bytes", "write_bytes"))
        ok = (got == WANT[role] and all(r.get("comm") == "dd" and r.get("tid") == pid
                                        for r in mine))
        yield (f"{name}: the {role} dd's reads/writes/bytes on {fname!r} exact", ok,
               f"expected (reads, writes, read_bytes, write_bytes) = {WANT[role]}, got {got}: "
               f"{json.dumps(mine)[:600]}")


def check(case_dir, ctx):
    for name in ("kprobe", "tracepoint", "link"):
        vdir = os.path.join(case_dir, name)
        if not os.path.isdir(vdir):
            yield (f"{name}: ran", False, f"no {vdir}")
            continue
        if not expectations(vdir):
            yield (f"{name}: the workload ran", False, "no expect.txt")
            continue
        yield from _variant(vdir, name, ctx)
