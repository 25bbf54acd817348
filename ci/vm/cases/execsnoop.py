"""Host side of the execsnoop case (guest side: execsnoop.sh beside this file).

Each variant directory holds the tool's JSON Lines (out.jsonl), its stderr, and expect.txt,
written by the guest as the workload ran:
    marker <tag> <pid> <ppid>   an exec of vm-marker with argv [MARKER, tag, "a b"]
    odd <tag> <pid> <ppid>      an exec of vm-marker whose 2nd argument holds \\n \\t " \\ 0xff
    fail <path> <pid> <ppid>    an exec of a missing path (ENOENT)
Variant "main" ran with -x (failed execs shown), "link" without (failed execs hidden).
"""

import datetime
import json
import os

MARKER = "/usr/share/ebpf-vm/vm-marker"
ODD_BYTES = b'line1\nline2\t"q"\\ \xffend'
ODD_TEXT = 'line1\nline2\t"q"\\ \ufffdend'
TYPES = {"ts": str, "time_ns": int, "pid": int, "ppid": int, "uid": int, "comm": str,
         "ret": int, "args": list}


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return b""


def _tail(data, n=10):
    lines = data.decode("utf-8", "replace").rstrip("\n").splitlines()
    return "\n".join("      | " + line for line in lines[-n:])


def _events(raw):
    """Parses JSON Lines strictly: every line one UTF-8 JSON object. Returns (events, errors)."""
    events, errors = [], []
    for no, line in enumerate(raw.split(b"\n"), 1):
        if not line:
            continue
        try:
            obj = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            errors.append(f"line {no}: {e}: {line[:200]!r}")
            continue
        if not isinstance(obj, dict):
            errors.append(f"line {no}: not an object: {line[:200]!r}")
            continue
        events.append(obj)
    return events, errors


def _schema_errors(ev):
    errs = []
    for key, typ in TYPES.items():
        val = ev.get(key)
        if not isinstance(val, typ) or isinstance(val, bool):
            errs.append(f"{key}={val!r} is not {typ.__name__}")
    if isinstance(ev.get("args"), list) and not all(isinstance(a, str) for a in ev["args"]):
        errs.append(f"args holds non-strings: {ev['args']!r}")
    if isinstance(ev.get("ts"), str):
        try:
            ts = datetime.datetime.fromisoformat(ev["ts"])
            if ts.tzinfo is None:
                errs.append(f"ts {ev['ts']!r} has no time zone")
            elif abs((datetime.datetime.now(datetime.timezone.utc) - ts).total_seconds()) > 86400:
                errs.append(f"ts {ev['ts']!r} is over a day away from now")
        except ValueError:
            errs.append(f"ts {ev['ts']!r} is not ISO-8601")
    if isinstance(ev.get("time_ns"), int) and ev["time_ns"] <= 0:
        errs.append(f"time_ns={ev['time_ns']}")
    return errs


def _variant(vdir, name, with_failed):
    err = _read(os.path.join(vdir, "err.txt"))
    attach = _read(os.path.join(vdir, "attach.txt")).decode().strip()
    yield (f"{name}: attached (its \"tracing:\" line on stderr)", attach.startswith("attached"),
           f"attach: {attach or 'not reached'}\n{_tail(err)}")

    stop = _read(os.path.join(vdir, "stop.txt")).decode().split()
    yield (f"{name}: SIGINT stops it with exit 0", stop == ["INT", "0"],
           f"stopped by {stop[:1]} with exit {stop[1:]}\n{_tail(err)}")

    raw = _read(os.path.join(vdir, "out.jsonl"))
    events, errors = _events(raw)
    yield (f"{name}: every line valid JSON ({len(events)} events)", not errors and events,
           "\n".join(errors[:5]) or "no output")
    others = [ev for ev in events if ev.get("type") != "exec"]
    yield (f"{name}: only exec lines, no lost events", not others,
           "\n".join(json.dumps(ev)[:300] for ev in others[:5]))
    events = [ev for ev in events if ev.get("type") == "exec"]
    bad = [(ev, e) for ev in events for e in [_schema_errors(ev)] if e]
    yield (f"{name}: every event fits the schema (docs/tools/execsnoop.md)", not bad,
           "\n".join(f"{e} in {json.dumps(ev)[:300]}" for ev, e in bad[:5]))

    by_pid = {}
    for ev in events:
        by_pid.setdefault(ev.get("pid"), []).append(ev)
    marker_times = []
    for line in _read(os.path.join(vdir, "expect.txt")).decode().splitlines():
        kind, what, pid, ppid = line.split()
        pid, ppid = int(pid), int(ppid)
        mine = by_pid.get(pid, [])
        if kind in ("marker", "odd"):
            hits = [ev for ev in mine if ev.get("args", [None, None])[1:2] == [what]]
            ok = len(hits) == 1
            detail = f"events of pid {pid}: {json.dumps(mine)[:600]}"
            if ok:
                ev = hits[0]
                arg = ev["args"][2] if len(ev["args"]) > 2 else None
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
