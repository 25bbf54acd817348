"""Host side of the exitsnoop case (guest side: exitsnoop.sh beside this file).

expect.txt in each variant directory: "<tag> <pid> <ppid> <how>", one vm-exit process each,
<how> being the exit status it gave (0, 3) or the signal that killed it (KILL). Variant "main"
traced every exit, "failed" ran with -x: only non-zero statuses and signals.
"""

import json
import os

from casekit import common, expectations

SIGNALS = {"KILL": 9}
TYPES = {"ts": str, "time_ns": int, "pid": int, "ppid": int, "tid": int, "comm": str,
         "exit_code": int, "signal": int, "core_dumped": bool, "age_ns": int}


def _variant(vdir, name, failed_only):
    events = yield from common(vdir, name, "exit", TYPES, "docs/tools/exitsnoop.md")
    by_pid = {}
    for ev in events:
        by_pid.setdefault(ev.get("pid"), []).append(ev)
    for tag, pid, ppid, how in expectations(vdir):
        pid, ppid = int(pid), int(ppid)
        mine = by_pid.get(pid, [])
        code, sig = (0, SIGNALS[how]) if how in SIGNALS else (int(how), 0)
        if failed_only and code == 0 and sig == 0:
            yield (f"{name}: exit 0 of {tag} hidden with -x", not mine, json.dumps(mine)[:600])
            continue
        want = {"pid": pid, "tid": pid, "ppid": ppid, "comm": "vm-exit", "exit_code": code,
                "signal": sig, "core_dumped": False}
        if sig:
            want["signal_name"] = f"SIG{how}"
        ok = (len(mine) == 1 and all(mine[0].get(k) == v for k, v in want.items())
              and 0 < mine[0]["age_ns"] < 60 * 10**9)
        what = f"killed by SIG{how}" if sig else f"exit {code}"
        yield (f"{name}: {what} of {tag} seen once, pid/ppid/status/age right", ok,
               f"expected {json.dumps(want)} and 0 < age_ns < 60 s, got {json.dumps(mine)[:600]}")


def check(case_dir, ctx):
    for name, failed_only in (("main", False), ("failed", True)):
        vdir = os.path.join(case_dir, name)
        if not os.path.isdir(vdir):
            yield (f"{name}: ran", False, f"no {vdir}")
            continue
        yield from _variant(vdir, name, failed_only)
