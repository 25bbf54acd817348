"""Host side of the funccount case (guest side: funccount.sh beside this file).

kernel/expect.txt: "dd <pid> <bytes> <rc>": a dd of <bytes> single bytes, so <bytes> read()
and write() calls (vfs_read, vfs_write) plus the few of its start and end.
tracepoints/expect.txt: "shell <pid> <forks>": a shell that forked /bin/true <forks> times.
"""

import json
import os

from casekit import common, expectations

TYPES = {"ts": str, "time_ns": int, "interval_ns": int, "rows": list, "total_rows": int,
         "probes": int}
SLACK = 40


def _counts(reports):
    m = {}
    for r in reports:
        for row in r.get("rows", []):
            key = f"{row.get('kind')} {row.get('name')}"
            m[key] = m.get(key, 0) + row.get("count", 0)
    return m


def _dd_run(vdir, name):
    """The common checks of a run over a held dd; returns (counts, reports, bytes), or None
    when the dd did not run."""
    reports = yield from common(vdir, name, "interval", TYPES, "docs/tools/funccount.md")
    exp = expectations(vdir)
    if not exp:
        yield (f"{name}: the workload ran", False, "no expect.txt")
        return None
    _, _, nbytes, rc = exp[0]
    yield (f"{name}: dd exited 0", rc == "0", f"exit {rc}")
    return _counts(reports), reports, int(nbytes)


def _kernel(vdir, ctx):
    run = yield from _dd_run(vdir, "kernel")
    if run is None:
        return
    m, reports, nbytes = run
    keys = ["kernel vfs_read", "kernel vfs_write", "tracepoint syscalls:sys_enter_write"]
    if ctx["arch"] == "armv7":
        # Debian's armhf 6.1 kernel: the kprobe on vfs_read attaches but never fires for
        # read(2) (not understood yet; docs/emulated-board.md). The others are checked.
        keys.remove("kernel vfs_read")
    for key in keys:
        n = m.get(key, 0)
        yield (f"kernel: {key} counted {nbytes}..{nbytes + SLACK} times",
               nbytes <= n <= nbytes + SLACK, json.dumps(reports)[:600])


def _tracepoints(vdir, _ctx):
    reports = yield from common(vdir, "tracepoints", "interval", TYPES,
                                "docs/tools/funccount.md")
    exp = expectations(vdir)
    if not exp:
        yield ("tracepoints: the workload ran", False, "no expect.txt")
        return
    forks = int(exp[0][2])
    m = _counts(reports)
    yield (f"tracepoints: sched:sched_process_fork exactly {forks} times",
           m.get("tracepoint sched:sched_process_fork") == forks, json.dumps(m)[:400])
    yield ("tracepoints: no exec in the traced shell itself",
           "tracepoint sched:sched_process_exec" not in m, json.dumps(m)[:400])
    probes = {r.get("probes") for r in reports}
    yield ("tracepoints: the glob matched fork, exec, exit and free", probes == {4},
           f"probes {probes}")


def _storm(vdir, _ctx):
    run = yield from _dd_run(vdir, "storm")
    if run is None:
        return
    m, reports, nbytes = run
    n = m.get("tracepoint syscalls:sys_enter_write", 0)
    # Counts in two reports at least: a drain ran while dd wrote (how many fall in its run
    # depends on how fast the board is: 3 of 10 on a KVM x86_64 guest).
    busy = sum(1 for r in reports if r.get("rows"))
    yield ("storm: drained while it ran (counts in 2 reports at least)", busy >= 2,
           f"{busy} of {len(reports)} reports")
    # dd's own writes: one per byte, and none lost to the drains (its summary goes to
    # /dev/null: a few more at most).
    yield (f"storm: syscalls:sys_enter_write counted {nbytes}..{nbytes + 5} times",
           nbytes <= n <= nbytes + 5, f"{n} in {len(reports)} reports")


def check(case_dir, ctx):
    for name, fn in (("kernel", _kernel), ("tracepoints", _tracepoints), ("storm", _storm)):
        vdir = os.path.join(case_dir, name)
        if not os.path.isdir(vdir):
            yield (f"{name}: ran", False, f"no {vdir}")
            continue
        yield from fn(vdir, ctx)
