"""Host side of the tcplife case (guest side: tcplife.sh beside this file).

expect.txt in each variant: the vm-tcp exchanges (casekit.tcp_expectations): the client nc
sent 1000 bytes and received 2000, the server nc the other way round. "kprobe" found the
accepting process with the kretprobe; "link" ran the /usr/sbin/tcplife link with --hook
tracepoint (the accept syscalls' exits) and -D <IPv4 port>: the IPv4 client's end only.
"""

import json
import os

from casekit import common, read, tcp_expectations, tcp_workload_ran

TYPES = {"ts": str, "time_ns": int, "pid": int, "comm": str, "owner": str, "family": str,
         "laddr": str, "lport": int, "raddr": str, "rport": int, "tx_bytes": int,
         "rx_bytes": int, "span_ns": int}
HOOK_LINE = {"kprobe": "kretprobe inet_csk_accept",
             "tracepoint": "syscall exit tracepoints of accept"}


def check(case_dir, ctx):
    for name, hook in (("kprobe", "kprobe"), ("link", "tracepoint")):
        vdir = os.path.join(case_dir, name)
        if not os.path.isdir(vdir):
            yield (f"{name}: ran", False, f"no {vdir}")
            continue
        events = yield from common(vdir, name, "close", TYPES, "docs/tools/tcplife.md")
        err = read(os.path.join(vdir, "err.txt")).decode("utf-8", "replace")
        yield (f"{name}: -v says the {hook} path was picked", HOOK_LINE[hook] in err,
               "\n".join(line for line in err.splitlines() if "tracing:" in line) or err[-600:])
        conns, refused = tcp_expectations(vdir)
        yield from tcp_workload_ran(name, ctx, conns, refused)
        # (pid, owner, local port or None, remote port or None, tx, rx, family, addr)
        want = []
        for c in conns:
            want.append((c["client"], "connect", None, c["port"], 1000, 2000, c["family"],
                         c["addr"]))
            want.append((c["server"], "accept", c["port"], None, 2000, 1000, c["family"],
                         c["addr"]))
        for r in refused:
            want.append((r["pid"], "connect", None, r["port"], 0, 0, r["family"], r["addr"]))
        if name == "link":
            port = conns[0]["port"] if conns else -1
            want = [w for w in want if w[3] == port and w[1] == "connect" and w[4]]
        for pid, owner, lport, rport, tx, rx, family, addr in want:
            mine = [e for e in events if e.get("pid") == pid
                    and (lport is None or e.get("lport") == lport)
                    and (rport is None or e.get("rport") == rport)]
            ok = (len(mine) == 1 and mine[0].get("owner") == owner
                  and (mine[0].get("tx_bytes"), mine[0].get("rx_bytes")) == (tx, rx)
                  and mine[0].get("family") == family and mine[0].get("laddr") == addr
                  and mine[0].get("raddr") == addr and mine[0].get("comm") == "nc")
            yield (f"{name}: nc {pid}'s end ({owner}, {family}) once, {tx} bytes out, {rx} in",
                   ok, json.dumps(mine)[:600])
        yield (f"{name}: nothing else ({len(want)} ends)", len(events) == len(want),
               json.dumps(events)[:900])
