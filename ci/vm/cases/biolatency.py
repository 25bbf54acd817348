"""Host side of the biolatency case (guest side: biolatency.sh beside this file).

expect.txt in each variant directory: "write <pid>" (a dd wrote 8 blocks of 4096 bytes to
/dev/nullb0, the board's only disk, with O_DIRECT) and "read <pid>" (a dd read them back):
16 requests in all. Variants: "main" (-D -F -d nullb0, one report) and "link" (the
/usr/sbin/biolatency link with --hook raw_tp -Q -m, a report every second).
"""

import json
import os

from casekit import common, expectations, read

TYPES = {"ts": str, "time_ns": int, "interval_ns": int, "rows": list, "total_rows": int}
REQUESTS = 16


def buckets_ok(h):
    """A histogram as docs/json.md says: log2 bounds in order, count = their sum."""
    b = h.get("buckets", [])
    bounds = all(x.get("low") == (0 if i == 0 else 1 << i) and x.get("high") == (2 << i) - 1
                 for i, x in enumerate(b))
    return bounds and h.get("count") == sum(x.get("count", 0) for x in b)


def _variant(vdir, name, ctx):
    intervals = yield from common(vdir, name, "interval", TYPES, "docs/tools/biolatency.md")
    rows = [r for iv in intervals for r in iv.get("rows", [])]
    yield (f"{name}: every histogram well formed", bool(rows) and all(
        buckets_ok(r.get("latency", {})) for r in rows), json.dumps(rows[:2])[:600])
    total = sum(r.get("latency", {}).get("count", 0) for r in rows)
    yield (f"{name}: the {REQUESTS} requests of the dds, each counted once", total == REQUESTS,
           f"counted {total}: {json.dumps(rows)[:600]}")
    err = read(os.path.join(vdir, "err.txt")).decode("utf-8", "replace")
    # tp_btf needs the kernel's own BTF: on shipped BTF (armv7) the tool takes raw_tp.
    kind = "raw_tp" if name == "link" or ctx["image"].get("shipped_btf") else "tp_btf"
    tracing = "\n".join(line for line in err.splitlines() if "tracing:" in line) or err[-600:]
    yield (f"{name}: -v says {kind}", f"tracing: {kind} block_rq_complete" in err, tracing)
    if name == "main":
        yield ("main: -D: the disk named, with its numbers", all(
            r.get("disk") == "nullb0" and isinstance(r.get("major"), int) for r in rows),
            json.dumps(rows)[:600])
        by_op = {op: sum(r["latency"]["count"] for r in rows if r.get("op") == op)
                 for op in ("write", "read")}
        yield ("main: -F: 8 writes and 8 reads", by_op == {"write": 8, "read": 8}, str(by_op))
        yield ("main: -F: O_DIRECT writes are sync", any(
            r.get("op") == "write" and "sync" in r.get("flags", []) for r in rows),
            json.dumps(rows)[:600])
        yield ("main: one report, at SIGINT", len(intervals) == 1, str(len(intervals)))
    if name == "link":
        origin = "block_io_start" if ctx["series"] == "6.12" else "block_getrq"
        yield (f"link: -Q: the issuing process's hook ({origin})",
               f"issuing process from raw_tp {origin}" in err, tracing)
        yield ("link: -m: milliseconds", all(r["latency"].get("unit") == "msecs" for r in rows),
               json.dumps(rows)[:400])
        yield ("link: a report every second", len(intervals) >= 2, str(len(intervals)))


def check(case_dir, ctx):
    for name in ("main", "link"):
        vdir = os.path.join(case_dir, name)
        if not os.path.isdir(vdir):
            yield (f"{name}: ran", False, f"no {vdir}")
            continue
        if not expectations(vdir):
            yield (f"{name}: the workload ran", False, "no expect.txt")
            continue
        yield from _variant(vdir, name, ctx)
