"""Host side of the `ebpf-agent run` case (guest side: run.sh beside this file).

One variant directory per example, with the agent's --json output and expect.txt: what the
workload did ("exec PATH", "dd PID BYTES RC", "open PATH", "ios N", "tcp PORT BYTES RECEIVED",
"alert PATH"). Each example's output is checked against it: the printk line of the exec, the
syscall counts of the held dd, one record per opened path, a histogram count equal to the I/Os
null_blk completed, the bytes sent to the port (and which alternative this kernel took), the
alerts on the watched path only.
"""

import json
import os

from casekit import expectations, parse_lines, read, tail

# The syscall numbers of read and write.
NUMBERS = {"x86_64": {"read": 0, "write": 1}, "aarch64": {"read": 63, "write": 64},
           "armv7": {"read": 3, "write": 4}}
# Calls besides the copy's own: the fifo read, exec, dd's start and end (as syscount's case).
SLACK = 40
TYPES = ("event", "printk", "interval")


def _common(vdir, name):
    """The checks of every variant; returns its JSON lines."""
    err = read(os.path.join(vdir, "err.txt"))
    attach = read(os.path.join(vdir, "attach.txt")).decode().strip()
    yield (f"{name}: attached (its \"tracing:\" line)", attach.startswith("attached"),
           f"attach: {attach or 'not reached'}\n{tail(err)}")
    stop = read(os.path.join(vdir, "stop.txt")).decode().split()
    yield (f"{name}: SIGINT stops it with exit 0", stop == ["INT", "0"],
           f"stopped by {stop[:1]} with exit {stop[1:]}\n{tail(err)}")
    lines, errors = parse_lines(read(os.path.join(vdir, "out.jsonl")))
    yield (f"{name}: every line valid JSON ({len(lines)} lines)", not errors,
           "\n".join(errors[:5]))
    odd = [ln for ln in lines if ln.get("type") not in TYPES
           or not isinstance(ln.get("ts"), str) or not isinstance(ln.get("time_ns"), int)]
    yield (f"{name}: only event, printk and interval lines, no lost records", not odd,
           "\n".join(json.dumps(x)[:300] for x in odd[:5]))
    return lines


def _maps(lines):
    ivs = [x for x in lines if x.get("type") == "interval"]
    return ivs[-1].get("maps", {}) if ivs else {}


def _hello(lines, exp, ctx):
    path = exp[0][1]
    want = f"Hello, eBPF! exec {path}"
    mine = [x for x in lines if x.get("type") == "printk" and x.get("msg") == want]
    yield (f"hello: the bpf_printk line of the exec of {path}", len(mine) == 1,
           json.dumps([x for x in lines if x.get("type") == "printk"][:5])[:800])


def _syscalls(lines, exp, ctx):
    _, _pid, nbytes, rc = exp[0]
    nbytes = int(nbytes)
    yield ("syscalls: dd exited 0", rc == "0", f"exit {rc}")
    m = _maps(lines).get("syscalls", {})
    counts = {e.get("key"): e.get("value") for e in m.get("entries", [])}
    for call, nr in NUMBERS[ctx["arch"]].items():
        n = counts.get(nr, 0)
        yield (f"syscalls: {call} ({nr}) counted {nbytes}..{nbytes + SLACK} times, for dd's pid only",
               nbytes <= n <= nbytes + SLACK, f"{n}: {json.dumps(m)[:600]}")


def _opens(lines, exp, ctx):
    events = [x for x in lines if x.get("type") == "event"]
    for _, path in exp:
        mine = [x for x in events if x.get("filename") == path]
        ok = len(mine) == 1 and mine[0].get("comm") == "cat" and mine[0].get("ring") == "events"
        yield (f"opens: one record of cat opening {path}", ok, json.dumps(mine)[:600])


def _biolatency(lines, exp, ctx):
    ios = int(exp[0][1])
    maps = _maps(lines)
    h = maps.get("latency_hist_usecs", {}).get("hist", {})
    yield (f"biolatency: the histogram counts the {ios} I/Os null_blk completed",
           ios >= 50 and h.get("count") == ios and h.get("unit") == "usecs", json.dumps(h)[:600])
    yield ("biolatency: every issued request completed", maps.get("start", {}).get("entries") == [],
           json.dumps(maps.get("start"))[:400])


def _tcpsend(lines, exp, ctx, err):
    _, port, nbytes, received = exp[0]
    yield (f"tcpsend: the server received the {nbytes} bytes", received == nbytes,
           f"received {received}")
    mine = [x for x in lines if x.get("type") == "event"
            and x.get("conn", {}).get("dport") == int(port)]
    total = sum(x.get("bytes", 0) for x in mine)
    ok = total == int(nbytes) and all(x["conn"].get("daddr") == [127, 0, 0, 1] for x in mine)
    yield (f"tcpsend: {nbytes} bytes sent to 127.0.0.1:{port}", ok, json.dumps(mine)[:600])
    # The tracepoint came in 6.3; Debian's older kernels have kprobes.
    want = "tcp_send__kprobe on kprobe tcp_sendmsg" if ctx["series"] in ("5.10", "6.1") \
        else "tcp_send__tp on tracepoint sock:sock_send_length"
    if ctx["series"]:
        yield (f"tcpsend: -v says it took {want.split(' on ')[0]}", want in err, tail(err.encode()))


def _shadow(lines, exp, ctx):
    path = exp[0][1]
    alerts = [x for x in lines if x.get("type") == "event"]
    hits = [x for x in alerts if x.get("filename") == path and x.get("ring") == "alerts"]
    others = [x for x in alerts if x.get("filename") != path]
    yield (f"shadow: an alert for {path}, none for any other file", bool(hits) and not others,
           json.dumps(alerts)[:600])


CHECKS = {"hello": _hello, "syscalls": _syscalls, "opens": _opens, "biolatency": _biolatency,
          "tcpsend": _tcpsend, "shadow": _shadow, "shadow-set": _shadow}


def check(case_dir, ctx):
    for name, fn in CHECKS.items():
        vdir = os.path.join(case_dir, name)
        if not os.path.isdir(vdir):
            if name == "biolatency" and ctx["env"].get("null_blk") != "yes" and not ctx["series"]:
                continue
            yield (f"{name}: ran", False, f"no {vdir}")
            continue
        lines = yield from _common(vdir, name)
        exp = expectations(vdir)
        if not exp:
            yield (f"{name}: the workload ran", False, "no expect.txt")
            continue
        if fn is _tcpsend:
            err = read(os.path.join(vdir, "err.txt")).decode("utf-8", "replace")
            yield from fn(lines, exp, ctx, err)
        else:
            yield from fn(lines, exp, ctx)
