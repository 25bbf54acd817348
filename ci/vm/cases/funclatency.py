"""Host side of the funclatency case (guest side: funclatency.sh beside this file).

expect.txt: "dd <pid> <bytes> <rc>": a dd of <bytes> single-byte reads from /dev/zero, so
<bytes> calls of vfs_read plus the few of its start.
"""

import json
import os

from casekit import common, expectations

TYPES = {"ts": str, "time_ns": int, "interval_ns": int, "function": str, "hook": str,
         "latency": dict, "total": int}
SLACK = 40


def check(case_dir, ctx):
    vdir = os.path.join(case_dir, "main")
    if not os.path.isdir(vdir):
        yield ("main: ran", False, f"no {vdir}")
        return
    reports = yield from common(vdir, "main", "interval", TYPES, "docs/tools/funclatency.md")
    exp = expectations(vdir)
    if not exp or not reports:
        yield ("main: the workload ran and was reported", False, f"{exp}, {len(reports)}")
        return
    nbytes = int(exp[0][2])
    hist = reports[-1].get("latency", {})
    n = sum(r.get("latency", {}).get("count", 0) for r in reports)
    yield (f"main: vfs_read timed {nbytes}..{nbytes + SLACK} times, in usecs",
           nbytes <= n <= nbytes + SLACK and hist.get("unit") == "usecs",
           json.dumps(reports)[:600])
    hook = reports[-1].get("hook")
    # Trampolines on x86_64, and on arm64 with ftrace direct calls (6.4+); kprobes otherwise.
    direct = ctx["env"].get("ftrace_direct_calls") == "yes"
    want = "fentry" if ctx["arch"] == "x86_64" or direct else "kprobe"
    yield (f"main: the {want} pair on this kernel", hook == want, f"hook {hook!r}")
    buckets = hist.get("buckets", [])
    yield ("main: buckets add up to the count",
           sum(b.get("count", 0) for b in buckets) == hist.get("count"), json.dumps(hist)[:400])
