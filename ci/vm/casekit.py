"""What the host sides of the cases (ci/vm/cases/<tool>.py) share.

A case's guest script leaves, per run of its tool (a "variant" directory): out.jsonl (stdout),
err.txt (stderr), attach.txt and stop.txt (from the guest helpers) and files of its own with
what it did. `common()` makes the checks every tool's run must pass and returns its events.
"""

import datetime
import json
import os


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return b""


def tail(data, n=10):
    lines = data.decode("utf-8", "replace").rstrip("\n").splitlines()
    return "\n".join("      | " + line for line in lines[-n:])


def parse_lines(raw):
    """JSON Lines, strictly: every line one UTF-8 JSON object. Returns (objects, errors)."""
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


def schema_errors(ev, types):
    """Type errors of one event against {field: type} (bool is no int), plus the shared
    conventions of docs/json.md: `ts` RFC 3339 with a zone, near now; `time_ns` positive."""
    errs = []
    for key, typ in types.items():
        val = ev.get(key)
        if not isinstance(val, typ) or (isinstance(val, bool) and typ is not bool):
            errs.append(f"{key}={val!r} is not {typ.__name__}")
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


def expectations(vdir, name="expect.txt"):
    """The guest's record of what it did: one list of words per line."""
    return [line.split() for line in read(os.path.join(vdir, name)).decode().splitlines()
            if line.strip()]


def common(vdir, name, line_type, types, doc, lost_ok=False):
    """Checks every run of a tool must pass; yields (name, ok, detail), returns the events
    of `line_type` (use: `events = yield from common(...)`). `lost_ok`: the workload makes
    the kernel drop events on purpose, and `lost` lines are expected (the case checks them)."""
    err = read(os.path.join(vdir, "err.txt"))
    attach = read(os.path.join(vdir, "attach.txt")).decode().strip()
    yield (f"{name}: attached (its \"tracing:\" line on stderr)", attach.startswith("attached"),
           f"attach: {attach or 'not reached'}\n{tail(err)}")

    stop = read(os.path.join(vdir, "stop.txt")).decode().split()
    yield (f"{name}: SIGINT stops it with exit 0", stop == ["INT", "0"],
           f"stopped by {stop[:1]} with exit {stop[1:]}\n{tail(err)}")

    events, errors = parse_lines(read(os.path.join(vdir, "out.jsonl")))
    # Where drops are expected, they may leave nothing to print.
    yield (f"{name}: every line valid JSON ({len(events)} lines)",
           not errors and (bool(events) or lost_ok),
           "\n".join(errors[:5]) or "no output")
    others = [ev for ev in events
              if ev.get("type") != line_type and not (lost_ok and ev.get("type") == "lost")]
    yield (f"{name}: only {line_type} lines" + ("" if lost_ok else ", no lost events"),
           not others,
           "\n".join(json.dumps(ev)[:300] for ev in others[:5]))
    events = [ev for ev in events if ev.get("type") == line_type]
    bad = [(ev, e) for ev in events for e in [schema_errors(ev, types)] if e]
    yield (f"{name}: every event fits the schema ({doc})", not bad,
           "\n".join(f"{e} in {json.dumps(ev)[:300]}" for ev, e in bad[:5]))
    return events


def kernel_at_least(ctx, want):
    """Whether the board's kernel (`uname -r`) is release `want` (major, minor) or later."""
    parts = ctx["env"].get("kernel", "").split("-")[0].split(".")
    try:
        return (int(parts[0]), int(parts[1])) >= want
    except (IndexError, ValueError):
        return False


def lost_total(vdir):
    """The last `lost_total` of a run's `lost` lines (0 without any)."""
    lines = parse_lines(read(os.path.join(vdir, "out.jsonl")))[0]
    return max([e.get("lost_total", 0) for e in lines if e.get("type") == "lost"], default=0)


def tcp_expectations(vdir):
    """The exchanges ci/vm/guest/vm-tcp made, from expect.txt: (conns, refused), each a list of
    dicts: conns {family, client, server, addr, port}, refused {family, pid, addr, port}."""
    conns, refused = [], []
    for words in expectations(vdir):
        if words[0] == "conn":
            conns.append({"family": words[1], "client": int(words[2]), "server": int(words[3]),
                          "addr": words[4], "port": int(words[5])})
        elif words[0] == "refused":
            refused.append({"family": words[1], "pid": int(words[2]), "addr": words[3],
                            "port": int(words[4])})
    return conns, refused


def tcp_workload_ran(name, ctx, conns, refused, v6=True):
    """The workload's own check: both families' exchanges (IPv6 where lo has ::1) and refused
    connects made."""
    want = 2 if v6 and ctx["env"].get("ipv6_lo") == "yes" else 1
    yield (f"{name}: the loopback exchanges ran ({want} connections, refused connects)",
           len(conns) == want and len(refused) == want,
           f"conns {conns}, refused {refused}, env ipv6_lo={ctx['env'].get('ipv6_lo')}")


def unsupported_run(vdir, name, says):
    """A run that must not start on this kernel: no attach, exit code 3 (the kernel lacks a
    feature), and stderr naming each of `says`."""
    err = read(os.path.join(vdir, "err.txt"))
    attach = read(os.path.join(vdir, "attach.txt")).decode().strip()
    stop = read(os.path.join(vdir, "stop.txt")).decode().split()
    text = err.decode("utf-8", "replace")
    yield (f"{name}: refused to start, exit 3", attach == "died" and stop[1:] == ["3"],
           f"attach: {attach}, stop: {stop}\n{tail(err)}")
    yield (f"{name}: says why ({', '.join(says)})", all(s in text for s in says), tail(err))
