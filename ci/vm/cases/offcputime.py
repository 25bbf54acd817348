"""Host side of the offcputime case (guest side: offcputime.sh beside this file).

expect.txt: "sleep <pid> <ms>": a sleep of <ms> milliseconds in a process traced by pid from
before it started. Its time off CPU in nanosleep must be within 10 % of <ms>, under kernel
stacks named from kallsyms.
"""

import json
import os

from casekit import common, expectations, read, tail

TYPES = {"ts": str, "time_ns": int, "interval_ns": int, "rows": list, "total_rows": int,
         "modules": list, "kernel_symbols": str}
SLEEP = {"do_nanosleep", "hrtimer_nanosleep"}


def _main(vdir, ctx):
    reports = yield from common(vdir, "main", "interval", TYPES, "docs/tools/offcputime.md")
    exp = expectations(vdir)
    if len(reports) != 1 or not exp:
        yield ("main: one report and the workload's pid", False, f"{len(reports)}, {exp}")
        return
    _, pid, ms = exp[0]
    pid, ms = int(pid), int(ms)
    rows = reports[0].get("rows", [])
    yield ("main: only the traced pid", rows and all(x.get("pid") == pid for x in rows),
           json.dumps(rows)[:400])
    # 32-bit ARM runs the programs in the interpreter (the arm32 JIT cannot compile them all,
    # docs/btf.md), and a kernel stack taken there ends in it (___bpf_prog_run): the sleep is
    # found by its process alone.
    arm32 = ctx["arch"] == "armv7"
    slept = [x for x in rows if x.get("comm") == "sleep"
             and (arm32 or SLEEP & {f.get("symbol") for f in x.get("kernel_stack", [])})]
    ns = sum(x.get("total_ns", 0) for x in slept)
    want = ms * 10**6
    yield (f"main: the {ms} ms sleep within 10 %" + ("" if arm32 else " in do_nanosleep"),
           abs(ns - want) <= want // 10, f"{ns} ns: {json.dumps(slept)[:600]}")
    err = read(os.path.join(vdir, "err.txt")).decode("utf-8", "replace")
    yield ("main: -v names the sched_switch hook",
           "tracing: tp_btf sched_switch" in err or "tracing: raw_tp sched_switch" in err,
           tail(err.encode()))


def _folded(vdir, ctx):
    arm32 = ctx["arch"] == "armv7"
    exp = expectations(vdir)
    stop = read(os.path.join(vdir, "stop.txt")).decode().split()
    yield ("folded: SIGINT stops it with exit 0", stop == ["INT", "0"], str(stop))
    lines = read(os.path.join(vdir, "out.jsonl")).decode("utf-8", "replace").splitlines()
    us, bad = 0, []
    for line in lines:
        stack, _, n = line.rpartition(" ")
        if not stack or not n.isdigit():
            bad.append(line)
        elif stack.startswith("sleep;") and (arm32 or SLEEP & set(stack.split(";"))):
            us += int(n)
    want = int(exp[0][2]) * 1000 if exp else 0
    yield ("folded: lines parse; the sleep within 10 %, in microseconds",
           not bad and want and abs(us - want) <= want // 10,
           f"bad {bad[:3]}; {us} us of {want}")


def check(case_dir, ctx):
    for name, fn in (("main", _main), ("folded", _folded)):
        vdir = os.path.join(case_dir, name)
        if not os.path.isdir(vdir):
            yield (f"{name}: ran", False, f"no {vdir}")
            continue
        yield from fn(vdir, ctx)
