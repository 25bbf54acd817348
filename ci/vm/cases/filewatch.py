"""Host side of the filewatch case (guest side: filewatch.sh beside this file).

Both variants watch "<dir>/secret-<tag>" (exact), "<dir>/watched.d/" (a directory) and
"<dir>/glob-*" (a prefix); "main" got them as arguments, "list" from a watch-list file (-f).
expect.txt: "files <tag> <pid> <ppid> <dir>" (vm-files in "watch" mode, see
ci/vm/guest/vm-files), "rm <pid> <ppid>" (rm of <dir>/watched.d/doomed), "mv <pid> <ppid>"
(mv of <dir>/secret-<tag> to <dir>/moved-<tag>).
"""

import json
import os

from casekit import common, expectations

TYPES = {"ts": str, "time_ns": int, "pid": int, "tid": int, "ppid": int, "uid": int,
         "comm": str, "op": str, "syscall": str, "path": str, "watch": str, "matched_by": str,
         "flags": int, "flags_text": str, "ret": int, "path_incomplete": bool}


def _variant(vdir, name):
    alerts = yield from common(vdir, name, "alert", TYPES, "docs/tools/filewatch.md")
    exp = {e[0]: e[1:] for e in expectations(vdir)}
    if set(exp) != {"files", "rm", "mv"}:
        yield (f"{name}: the workload ran", False, f"expect.txt: {exp}")
        return
    tag, fpid, fppid, *dparts = exp["files"]
    d = " ".join(dparts)
    secret, wdir, glob = f"{d}/secret-{tag}", f"{d}/watched.d/", f"{d}/glob-*"

    def one(label, pid, ppid, path, test):
        hits = [a for a in alerts if a.get("pid") == int(pid) and a.get("path") == path]
        ok = (len(hits) == 1 and hits[0]["ppid"] == int(ppid) and hits[0]["uid"] == 0
              and hits[0]["tid"] == int(pid) and not hits[0]["path_incomplete"]
              and test(hits[0]))
        return (f"{name}: {label}", ok, f"{path!r}: {json.dumps(hits)[:700]}")

    def opened(watch, ok_ret):
        return lambda a: (a["op"] == "open" and a["syscall"] in ("open", "openat")
                          and a["watch"] == watch and a["comm"] == "vm-files"
                          and a["matched_by"] in ("file", "name") and ok_ret(a["ret"]))

    yield one("open of the exact path, matched by the file or its name", fpid, fppid, secret,
              lambda a: opened(secret, lambda r: r >= 0)(a)
              and a["flags_text"].split("|")[0] == "O_RDONLY")
    yield one("creating open under the glob", fpid, fppid, f"{d}/glob-{tag}",
              lambda a: opened(glob, lambda r: r >= 0)(a) and "O_CREAT" in a["flags_text"])
    yield one("failed open in the watched directory: ret -2", fpid, fppid,
              f"{d}/watched.d/missing-{tag}", opened(wdir, lambda r: r == -2))
    other = [a for a in alerts if a.get("path") == f"{d}/other-{tag}"]
    yield (f"{name}: no alert for a file nothing watches", not other, json.dumps(other)[:600])
    yield one("unlink in the watched directory", *exp["rm"], f"{d}/watched.d/doomed",
              lambda a: a["op"] == "unlink" and a["watch"] == wdir and a["ret"] == 0
              and a["syscall"] in ("unlink", "unlinkat"))
    yield one("rename of the exact path, with its new name", *exp["mv"], secret,
              lambda a: a["op"] == "rename" and a["watch"] == secret and a["ret"] == 0
              and a.get("renamed_to") == f"{d}/moved-{tag}"
              and a["syscall"] in ("rename", "renameat", "renameat2"))


def check(case_dir, ctx):
    for name in ("main", "list"):
        vdir = os.path.join(case_dir, name)
        if not os.path.isdir(vdir):
            yield (f"{name}: ran", False, f"no {vdir}")
            continue
        yield from _variant(vdir, name)
