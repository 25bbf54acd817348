"""Host side of the tcpconnect case (guest side: tcpconnect.sh beside this file).

expect.txt in each variant: the vm-tcp exchanges (casekit.tcp_expectations). "main" traced
everything, "link" ran the /usr/sbin/tcpconnect link with -4 -P <IPv4 port>,<IPv6 port>.
"""

import json
import os

from casekit import common, tcp_expectations, tcp_workload_ran

TYPES = {"ts": str, "time_ns": int, "pid": int, "tid": int, "uid": int, "comm": str,
         "family": str, "laddr": str, "lport": int, "raddr": str, "rport": int, "result": str}


def check(case_dir, ctx):
    for name in ("main", "link"):
        vdir = os.path.join(case_dir, name)
        if not os.path.isdir(vdir):
            yield (f"{name}: ran", False, f"no {vdir}")
            continue
        events = yield from common(vdir, name, "connect", TYPES, "docs/tools/tcpconnect.md")
        conns, refused = tcp_expectations(vdir)
        yield from tcp_workload_ran(name, ctx, conns, refused)
        want = [(c["client"], c["family"], c["addr"], c["port"], "established") for c in conns]
        want += [(r["pid"], r["family"], r["addr"], r["port"], "ECONNREFUSED") for r in refused]
        if name == "link":
            want = [w for w in want if w[1] == "ipv4" and w[4] == "established"]
        for pid, family, addr, port, result in want:
            mine = [e for e in events if e.get("pid") == pid and e.get("rport") == port]
            ok = (len(mine) == 1 and mine[0].get("family") == family
                  and mine[0].get("raddr") == addr and mine[0].get("laddr") == addr
                  and mine[0].get("result") == result and mine[0].get("comm") == "nc"
                  and mine[0].get("uid") == 0 and mine[0].get("lport", 0) > 0)
            yield (f"{name}: nc {pid}'s connect to {addr} {port} once, {result}", ok,
                   json.dumps(mine)[:600])
        yield (f"{name}: nothing else ({len(want)} connects)", len(events) == len(want),
               json.dumps(events)[:900])
