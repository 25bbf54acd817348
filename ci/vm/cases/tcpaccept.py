"""Host side of the tcpaccept case (guest side: tcpaccept.sh beside this file).

expect.txt in each variant: the vm-tcp exchanges (casekit.tcp_expectations). "kprobe" forced
the kretprobe, "link" ran the /usr/sbin/tcpaccept link with --hook tracepoint and -6. Both
paths must give the same lines. "idle" forced the kretprobe with more listeners blocked in
accept() than the kernel has kretprobe instances ("idle <listeners> <listening>" in its
expect.txt): every accept is reported or, from 6.7, counted as lost.
"""

import json
import os

from casekit import (common, expectations, kernel_at_least, lost_total, read, tcp_expectations,
                     tcp_workload_ran)

TYPES = {"ts": str, "time_ns": int, "pid": int, "tid": int, "uid": int, "comm": str,
         "family": str, "laddr": str, "lport": int, "raddr": str, "rport": int}
HOOK_LINE = {"kprobe": "tracing: kretprobe inet_csk_accept",
             "tracepoint": "tracing: syscall exit tracepoints of accept"}


def check(case_dir, ctx):
    for name, hook in (("kprobe", "kprobe"), ("link", "tracepoint")):
        vdir = os.path.join(case_dir, name)
        if not os.path.isdir(vdir):
            yield (f"{name}: ran", False, f"no {vdir}")
            continue
        events = yield from common(vdir, name, "accept", TYPES, "docs/tools/tcpaccept.md")
        err = read(os.path.join(vdir, "err.txt")).decode("utf-8", "replace")
        yield (f"{name}: -v says the {hook} path was picked", HOOK_LINE[hook] in err,
               "\n".join(line for line in err.splitlines() if "tracing:" in line) or err[-600:])
        conns, refused = tcp_expectations(vdir)
        yield from tcp_workload_ran(name, ctx, conns, refused)
        if name == "link":
            conns = [c for c in conns if c["family"] == "ipv6"]
        for c in conns:
            mine = [e for e in events if e.get("pid") == c["server"]]
            ok = (len(mine) == 1 and mine[0].get("lport") == c["port"]
                  and mine[0].get("laddr") == c["addr"] and mine[0].get("raddr") == c["addr"]
                  and mine[0].get("family") == c["family"] and mine[0].get("comm") == "nc"
                  and mine[0].get("tid") == c["server"] and mine[0].get("rport", 0) > 0)
            yield (f"{name}: nc {c['server']} accepted on {c['addr']} {c['port']}, once", ok,
                   json.dumps(mine)[:600])
        yield (f"{name}: nothing else ({len(conns)} accepts)", len(events) == len(conns),
               json.dumps(events)[:900])
    yield from check_idle(os.path.join(case_dir, "idle"), ctx)


def check_idle(vdir, ctx):
    if not os.path.isdir(vdir):
        yield ("idle: ran", False, f"no {vdir}")
        return
    events = yield from common(vdir, "idle", "accept", TYPES, "docs/tools/tcpaccept.md",
                               lost_ok=True)
    idle = [w for w in expectations(vdir) if w[0] == "idle"]
    yield ("idle: the idle listeners waited in accept()",
           bool(idle) and idle[0][1] == idle[0][2], f"{idle}")
    conns, _ = tcp_expectations(vdir)
    want = 2 if ctx["env"].get("ipv6_lo") == "yes" else 1
    yield (f"idle: the exchanges ran ({want})", len(conns) == want, f"{conns}")
    seen = [e for e in events if any(e.get("pid") == c["server"] for c in conns)]
    lost = lost_total(vdir)
    err = read(os.path.join(vdir, "err.txt")).decode("utf-8", "replace")
    if kernel_at_least(ctx, (6, 7)):
        # The kernel counts the hits it drops: none of the accepts goes unaccounted for.
        yield (f"idle: each accept reported or counted as lost ({len(seen)} + {lost} lost, "
               f"{len(conns)} accepts)",
               len(seen) + lost >= len(conns) and (lost == 0 or "dropped by the kernel" in err),
               f"{json.dumps(events)[:600]}\n{err[-600:]}")
    else:
        # Before 6.7 the kernel drops them without a count (docs/tools/tcpaccept.md): what is
        # reported is still right, and nothing is claimed lost.
        yield (f"idle: no count before 6.7 ({len(seen)} of {len(conns)} seen, {lost} lost)",
               lost == 0 and len(seen) <= len(conns), json.dumps(events)[:600])
