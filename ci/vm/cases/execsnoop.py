"""Host side of the execsnoop case (guest side: execsnoop.sh beside this file).

Each variant directory holds the tool's JSON Lines (out.jsonl), its stderr, and expect.txt,
written by the guest as the workload ran:
    marker <tag> <pid> <ppid>   an exec of vm-marker with argv [MARKER, tag, "a b"]
    odd <tag> <pid> <ppid>      an exec of vm-marker whose 2nd argument holds \\n \\t " \\ 0xff
    fail <path> <pid> <ppid>    an exec of a missing path (ENOENT)
Variant "main" ran with -x (failed execs shown), "link" without (failed execs hidden).
"""

import json
import os

from casekit import common, expectations

MARKER = "/usr/share/ebpf-vm/vm-marker"
ODD_BYTES = b'line1\nline2\t"q"\\ \xffend'
ODD_TEXT = 'line1\nline2\t"q"\\ \ufffdend'
TYPES = {"ts": str, "time_ns": int, "pid": int, "tid": int, "ppid": int, "uid": int,
         "comm": str, "ret": int, "args": list, "args_truncated": bool, "args_read_error": bool}


def _variant(vdir, name, with_failed):
    events = yield from common(vdir, name, "exec", TYPES, "docs/tools/execsnoop.md")
    bad = [ev for ev in events if not all(isinstance(a, str) for a in ev.get("args", []))]
    yield (f"{name}: args are strings", not bad, json.dumps(bad[:3])[:600])

    by_pid = {}
    for ev in events:
        by_pid.setdefault(ev.get("pid"), []).append(ev)
    marker_times = []
    for kind, what, pid, ppid in expectations(vdir):
        pid, ppid = int(pid), int(ppid)
        mine = by_pid.get(pid, [])
        if kind in ("marker", "odd"):
            hits = [ev for ev in mine if ev.get("args", [None, None])[1:2] == [what]]
            ok = len(hits) == 1
            detail = f"events of pid {pid}: {json.dumps(mine)[:600]}"
            if ok:
                ev = hits[0]
                # The byte 0xff is not UTF-8: U+FFFD in the string, exact bytes in args_hex.
                third = "a b" if kind == "marker" else ODD_TEXT
                ok = (ev["args"] == [MARKER, what, third] and ev["ppid"] == ppid
                      and ev["ret"] == 0 and ev["uid"] == 0 and ev.get("tid") == pid
                      and ev["comm"] == "vm-marker")
                detail = (f"expected pid=tid {pid} ppid {ppid} ret 0 uid 0 comm vm-marker "
                          f"args {[MARKER, what, third]!r}, got {json.dumps(ev)}")
                if kind == "marker":
                    marker_times.append(ev["time_ns"])
            label = "marker exec" if kind == "marker" else "exec with \\n \\t \" \\ 0xff in argv"
            yield (f"{name}: {label} {what} seen once, pid/ppid/args/ret right", ok, detail)
            if kind == "odd" and ok:
                # Not UTF-8: the JSON string cannot hold the byte; the raw bytes must still be
                # there (args_hex: each argument's bytes in hex).
                raw = ev.get("args_hex")
                try:
                    got = [bytes.fromhex(h) for h in raw] if isinstance(raw, list) else None
                except (TypeError, ValueError):
                    got = None
                want = [MARKER.encode(), what.encode(), ODD_BYTES]
                yield (f"{name}: argv bytes that are not UTF-8 kept exactly (args_hex)",
                       got == want, f"args_hex={raw!r}, expected the hex of {want!r}")
        elif kind == "fail":
            failed = [ev for ev in mine if ev.get("ret") != 0]
            if with_failed:
                # A failed exec keeps the caller's name: the shell's.
                ok = (len(failed) == 1 and failed[0]["ret"] == -2 and failed[0]["ppid"] == ppid
                      and failed[0]["args"] == [what, "arg1"] and failed[0]["comm"] == "sh")
                yield (f"{name}: failing exec {what} reported with ret -2 (ENOENT)", ok,
                       f"expected pid {pid} ppid {ppid} ret -2 comm sh args [{what!r}, 'arg1'], "
                       f"got {json.dumps(mine)[:600]}")
            else:
                yield (f"{name}: failing exec hidden without -x", not failed,
                       f"got {json.dumps(failed)[:600]}")
    yield (f"{name}: marker events in exec order", marker_times == sorted(marker_times),
           f"time_ns {marker_times}")


def check(case_dir, ctx):
    for name, with_failed in (("main", True), ("link", False)):
        vdir = os.path.join(case_dir, name)
        if not os.path.isdir(vdir):
            yield (f"{name}: ran", False, f"no {vdir}")
            continue
        yield from _variant(vdir, name, with_failed)
