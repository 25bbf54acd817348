"""Host side of the bashreadline case (guest side: bashreadline.sh beside this file).

The emulated board's image is busybox only, without bash: the tool must say so, with the
fix, and exit 3 (the kernel has the uprobes it needs; the board lacks the program).
"""

import os

from casekit import read, tail


def check(case_dir, ctx):
    vdir = os.path.join(case_dir, "main")
    if not os.path.isdir(vdir):
        yield ("main: ran", False, f"no {vdir}")
        return
    if os.path.exists(os.path.join(vdir, "expect.txt")):
        yield ("main: the image has no bash (this case checks the refusal)", False,
               "bash is in the image: write a case with a pty")
        return
    rc = read(os.path.join(vdir, "rc.txt")).decode().strip()
    err = read(os.path.join(vdir, "err.txt"))
    text = err.decode("utf-8", "replace")
    yield ("main: no bash: exit 3, the reason and the fix",
           rc == "3" and "no /bin/bash" in text and "-s" in text, f"exit {rc}\n{tail(err)}")
    yield ("main: nothing on stdout", read(os.path.join(vdir, "out.jsonl")) == b"", "")
