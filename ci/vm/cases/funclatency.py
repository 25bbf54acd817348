"""Host side of the funclatency case (guest side: funclatency.sh beside this file).

expect.txt: "dd <pid> <bytes> <rc>": a dd of <bytes> single-byte reads from /dev/zero, so
<bytes> calls of vfs_read plus the few of its start. blocked/expect.txt: "blocked <readers>
<lines>": that many shells waited in pipe_read at the same time, then read <lines> lines.
"""

import json
import os

from casekit import common, expectations, kernel_at_least, lost_total, read

TYPES = {"ts": str, "time_ns": int, "interval_ns": int, "function": str, "hook": str,
         "latency": dict, "total": int, "untimed": int}
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

    yield from check_blocked(os.path.join(case_dir, "blocked"), ctx)


def check_blocked(vdir, ctx):
    """More readers blocked at once than the kernel may have kretprobe instances: every call
    is timed, or counted as untimed when the kernel dropped its return (kprobes); fexit drops
    none."""
    if not os.path.isdir(vdir):
        yield ("blocked: ran", False, f"no {vdir}")
        return
    reports = yield from common(vdir, "blocked", "interval", TYPES, "docs/tools/funclatency.md",
                                lost_ok=True)
    exp = expectations(vdir)
    if not exp or not reports:
        yield ("blocked: the workload ran and was reported", False, f"{exp}, {len(reports)}")
        return
    readers, lines = int(exp[0][1]), int(exp[0][2])
    timed = sum(r.get("latency", {}).get("count", 0) for r in reports)
    untimed = sum(r.get("untimed", 0) for r in reports)
    hook = reports[-1].get("hook")
    # Two one-byte reads a line ("x", newline), each followed by another entry of its
    # reader (the next read, or the one that sees the end): each one timed or untimed.
    yield (f"blocked: {readers} readers' reads of {lines} lines timed or untimed "
           f"({timed} + {untimed})", timed + untimed >= 2 * lines, json.dumps(reports)[:600])
    lost = lost_total(vdir)
    err = read(os.path.join(vdir, "err.txt")).decode(errors="replace")
    if hook == "kprobe":
        # Whether the kernel drops returns here depends on its pool (Debian's 5.10 arm64
        # dropped most, 6.1 none): the count above is what must hold either way.
        # From 6.7 the kernel counts what it dropped, and the tool says so.
        if kernel_at_least(ctx, (6, 7)):
            yield (f"blocked: the kernel's count of dropped returns reported ({lost} lost)",
                   lost >= untimed and "dropped by the kernel's kprobes" in err, err[-600:])
    else:
        yield (f"blocked: fexit drops no return (0 untimed, {untimed}; {lost} lost)",
               untimed == 0 and lost == 0, json.dumps(reports)[:600])

