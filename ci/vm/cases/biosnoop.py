"""Host side of the biosnoop case (guest side: biosnoop.sh beside this file).

expect.txt in each variant directory: "write <pid> <block>" (a dd wrote 8 blocks of 4096 bytes
to /dev/nullb0 from <block> on, O_DIRECT, then fsync) and "read <pid> <block>" (another read
them back). Variants: "main" (-Q -d nullb0, the hooks the kernel offers first) and "link"
(the /usr/sbin/biosnoop link with --hook raw_tp, every disk).
"""

import json
import os

from casekit import common, expectations, read

TYPES = {"ts": str, "time_ns": int, "pid": int, "comm": str, "disk": str, "major": int,
         "minor": int, "op": str, "rwbs": str, "sector": int, "bytes": int, "latency_ns": int}
BLOCKS = 8


def hooks(name, ctx):
    """What -v must say: the kind of program, and where the process comes from."""
    # tp_btf needs the kernel's own BTF: on shipped BTF (armv7) the tool takes raw_tp.
    kind = "raw_tp" if name == "link" or ctx["image"].get("shipped_btf") else "tp_btf"
    # block_io_start exists from 6.5: the 6.12 boards; block_getrq on 5.10 and 6.1.
    origin = "block_io_start" if ctx["series"] == "6.12" else "block_getrq"
    return (f"tracing: {kind} block_rq_complete and block_rq_issue; "
            f"issuing process from {kind} {origin}")


def _variant(vdir, name, ctx):
    events = yield from common(vdir, name, "io", TYPES, "docs/tools/biosnoop.md")
    err = read(os.path.join(vdir, "err.txt")).decode("utf-8", "replace")
    want = hooks(name, ctx)
    yield (f"{name}: -v names the hooks ({want})", want in err,
           "\n".join(line for line in err.splitlines() if "tracing:" in line) or err[-600:])
    yield (f"{name}: only nullb0's requests", all(e.get("disk") == "nullb0" for e in events),
           json.dumps([e for e in events if e.get("disk") != "nullb0"][:3])[:600])
    for op, pid, block in expectations(vdir):
        pid, block = int(pid), int(block)
        mine = sorted((e for e in events if e.get("pid") == pid), key=lambda e: e["time_ns"])
        got = [(e.get("comm"), e.get("op"), e.get("sector"), e.get("bytes")) for e in mine]
        exp = [("dd", op, (block + i) * 8, 4096) for i in range(BLOCKS)]
        yield (f"{name}: the {op} dd's {BLOCKS} requests, each once: its pid and comm, "
               f"sector order, 4096 bytes", got == exp,
               f"expected {exp}\ngot {got}")
        dirs = all((e.get("rwbs") or "?")[0] == ("W" if op == "write" else "R") for e in mine)
        yield (f"{name}: the {op}s' rwbs", dirs and bool(mine), json.dumps(mine[:2])[:400])
        if name == "main":
            q = [e.get("queue_ns") for e in mine]
            yield (f"{name}: -Q: the {op}s' time queued", bool(q) and all(
                isinstance(v, int) and not isinstance(v, bool) for v in q), json.dumps(q))


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
