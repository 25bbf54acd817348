"""Host side of the syscount case (guest side: syscount.sh beside this file).

expect.txt in each variant directory: "dd <pid> <bytes> <exit code>": a dd copying <bytes>
single bytes from /dev/zero to /dev/null, so <bytes> read() and <bytes> write() calls, plus the
few of its shell's `read` from a fifo and dd's start and end. Variant "main" counted per
syscall with a report every second, "link" per process (-P) with latency (-L).
"""

import json
import os

from casekit import common, expectations

TYPES = {"ts": str, "time_ns": int, "interval_ns": int, "by": str, "rows": list,
         "total_rows": int}
# The syscall numbers of read and write: the generated tables must name them right.
NUMBERS = {"x86_64": {"read": 0, "write": 1}, "aarch64": {"read": 63, "write": 64},
           "armv7": {"read": 3, "write": 4}}
# Calls besides the copy's own: the fifo read (a byte at a time), exec, dd's start and end.
SLACK = 40


def _variant(vdir, name, ctx):
    intervals = yield from common(vdir, name, "interval", TYPES, "docs/tools/syscount.md")
    exp = expectations(vdir)
    if not exp:
        yield (f"{name}: the workload ran", False, "no expect.txt")
        return
    _, pid, nbytes, rc = exp[0]
    pid, nbytes = int(pid), int(nbytes)
    yield (f"{name}: dd exited 0", rc == "0", f"exit {rc}")
    rows = [r for iv in intervals for r in iv.get("rows", [])]
    if name == "main":
        yield ("main: a report every second, then one at SIGINT", len(intervals) >= 2 and all(
            iv.get("by") == "syscall" for iv in intervals),
            f"{len(intervals)} reports: {json.dumps(intervals)[:600]}")
        for call in ("read", "write"):
            mine = [r for r in rows if r.get("syscall") == call]
            count = sum(r.get("count", 0) for r in mine)
            ids = {r.get("id") for r in mine}
            want_id = NUMBERS[ctx["arch"]][call]
            ok = nbytes <= count <= nbytes + SLACK and ids == {want_id}
            yield (f"main: {call} counted {nbytes}..{nbytes + SLACK} times as number {want_id}",
                   ok, f"count {count}, ids {ids}: {json.dumps(mine)[:600]}")
    else:
        # comm is the name at the latest call counted (docs/tools/syscount.md): the process
        # makes its first calls as the subshell waiting on the fifo, its last ones as dd.
        ok = (len(rows) >= 1 and all(r.get("pid") == pid for r in rows)
              and all(r.get("comm") == "dd" for r in rows))
        yield ("link: -P rows only for the traced pid, named as at its latest call (dd)", ok,
               json.dumps(rows)[:600])
        count = sum(r.get("count", 0) for r in rows)
        ns = sum(r.get("total_ns", 0) for r in rows)
        yield (f"link: -P counts the copy's {2 * nbytes} calls", 2 * nbytes <= count <= 2 * nbytes
               + SLACK, f"count {count}")
        yield ("link: -L measures time in them", ns > 0 and all("total_ns" in r for r in rows),
               f"total_ns {ns}")


def check(case_dir, ctx):
    for name in ("main", "link"):
        vdir = os.path.join(case_dir, name)
        if not os.path.isdir(vdir):
            yield (f"{name}: ran", False, f"no {vdir}")
            continue
        yield from _variant(vdir, name, ctx)
