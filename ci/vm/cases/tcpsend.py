"""Host side of the tcpsend case (guest side: tcpsend.sh beside this file).

expect.txt in each variant: the vm-tcp exchanges (casekit.tcp_expectations): the client nc
sent 1000 bytes, the server nc 2000, each on its one connection (in as many sends as nc made:
their bytes add up). "link" ran the link with its own pick: the tracepoint where the kernel
has it (6.3 on), else kprobes; "kprobe" forced the kprobes where the link had the tracepoint,
"tracepoint" forced the tracepoint where the kernel lacks it: that run must refuse to start.
"""

import json
import os

from casekit import common, read, tcp_expectations, tcp_workload_ran, unsupported_run

TYPES = {"ts": str, "time_ns": int, "pid": int, "tid": int, "comm": str, "family": str,
         "laddr": str, "lport": int, "raddr": str, "rport": int, "bytes": int}
HOOK_LINE = {"kprobe": "tracing: kprobe and kretprobe on tcp_sendmsg",
             "tracepoint": "tracing: tracepoint sock:sock_send_length"}


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
        events = yield from common(vdir, name, "send", TYPES, "docs/tools/tcpsend.md")
        err = read(os.path.join(vdir, "err.txt")).decode("utf-8", "replace")
        hook = name if name in HOOK_LINE else ("tracepoint" if has_tp else "kprobe")
        yield (f"{name}: -v says the {hook} path was picked", HOOK_LINE[hook] in err,
               "\n".join(line for line in err.splitlines() if "tracing:" in line) or err[-600:])
        conns, _ = tcp_expectations(vdir)
        yield from tcp_workload_ran(name, ctx, conns, [None] * len(conns))
        for c in conns:
            for pid, nbytes, lport, rport in ((c["client"], 1000, None, c["port"]),
                                              (c["server"], 2000, c["port"], None)):
                mine = [e for e in events if e.get("pid") == pid]
                ok = (sum(e.get("bytes", 0) for e in mine) == nbytes and bool(mine)
                      and all(e.get("comm") == "nc" and e.get("family") == c["family"]
                              and e.get("laddr") == c["addr"] and e.get("raddr") == c["addr"]
                              and (lport is None or e.get("lport") == lport)
                              and (rport is None or e.get("rport") == rport) for e in mine))
                yield (f"{name}: nc {pid} ({c['family']}) sent {nbytes} bytes", ok,
                       json.dumps(mine)[:600])
        pids = {p for c in conns for p in (c["client"], c["server"])}
        others = [e for e in events if e.get("pid") not in pids]
        yield (f"{name}: no other sends", not others, json.dumps(others)[:600])
