"""Host side of the opensnoop case (guest side: opensnoop.sh beside this file).

expect.txt in each variant directory: "<tag> <pid> <ppid> <directory>" for one run of
vm-files in "open" mode (see ci/vm/guest/vm-files). Variant "main" traced every open,
"failed" ran with -x -F: failed opens only, relative names made absolute.
"""

import json
import os

from casekit import common, expectations

TYPES = {"ts": str, "time_ns": int, "pid": int, "tid": int, "uid": int, "comm": str,
         "syscall": str, "dfd": int, "flags": int, "flags_text": str, "mode": int, "ret": int,
         "fd": int, "err": int, "path": str, "path_full": bool, "path_incomplete": bool,
         "path_read_error": bool}


def _variant(vdir, name, failed_only):
    events = yield from common(vdir, name, "open", TYPES, "docs/tools/opensnoop.md")
    exp = expectations(vdir)
    if not exp:
        yield (f"{name}: the workload ran", False, "no expect.txt")
        return
    tag, pid, _, *dparts = exp[0]
    pid, d = int(pid), " ".join(dparts)
    mine = [ev for ev in events if ev.get("pid") == pid]

    def one(label, path, test):
        hits = [ev for ev in mine if ev.get("path") == path]
        ok = (len(hits) == 1 and test(hits[0]) and hits[0]["tid"] == pid
              and hits[0]["uid"] == 0 and hits[0]["comm"] == "vm-files"
              and hits[0]["dfd"] == -100 and hits[0]["syscall"] in ("open", "openat"))
        return (f"{name}: {label}", ok, f"{path!r}: {json.dumps(hits)[:700]}")

    def failed(ev):
        return ev["ret"] == -2 and ev["fd"] == -1 and ev["err"] == 2

    if not failed_only:
        yield one("open of an existing file: fd, O_RDONLY", f"{d}/present file",
                  lambda ev: ev["ret"] >= 0 and ev["fd"] == ev["ret"] and ev["err"] == 0
                  and ev["flags_text"].split("|")[0] == "O_RDONLY")
        yield one("creating open: O_WRONLY|O_CREAT|O_TRUNC, mode 0666", f"{d}/created-{tag}",
                  lambda ev: ev["ret"] >= 0 and ev["mode"] == 0o666 and
                  {"O_WRONLY", "O_CREAT", "O_TRUNC"} <= set(ev["flags_text"].split("|")))
        yield one("missing absolute name: ret -2", f"/nonexistent/{tag}", failed)
        yield one("missing relative name, as given", f"rel-missing-{tag}",
                  lambda ev: failed(ev) and ev["path_full"] is False)
    else:
        ok = [ev for ev in mine if ev.get("ret", -1) >= 0]
        yield (f"{name}: -x hides the successful opens", not ok, json.dumps(ok)[:600])
        yield one("missing absolute name: ret -2", f"/nonexistent/{tag}",
                  lambda ev: failed(ev) and ev["path_full"] is False)
        yield one("-F: missing relative name made absolute", f"{d}/rel-missing-{tag}",
                  lambda ev: failed(ev) and ev["path_full"] is True)


def check(case_dir, ctx):
    for name, failed_only in (("main", False), ("failed", True)):
        vdir = os.path.join(case_dir, name)
        if not os.path.isdir(vdir):
            yield (f"{name}: ran", False, f"no {vdir}")
            continue
        yield from _variant(vdir, name, failed_only)
