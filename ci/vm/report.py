#!/usr/bin/env python3
"""Prints the report of one emulated-board run: JSON first, then a one-screen summary.

    ci/vm/report.py WORK_DIR

WORK_DIR is what ci/vm-test or ci/demo left for one board: run.json (timings),
check.json (the host's checks) and results/ (what the board brought back). The JSON is the
agent's own `verify --json` report when the board ran it, with the run's facts around it.
Exits 0 only if the board booted and every check passed.
"""

import json
import os
import sys
import textwrap


def load(path, default=None):
    try:
        with open(path, "rb") as f:
            return json.loads(f.read().decode("utf-8"))
    except (OSError, ValueError):
        return default


def text(path, default=""):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return default


def keyvals(s):
    return dict(line.split("=", 1) for line in s.splitlines() if "=" in line)


def events(path):
    out = []
    for line in text(path).splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            pass
    return out


def main():
    work = sys.argv[1]
    res = os.path.join(work, "results")
    run = load(os.path.join(work, "run.json"), {})
    checks = load(os.path.join(work, "check.json"), [])
    env = keyvals(text(os.path.join(res, "env.txt")))
    image = keyvals(text(os.path.join(res, "image.txt")))
    listing = load(os.path.join(res, "list.out"))
    verify = load(os.path.join(res, "verify.json"))
    passed = sum(c["ok"] for c in checks)
    failed = len(checks) - passed
    ok = bool(checks) and failed == 0 and "error" not in run

    snoop = events(os.path.join(res, "cases", "execsnoop", "main", "out.jsonl"))
    def from_test(e):
        args = e.get("args") or [""]
        return (args[0].startswith(("/usr/share/ebpf-vm/vm-marker", "/nonexistent/vm-missing-"))
                and e.get("pid") is not None)
    markers = [e for e in snoop if from_test(e)]
    report = {
        "ok": ok,
        "board": {"machine": "qemu virt (TCG)", "arch": env.get("machine"), "cpus": env.get("cpus"),
                  "kernel": env.get("kernel"), "btf": env.get("btf"),
                  "kprobes": env.get("kprobes")},
        "boot_s": run.get("boot_s"),
        "suite_s": round(run["plan_end_s"] - run["plan_start_s"], 1)
        if "plan_end_s" in run else None,
        "agent": {"bytes": int(image["agent_bytes"]) if image.get("agent_bytes") else None,
                  "sha256": image.get("agent_sha256")},
        **({"verify": verify} if verify is not None else {}),
        "list": listing,
        "execsnoop": {"events": len(snoop), "test_events": markers},
        "checks": {"passed": passed, "failed": failed,
                   "failures": [c["name"] for c in checks if not c["ok"]]},
    }
    if "error" in run:
        report["error"] = run["error"]
    print(json.dumps(report, indent=2))

    if not env:
        print("\n".join(["", "=" * 72, " Emulated board: no results came back", "=" * 72,
                         f" kernel    {run.get('kernel', '?')}",
                         f" error     {run.get('error', 'unknown (see the console log)')}",
                         " RESULT    FAIL", "=" * 72]))
        return 1
    agent_bytes = report["agent"]["bytes"]
    tools = listing.get("tools", []) if isinstance(listing, dict) else []
    lines = [
        "",
        "=" * 72,
        f" Emulated board: qemu virt, {env.get('cpus', '?')} x {env.get('machine', '?')}"
        f"{' (Cortex-A53)' if env.get('machine') == 'aarch64' else ''}, software emulation",
        "=" * 72,
        f" kernel    {env.get('kernel', '?')}   BTF {env.get('btf', '?')}   "
        f"kprobes {env.get('kprobes', '?')}",
        f" boot      {run.get('boot_s', '?')} s to /init; test suite {report['suite_s']} s",
        f" agent     /usr/sbin/ebpf-agent, "
        f"{agent_bytes / 1024 / 1024:.2f} MiB static" if agent_bytes else " agent     none",
    ]
    lines += textwrap.wrap(", ".join(
        f"{t.get('name')}{'' if t.get('runnable') else ' (cannot run: ' + '; '.join(t.get('missing', [])) + ')'}"
        for t in tools) or "-", 72, initial_indent=" tools     ", subsequent_indent=" " * 11)
    if isinstance(verify, dict):
        v = verify.get("passed")
        feats = [f for f in verify.get("features", []) if isinstance(f, dict)]
        lines.append(f" verify    {'PASSED' if v else 'FAILED' if v is False else 'ran'}"
                     f" in {verify.get('duration_ms', '?')} ms (first-boot script,"
                     " /var/lib/ebpf-agent/verify.json)")
        absent = [f"{f.get('name')}{'' if not f.get('required') else ' (REQUIRED)'}"
                  for f in feats if not f.get("ok")]
        lines += textwrap.wrap(f"{len(feats)} kernel features checked; absent: "
                               f"{', '.join(absent) or 'none'}", 72,
                               initial_indent="   ", subsequent_indent="     ")
        lines += textwrap.wrap("self-tests: " + ", ".join(
            f"{t.get('name')} {t.get('status')}" for t in verify.get("tools", [])), 72,
            initial_indent="   ", subsequent_indent="     ")
    if snoop:
        lines.append(f" execsnoop {len(snoop)} events, {len(markers)} from the test's own execs:")
        lines.append(f"   {'COMM':<10} {'PID':>5} {'PPID':>5} {'RET':>3} ARGS")
        for e in markers[:5]:
            args = " ".join(a.replace("\n", "\\n").replace("\t", "\\t")
                            for a in e.get("args", []))
            args = args.replace("/usr/share/ebpf-vm/", "")
            lines.append(f"   {e.get('comm', '?'):<10} {e.get('pid'):>5} {e.get('ppid'):>5}"
                         f" {e.get('ret'):>3} {args[:46]}")
    per_tool = {}
    for c in checks:
        head = c["name"].split(":", 1)[0]
        if any(head == t.get("name") for t in tools):
            ok_n, all_n = per_tool.get(head, (0, 0))
            per_tool[head] = (ok_n + c["ok"], all_n + 1)
    if per_tool:
        lines += textwrap.wrap(", ".join(f"{t} {o}/{n}" for t, (o, n) in per_tool.items()),
                               72, initial_indent=" cases     ", subsequent_indent=" " * 11)
    lines.append(f" checks    {passed} passed, {failed} failed")
    for c in checks:
        if not c["ok"]:
            lines.append(f"   FAIL {c['name']}")
    if "error" in run:
        lines.append(f" error     {run['error']}")
    lines.append(f" RESULT    {'PASS' if ok else 'FAIL'}")
    lines.append("=" * 72)
    print("\n".join(lines))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
