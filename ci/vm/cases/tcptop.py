"""Host side of the tcptop case (guest side: tcptop.sh beside this file).

expect.txt in each variant: the vm-tcp exchanges (casekit.tcp_expectations): each nc has one
connection; the client sent 1000 bytes and received 2000, the server the other way round.
"link" ran the link with its own pick: the tracepoints where the kernel has them (6.3 on),
else kprobes; "kprobe" forced the kprobes where the link had the tracepoints, "tracepoint"
forced the tracepoints where the kernel lacks them: that run must refuse to start.
"""

import json
import os

from casekit import common, read, tcp_expectations, tcp_workload_ran, unsupported_run

TYPES = {"ts": str, "time_ns": int, "interval_ns": int, "rows": list, "total_rows": int}
ROW = {"pid": int, "comm": str, "family": str, "laddr": str, "lport": int, "raddr": str,
       "rport": int, "rx_bytes": int, "tx_bytes": int}
HOOK_LINE = {"kprobe": "tracing: kprobes on tcp_sendmsg (entry and return) and tcp_cleanup_rbuf",
             "tracepoint": "tracing: tracepoint sock:sock_send_length, tracepoint sock:sock_recv_length"}


def check(case_dir, ctx):
    has_tp = ctx["env"].get("sock_send_length") == "yes"
    # The link picks the tracepoints where the kernel has them; the other path ran forced.
    for name in ("kprobe", "link") if has_tp else ("tracepoint", "link"):
        vdir = os.path.join(case_dir, name)
        if not os.path.isdir(vdir):
            yield (f"{name}: ran", False, f"no {vdir}")
            continue
        if name == "tracepoint" and not has_tp:
            yield from unsupported_run(vdir, name, ["sock:sock_send_length", "Linux 6.3"])
            continue
        intervals = yield from common(vdir, name, "interval", TYPES, "docs/tools/tcptop.md")
        err = read(os.path.join(vdir, "err.txt")).decode("utf-8", "replace")
        hook = name if name in HOOK_LINE else ("tracepoint" if has_tp else "kprobe")
        yield (f"{name}: -v says the {hook} path was picked", HOOK_LINE[hook] in err,
               "\n".join(line for line in err.splitlines() if "tracing:" in line) or err[-600:])
        rows = [r for iv in intervals for r in iv.get("rows", [])]
        bad = [r for r in rows for k, t in ROW.items()
               if not isinstance(r.get(k), t) or isinstance(r.get(k), bool)]
        yield (f"{name}: every row fits the schema", not bad, json.dumps(bad[:3])[:600])
        conns, refused = tcp_expectations(vdir)
        yield from tcp_workload_ran(name, ctx, conns, [None] * len(conns))
        for c in conns:
            for pid, rx, tx, lport, rport in ((c["client"], 2000, 1000, None, c["port"]),
                                              (c["server"], 1000, 2000, c["port"], None)):
                mine = [r for r in rows if r.get("pid") == pid]
                got = (sum(r.get("rx_bytes", 0) for r in mine),
                       sum(r.get("tx_bytes", 0) for r in mine))
                ok = (got == (rx, tx) and bool(mine)
                      and all(r.get("comm") == "nc" and r.get("family") == c["family"]
                              and r.get("laddr") == c["addr"] and r.get("raddr") == c["addr"]
                              and (lport is None or r.get("lport") == lport)
                              and (rport is None or r.get("rport") == rport) for r in mine))
                yield (f"{name}: nc {pid} ({c['family']}): {rx} bytes in, {tx} out", ok,
                       f"got (rx, tx) = {got}: {json.dumps(mine)[:600]}")
