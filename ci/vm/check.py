#!/usr/bin/env python3
"""Judges what one emulated board brought back (the results directory of run-vm).

    ci/vm/check.py --arch ARCH [--series 6.1] [--allow-no-agent] RESULTS_DIR

Checks the environment (the kernel and machine the plan ran on), `ebpf-agent --help`,
`ebpf-agent list --json` (valid JSON, the same tools as the image's links, each runnable),
`ebpf-agent verify --json` through the first-boot script when the binary has it, and then
each tool's case: ci/vm/cases/<tool>.py, whose check(case_dir, ctx) yields (name, ok, detail).
Prints one line per check and writes RESULTS_DIR/../check.json; exits 1 if any check failed.
"""

import argparse
import importlib.util
import json
import os
import sys

# Tools that trace a program the busybox image does not have: not runnable there, skipped by
# verify, and their case checks the refusal instead.
BOARD_LACKS = {"bashreadline": "/bin/bash"}

HERE = os.path.dirname(os.path.abspath(__file__))
# Optional features of `verify` that Debian's kernels have (with their config in /boot);
# fentry too where the config has ftrace direct calls (Debian's arm64 6.1 has none, and its
# fentry attach fails with ENOTSUPP: measured here).
DEBIAN_HAS = {"kernel_config", "kprobes", "jit", "CONFIG_KPROBES", "CONFIG_KPROBE_EVENTS",
              "CONFIG_BPF_JIT", "CONFIG_DEBUG_INFO_BTF"}
# What `uname -m` and the agent (Rust's std::env::consts::ARCH) call each board's architecture.
MACHINE = {"armv7": "armv7l"}
AGENT_ARCH = {"armv7": "arm"}


def read(path, default=None):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return default


def keyvals(text):
    out = {}
    for line in (text or "").splitlines():
        k, sep, v = line.partition("=")
        if sep:
            out[k.strip()] = v.strip()
    return out


def tail(text, n=12):
    lines = (text or "").rstrip("\n").splitlines()
    return "\n".join("      | " + line for line in lines[-n:])


def overran(prefix):
    """What the plan saw of a step that overran its limit (PREFIX.hung.txt), or ""."""
    hung = read(prefix + ".hung.txt")
    if hung is None:
        return ""
    return f" (overran; the board then:)\n{tail(hung, 40)}"


def load_case(tool):
    path = os.path.join(HERE, "cases", f"{tool}.py")
    if not os.path.exists(path):
        return None
    spec = importlib.util.spec_from_file_location(f"vmcase_{tool}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def checks(res, args):
    env = keyvals(read(os.path.join(res, "env.txt")))
    image = keyvals(read(os.path.join(res, "image.txt")))
    ctx = {"arch": args.arch, "series": args.series, "env": env, "image": image}

    machine = MACHINE.get(args.arch, args.arch)
    yield ("env: machine", env.get("machine") == machine,
           f"uname -m = {env.get('machine')}, expected {machine}")
    if args.series:
        rel = env.get("kernel", "")
        yield ("env: kernel series", rel.startswith(args.series + ".") or
               rel.startswith(args.series + "-"), f"uname -r = {rel}, series {args.series}")
    # A kernel built without BTF (Debian's armhf) runs on the BTF its image ships.
    shipped = bool(image.get("shipped_btf"))
    needs = ["shipped_btf" if shipped else "btf", "bpffs", "syscall_tracepoints"]
    if args.series:
        # Debian's kernels have kprobes and null_blk: the kprobe and block paths need them.
        needs += ["kprobes", "kprobe_fires", "null_blk"]
    for need in needs:
        yield (f"env: {need}", env.get(need) == "yes", f"{need}={env.get(need)}")
    if shipped:
        yield ("env: the kernel has no BTF of its own (the shipped BTF is what is tested)",
               env.get("btf") == "no", f"btf={env.get('btf')}")

    if image.get("agent_sha256", "none") == "none":
        yield ("agent in image", args.allow_no_agent, "the image was built without an agent")
        return
    tools = image.get("tools", "").split()

    rc = read(os.path.join(res, "help.rc"), "").strip()
    help_text = read(os.path.join(res, "help.out"), "") + read(os.path.join(res, "help.err"), "")
    yield ("ebpf-agent --help", rc == "0", f"exit {rc}\n{tail(help_text)}")

    rc = read(os.path.join(res, "list.rc"), "").strip()
    out = read(os.path.join(res, "list.out"), "")
    err = read(os.path.join(res, "list.err"), "")
    try:
        listing = json.loads(out)
        ok, detail = True, ""
    except ValueError as e:
        listing, ok, detail = None, False, f"not JSON: {e}\n{tail(out)}"
    yield ("list --json: exit 0, valid JSON", rc == "0" and ok, f"exit {rc}; {detail}{tail(err)}")
    if isinstance(listing, dict):
        listed = {t.get("name"): t for t in listing.get("tools", []) if isinstance(t, dict)}
        yield ("list --json: tools = image links", sorted(listed) == sorted(tools),
               f"listed {sorted(listed)}, links {sorted(tools)}")
        agent_arch = AGENT_ARCH.get(args.arch, args.arch)
        yield ("list --json: kernel and arch", listing.get("kernel") == env.get("kernel") and
               listing.get("arch") == agent_arch,
               f"kernel {listing.get('kernel')!r} arch {listing.get('arch')!r}")
        btf = listing.get("btf") or {}
        want = "shipped" if shipped else "kernel"
        yield (f"list --json: BTF from the {want}", btf.get("source") == want and
               (not shipped or (btf.get("types") or 0) > 0 and
                set(btf.get("rules_out", [])) == {"tp_btf", "fentry"}),
               json.dumps(btf))
        for name, t in sorted(listed.items()):
            if name in BOARD_LACKS:
                why = " ".join(t.get("missing") or [])
                yield (f"list --json: {name} not runnable: no {BOARD_LACKS[name]} on the board",
                       t.get("runnable") is False and BOARD_LACKS[name] in why, f"missing: {why}")
                continue
            yield (f"list --json: {name} runnable", t.get("runnable") is True,
                   f"missing: {t.get('missing')}")

    if os.path.exists(os.path.join(res, "verify-init.rc")):
        init_out = read(os.path.join(res, "verify-init.out"), "")
        rc = read(os.path.join(res, "verify.rc"), "").strip()
        report = read(os.path.join(res, "verify.json"), "")
        try:
            verdict = json.loads(report)
            ok, detail = True, ""
        except ValueError as e:
            verdict, ok, detail = None, False, f"verify.json is not JSON: {e}\n{tail(report)}"
        yield ("verify (first-boot script): exit 0, valid JSON", rc == "0" and ok,
               f"verify.rc={rc!r}; {detail}{overran(os.path.join(res, 'verify-init'))}\n"
               f"{tail(init_out)}\n"
               f"{tail(read(os.path.join(res, 'verify.log'), ''))}")
        yield ("verify: first-boot stamp written", os.path.exists(os.path.join(res, "verify.done")),
               "no /var/lib/ebpf-agent/verify.done")
        yield ("verify: init script says OK", "OK" in init_out, tail(init_out))
        if isinstance(verdict, dict):
            yield ("verify: report says passed", verdict.get("passed") is True,
                   tail(json.dumps(verdict, indent=1), 30))
            yield ("verify: report is about this kernel and arch",
                   verdict.get("kernel") == env.get("kernel") and
                   verdict.get("arch") == AGENT_ARCH.get(args.arch, args.arch),
                   f"kernel {verdict.get('kernel')!r} arch {verdict.get('arch')!r}")
            vt = {t.get("name"): t for t in verdict.get("tools", []) if isinstance(t, dict)}
            yield ("verify: tested every tool of the image", sorted(vt) == sorted(tools),
                   f"verify tested {sorted(vt)}, the image has {sorted(tools)}")
            for name, t in sorted(vt.items()):
                if name in BOARD_LACKS:
                    yield (f"verify: {name} skipped: no {BOARD_LACKS[name]} on the board",
                           t.get("status") == "skip" and BOARD_LACKS[name] in t.get("reason", ""),
                           f"{t.get('status')}: {t.get('reason')}")
                    continue
                yield (f"verify: {name} passed its self-test", t.get("status") == "pass",
                       f"{t.get('status')}: {t.get('reason')}")
            expected = set(DEBIAN_HAS) if args.series else set()
            if env.get("ftrace_direct_calls") == "yes" and not shipped:
                expected.add("fentry")
            if args.arch == "armv7":
                # Debian's armhf kernel boots with the BPF interpreter (no JIT_ALWAYS_ON), and
                # stays so: with the 6.1 arm32 JIT on, syscount's programs did not load here
                # (ENOTSUPP); see kernel-config/ebpf-arm32.cfg.
                expected.discard("jit")
            if shipped:
                # Built without BTF: `check` says the shipped file relocates the programs,
                # and what the kernel's missing BTF rules out.
                expected.discard("CONFIG_DEBUG_INFO_BTF")
                feats = {f.get("name"): f for f in verdict.get("features", [])
                         if isinstance(f, dict)}
                b, kb = feats.get("btf", {}), feats.get("kernel_btf", {})
                yield ("verify: btf from the shipped file",
                       b.get("ok") is True and str(b.get("detail", "")).startswith(
                           f"no kernel BTF; using shipped BTF for {env.get('kernel')} ("),
                       f"{b.get('detail')}")
                yield ("verify: kernel_btf missing, optional, names what it rules out",
                       kb.get("ok") is False and kb.get("required") is False and
                       "tp_btf" in str(kb.get("detail")), json.dumps(kb))
            for f in verdict.get("features", []):
                if not isinstance(f, dict):
                    continue
                # Required features, and the optional ones Debian's kernels are here to offer
                # (the image has their config in /boot): kprobes, trampolines, the JIT.
                if f.get("required") or f.get("name") in expected:
                    yield (f"verify: kernel feature {f.get('name')}", f.get("ok") is True,
                           f"{f.get('detail')}; fix: {f.get('fix')}")

    # The cases of the tools, and of `ebpf-agent run` where the image has its examples.
    cases = tools + (["run"] if image.get("examples") == "yes" else [])
    for tool in cases:
        case = load_case(tool)
        case_dir = os.path.join(res, "cases", tool)
        if case is None:
            yield (f"{tool}: has a VM case", False, f"add ci/vm/cases/{tool}.sh and {tool}.py")
            continue
        if not os.path.isdir(case_dir):
            yield (f"{tool}: case ran", False, "no results: the image lacks cases/{tool}.sh?")
            continue
        log = read(os.path.join(case_dir, "case.log"), "")
        rc = read(os.path.join(case_dir, "case.rc"), "").strip()
        yield (f"{tool}: case finished", rc == "0",
               f"case exit {rc}{overran(os.path.join(case_dir, 'case'))}\n{tail(log)}")
        try:
            for name, ok, detail in case.check(case_dir, ctx):
                yield (f"{tool}: {name}", ok, detail)
        except Exception as e:  # a crash of a case's checker is a failed check, with its cause
            yield (f"{tool}: checker", False, f"{type(e).__name__}: {e}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--arch", required=True)
    p.add_argument("--series", default="")
    p.add_argument("--label", default="")
    p.add_argument("--allow-no-agent", action="store_true")
    p.add_argument("results")
    args = p.parse_args()
    label = args.label or f"{args.arch} {args.series}".strip()
    if not os.path.isdir(args.results):
        print(f"[vm] {label}: no results directory {args.results}", file=sys.stderr)
        return 1
    done = []
    for name, ok, detail in checks(args.results, args):
        done.append({"name": name, "ok": bool(ok), "detail": detail})
        print(f"  {'ok  ' if ok else 'FAIL'} {label}: {name}")
        if not ok and detail:
            print(f"       {detail}")
    with open(os.path.join(os.path.dirname(os.path.abspath(args.results)), "check.json"), "w") as f:
        json.dump(done, f, indent=2)
        f.write("\n")
    failed = sum(1 for c in done if not c["ok"])
    print(f"[vm] {label}: {len(done) - failed} checks passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
