#!/usr/bin/env python3
"""Copies kernel modules and everything they depend on out of an unpacked kernel package.

    ci/vm/modules.py MODDIR DEST NAME...

MODDIR is lib/modules/<release> of the package (with the modules.dep that depmod made);
each module NAME (dashes and underscores alike; NAME? when the kernel may have it built in)
and its dependencies are copied to
DEST/<path in MODDIR>, .ko.xz and .ko.zst decompressed, and their paths are printed in load
order (dependencies first), one per line: what an init that runs insmod on each line needs.
"""

import lzma
import os
import subprocess
import sys


def load_order(depfile, names):
    deps = {}
    with open(depfile) as f:
        for line in f:
            mod, _, rest = line.partition(":")
            deps[mod] = rest.split()
    by_name = {}
    for mod in deps:
        base = mod.rsplit("/", 1)[-1].split(".ko")[0]
        by_name[base.replace("-", "_")] = mod
    order = []

    def add(mod):
        # modules.dep lists a module's dependencies so that loading them from the last on works.
        for d in reversed(deps.get(mod, [])):
            add(d)
        if mod not in order:
            order.append(mod)

    for name in names:
        optional = name.endswith("?")
        name = name.rstrip("?")
        mod = by_name.get(name.replace("-", "_"))
        if mod is None:
            if optional:
                continue
            sys.exit(f"module {name} is not in {depfile}")
        add(mod)
    return order


def copy(src, dst):
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    if src.endswith(".xz"):
        with lzma.open(src) as f, open(dst, "wb") as out:
            out.write(f.read())
    elif src.endswith(".zst"):
        with open(dst, "wb") as out:
            subprocess.run(["zstd", "-qdc", src], stdout=out, check=True)
    else:
        with open(src, "rb") as f, open(dst, "wb") as out:
            out.write(f.read())


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__.strip().split("\n\n")[0] + "\nusage: modules.py MODDIR DEST NAME...")
    moddir, dest, names = sys.argv[1], sys.argv[2], sys.argv[3:]
    depfile = os.path.join(moddir, "modules.dep")
    if not os.path.isfile(depfile):
        sys.exit(f"no {depfile} (ci/vm/fetch-kernels makes it)")
    for mod in load_order(depfile, names):
        plain = mod.removesuffix(".xz").removesuffix(".zst")
        copy(os.path.join(moddir, mod), os.path.join(dest, plain))
        print(plain)


if __name__ == "__main__":
    main()
