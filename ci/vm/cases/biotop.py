"""Host side of the biotop case (guest side: biotop.sh beside this file).

expect.txt in each variant directory: "W <pid>" (a dd wrote 8 blocks of 4096 bytes to
/dev/nullb0 with O_DIRECT) and "R <pid>" (a dd read them back); in "link" (the
/usr/sbin/biotop link, --hook raw_tp -s io -p the writer) only the writer and "untraced
<pid>", a reader -p leaves out. Variant "main" (a report every second) traces everyone.
"""

import json
import os

from casekit import common, expectations, read

TYPES = {"ts": str, "time_ns": int, "interval_ns": int, "rows": list, "total_rows": int}
ROW = {"pid": int, "comm": str, "rw": str, "major": int, "minor": int, "disk": str, "io": int,
       "bytes": int, "total_ns": int}


def _variant(vdir, name, ctx):
    intervals = yield from common(vdir, name, "interval", TYPES, "docs/tools/biotop.md")
    rows = [r for iv in intervals for r in iv.get("rows", [])]
    bad = [r for r in rows for k, t in ROW.items()
           if not isinstance(r.get(k), t) or isinstance(r.get(k), bool)]
    yield (f"{name}: every row fits the schema", not bad, json.dumps(bad[:3])[:600])
    err = read(os.path.join(vdir, "err.txt")).decode("utf-8", "replace")
    # tp_btf needs the kernel's own BTF: on shipped BTF (armv7) the tool takes raw_tp.
    kind = "raw_tp" if name == "link" or ctx["image"].get("shipped_btf") else "tp_btf"
    yield (f"{name}: -v says {kind}", f"tracing: {kind} block_rq_complete" in err,
           "\n".join(line for line in err.splitlines() if "tracing:" in line) or err[-600:])
    for rw, pid in expectations(vdir):
        pid = int(pid)
        mine = [r for r in rows if r.get("pid") == pid]
        if rw == "untraced":
            yield (f"{name}: -p leaves the other dd out", not mine, json.dumps(mine)[:400])
            continue
        got = (sum(r.get("io", 0) for r in mine), sum(r.get("bytes", 0) for r in mine))
        ok = got == (8, 8 * 4096) and all(
            r.get("rw") == rw and r.get("comm") == "dd" and r.get("disk") == "nullb0"
            and r.get("total_ns", 0) > 0 for r in mine)
        yield (f"{name}: the {rw} dd's requests and bytes exact, on nullb0", ok,
               f"expected (io, bytes) = (8, 32768), got {got}: {json.dumps(mine)[:600]}")
    if name == "link":
        traced = {int(p) for rw, p in expectations(vdir) if rw != "untraced"}
        yield ("link: -p: no row of anyone else", all(r.get("pid") in traced for r in rows),
               json.dumps([r for r in rows if r.get("pid") not in traced][:3])[:600])


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
