#!/usr/bin/env python3
"""Check that every symbol a fragment asks for survived into a resolved kernel .config.

Kconfig drops a requested symbol silently when its dependencies are unmet, and meta-ti's
fragment merge or Buildroot only warn (if that). This script compares each fragment line with
the .config that `olddefconfig` produced and, for every symbol that did not keep its value,
names the unmet dependency the way menuconfig's help does (`SYMBOL [=value]`), one or two levels
deep. It reads the kernel's own Kconfig files (following `source` from the top for one SRCARCH)
for the dependency text; values always come from the resolved .config.

Fragment lines understood, beside ordinary `CONFIG_X=v` and `# CONFIG_X is not set`:
  # expect: CONFIG_X=y            the arch/toolchain must give this value (not merged: not ours to set)
  # expect-any: CONFIG_A=y CONFIG_B=y     at least one of them
  # since: 6.5                    (just before a symbol or expect line) only required from that kernel on

Exit status: 0 all kept, 1 something missing, 2 usage or input error.
"""

import argparse
import glob
import os
import re
import sys

# ---------------------------------------------------------------- .config and fragments

CONF_SET = re.compile(r"^(CONFIG_[A-Za-z0-9_]+)=(.*)$")
CONF_UNSET = re.compile(r"^# (CONFIG_[A-Za-z0-9_]+) is not set$")
DIRECTIVE = re.compile(r"^#\s*(expect|expect-any|since):\s*(.*?)\s*$")


def read_config(path):
    values = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            m = CONF_SET.match(line)
            if m:
                values[m.group(1)[7:]] = m.group(2)
                continue
            m = CONF_UNSET.match(line)
            if m:
                values[m.group(1)[7:]] = "n"
    return values


def bad_input(message):
    print(f"kconfig-verify: {message}", file=sys.stderr)
    sys.exit(2)


class Want:
    """One requirement read from a fragment."""

    def __init__(self, frag, lineno, kind, pairs, since=None):
        self.frag, self.lineno, self.kind, self.pairs, self.since = frag, lineno, kind, pairs, since


def parse_pair(text, where):
    m = CONF_SET.match(text)
    if not m:
        bad_input(f"{where}: cannot read '{text}' (want CONFIG_NAME=value)")
    return m.group(1)[7:], m.group(2)


def read_fragment(path):
    wants = []
    since = None
    name = os.path.basename(path)
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            where = f"{name}:{lineno}"
            d = DIRECTIVE.match(line)
            if d:
                kind, rest = d.group(1), d.group(2)
                if kind == "since":
                    if not re.fullmatch(r"\d+\.\d+", rest):
                        bad_input(f"{where}: 'since:' wants a version like 6.5")
                    since = tuple(int(x) for x in rest.split("."))
                    continue
                pairs = [parse_pair(p, where) for p in rest.split()]
                if kind == "expect" and len(pairs) != 1:
                    bad_input(f"{where}: 'expect:' takes one CONFIG_X=v (use expect-any for more)")
                wants.append(Want(name, lineno, kind, pairs, since))
                since = None
                continue
            m = CONF_SET.match(line)
            u = CONF_UNSET.match(line)
            if m or u:
                pair = (m.group(1)[7:], m.group(2)) if m else (u.group(1)[7:], "n")
                wants.append(Want(name, lineno, "set", [pair], since))
                since = None
            elif line and not line.startswith("#"):
                bad_input(f"{where}: not a config line: '{line}'")
    return wants


# ---------------------------------------------------------------- Kconfig expressions

TOKEN = re.compile(r'\s*(?:(\|\||&&|!=|<=|>=|[!=<>()])|"((?:[^"\\]|\\.)*)"|\'([^\']*)\'|([A-Za-z0-9_.$-]+))')


def tokenize(text):
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ValueError(f"cannot parse expression near '{text[pos:]}'")
        pos = m.end()
        if m.group(1):
            out.append(("op", m.group(1)))
        elif m.group(2) is not None:
            out.append(("str", m.group(2)))
        elif m.group(3) is not None:
            out.append(("str", m.group(3)))
        else:
            out.append(("word", m.group(4)))
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


class Parser:
    def __init__(self, text):
        self.toks = tokenize(text)
        self.i = 0

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else (None, None)

    def take(self):
        t = self.peek()
        self.i += 1
        return t

    def parse(self):
        e = self.or_()
        if self.i != len(self.toks):
            raise ValueError("trailing tokens in expression")
        return e

    def or_(self):
        e = self.and_()
        while self.peek() == ("op", "||"):
            self.take()
            e = ("or", e, self.and_())
        return e

    def and_(self):
        e = self.not_()
        while self.peek() == ("op", "&&"):
            self.take()
            e = ("and", e, self.not_())
        return e

    def not_(self):
        if self.peek() == ("op", "!"):
            self.take()
            return ("not", self.not_())
        return self.cmp()

    def cmp(self):
        left = self.atom()
        kind, val = self.peek()
        if kind == "op" and val in ("=", "!=", "<", "<=", ">", ">="):
            self.take()
            return ("cmp", val, left, self.atom())
        return left

    def atom(self):
        kind, val = self.take()
        if kind == "op" and val == "(":
            e = self.or_()
            if self.take() != ("op", ")"):
                raise ValueError("missing )")
            return e
        if kind == "str":
            return ("const", val)
        if kind == "word":
            return ("sym", val)
        raise ValueError(f"unexpected token {val!r}")


def parse_expr(text):
    try:
        return Parser(text).parse()
    except ValueError:
        return ("const", "y")  # an expression this parser cannot read never blocks a report


TRI = {"n": 0, "m": 1, "y": 2}


class Env:
    """Symbol values from the resolved .config, with Kconfig's rules for undefined words."""

    def __init__(self, values, defined):
        self.values, self.defined = values, defined

    def raw(self, name):
        if name in self.values:
            return self.values[name].strip('"')
        if name in ("y", "m", "n"):
            return name
        if name in self.defined:
            return "n"
        return name  # a constant (a number, or a word Kconfig treats as its own value)

    def tri(self, e):
        op = e[0]
        if op == "or":
            return max(self.tri(e[1]), self.tri(e[2]))
        if op == "and":
            return min(self.tri(e[1]), self.tri(e[2]))
        if op == "not":
            return 2 - self.tri(e[1])
        if op == "cmp":
            a, b = self.raw_of(e[2]), self.raw_of(e[3])
            na, nb = as_number(a), as_number(b)
            if na is not None and nb is not None:
                a, b = na, nb
            return 2 if {"=": a == b, "!=": a != b, "<": a < b, "<=": a <= b,
                         ">": a > b, ">=": a >= b}[e[1]] else 0
        if op == "sym":
            return TRI.get(self.raw(e[1]), 0)
        return TRI.get(e[1], 0)

    def raw_of(self, e):
        return self.raw(e[1]) if e[0] == "sym" else (e[1] if e[0] == "const" else str(self.tri(e)))

    def show(self, e, top=True):
        """The expression with each symbol's value, like menuconfig: `A [=y] && B [=n]`."""
        op = e[0]
        if op in ("or", "and"):
            s = f"{self.show(e[1], False)} {'||' if op == 'or' else '&&'} {self.show(e[2], False)}"
            return s if top else f"({s})"
        if op == "not":
            return "!" + self.show(e[1], False)
        if op == "cmp":
            return f"{self.show(e[2], False)} {e[1]} {self.show(e[3], False)}"
        if op == "sym":
            if e[1] in self.defined:
                return f"{e[1]} [={self.raw(e[1])}]"
            return e[1]
        return f'"{e[1]}"'


def as_number(s):
    try:
        return int(s, 16) if s.lower().startswith("0x") else int(s)
    except ValueError:
        return None


def conjuncts(e):
    if e[0] == "and":
        return conjuncts(e[1]) + conjuncts(e[2])
    return [e]


def and_all(exprs):
    exprs = [x for x in exprs if x is not None]
    if not exprs:
        return None
    e = exprs[0]
    for x in exprs[1:]:
        e = ("and", e, x)
    return e


# ---------------------------------------------------------------- Kconfig files

KEYWORDS = ("config", "menuconfig", "choice", "endchoice", "comment", "menu", "endmenu",
            "if", "endif", "source", "rsource", "osource", "orsource", "mainmenu")


class Definition:
    def __init__(self, name, where, conds):
        self.name, self.where, self.conds = name, where, list(conds)
        self.type, self.prompt, self.depends, self.defaults = None, None, [], []
        self.in_choice = None

    def dep_expr(self):
        return and_all(self.conds + self.depends)


class Kconfig:
    def __init__(self, srctree, srcarch):
        self.srctree, self.vars = srctree, {"SRCARCH": srcarch}
        self.defs = {}       # name -> [Definition]
        self.selects = {}    # name -> [(selector name, condition expr or None, where)]
        self.read(os.path.join(srctree, "Kconfig"), optional=False)

    def expand(self, path):
        def var(m):
            name = m.group(1) or m.group(2)
            return self.vars.get(name, os.environ.get(name, ""))
        return re.sub(r"\$\((\w+)\)|\$(\w+)", var, path)

    def read(self, path, optional, stack=None):
        # One stack of conditions for the whole tree: `if` blocks and menus span `source`.
        stack = [] if stack is None else stack
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                raw = f.read().split("\n")
        except OSError:
            if optional:
                return
            bad_input(f"cannot read Kconfig file {path}")
        rel = os.path.relpath(path, self.srctree)
        lines, i = [], 0
        while i < len(raw):  # join continuation lines, keep the first line's number
            start, text = i + 1, raw[i]
            while text.endswith("\\") and i + 1 < len(raw):
                i += 1
                text = text[:-1] + " " + raw[i]
            lines.append((start, text))
            i += 1
        cur = None       # the Definition being read
        block = None     # 'menu' / 'choice' / 'comment' header whose `depends on` lines follow
        choice_members = None
        help_indent = None
        in_help = False
        for lineno, text in lines:
            if in_help:
                stripped = text.strip()
                if not stripped:
                    continue
                indent = len(text.expandtabs(8)) - len(text.expandtabs(8).lstrip())
                if help_indent is None:
                    help_indent = indent
                if indent >= help_indent and indent > 0:
                    continue
                in_help = False
            line = strip_comment(text).strip()
            if not line:
                continue
            word, _, rest = line.partition(" ")
            word = word.strip()
            rest = rest.strip()
            if word in ("help", "---help---"):
                in_help, help_indent = True, None
                continue
            if word in KEYWORDS:
                cur = None
                block = None
            if word in ("config", "menuconfig"):
                cur = Definition(rest, f"{rel}:{lineno}", stack)
                if choice_members is not None:
                    choice_members.append(rest)
                    cur.in_choice = choice_members
                self.defs.setdefault(rest, []).append(cur)
            elif word == "if":
                stack.append(parse_expr(rest))
            elif word == "endif":
                if stack:
                    stack.pop()
            elif word in ("menu", "choice", "comment"):
                if word != "comment":
                    stack.append(None)  # filled by the `depends on` lines that follow
                block = word
                if word == "choice":
                    choice_members = []
            elif word in ("endmenu", "endchoice"):
                if stack:
                    stack.pop()
                if word == "endchoice":
                    choice_members = None
            elif word in ("source", "rsource", "osource", "orsource"):
                target = self.expand(rest.strip().strip('"'))
                base = os.path.dirname(path) if word.startswith(("r", "or")) else self.srctree
                matches = sorted(glob.glob(os.path.join(base, target)))
                if not matches and word in ("source", "rsource") and "*" not in target:
                    matches = [os.path.join(base, target)]
                for m in matches:
                    self.read(m, word.startswith("o") or "*" in target, stack)
            elif word == "depends" and rest.startswith("on "):
                e = parse_expr(rest[3:])
                if cur is not None:
                    cur.depends.append(e)
                elif block in ("menu", "choice") and stack:
                    stack[-1] = e if stack[-1] is None else ("and", stack[-1], e)
            elif word == "visible" and rest.startswith("if ") and block == "menu" and stack:
                e = parse_expr(rest[3:])
                stack[-1] = e if stack[-1] is None else ("and", stack[-1], e)
            elif cur is not None:
                self.attribute(cur, word, rest)

    def attribute(self, cur, word, rest):
        if word in ("bool", "tristate", "string", "int", "hex", "def_bool", "def_tristate", "prompt"):
            if word != "prompt":
                cur.type = word.replace("def_", "")
            body, cond = split_if(rest)
            if word.startswith("def_"):
                cur.defaults.append((parse_expr(body), cond))
            elif body.startswith('"') or word == "prompt":
                cur.prompt = (body.strip('"'), cond)
        elif word == "default":
            body, cond = split_if(rest)
            cur.defaults.append((parse_expr(body), cond))
        elif word == "select":
            body, cond = split_if(rest)
            self.selects.setdefault(body.strip(), []).append((cur.name, cond, cur.where))


def strip_comment(text):
    out, quote = [], None
    for ch in text:
        if quote:
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            break
        out.append(ch)
    return "".join(out)


def split_if(rest):
    """`X if COND` -> (X, parsed COND or None); the `if` outside quotes only."""
    m = re.match(r'^("(?:[^"\\]|\\.)*"|[^"]*?)\s+if\s+(.*)$', rest)
    if m:
        return m.group(1).strip(), parse_expr(m.group(2))
    return rest.strip(), None


# ---------------------------------------------------------------- explanation

def explain(kc, env, name, want, depth=0, seen=None):
    """Lines that say why `name` is not `want`: its failing dependencies and who selects it."""
    seen = set() if seen is None else seen
    pad = "      " + "    " * depth
    if name in seen or depth > 2:
        return []
    seen.add(name)
    defs = kc.defs.get(name)
    if not defs:
        return [f"{pad}{name}: defined by no Kconfig file of this tree (SRCARCH={kc.vars['SRCARCH']})"]
    out = []
    got = env.raw(name)
    wants_on = want not in ("n", "")
    forcing = [(who, where) for who, cond, where in kc.selects.get(name, [])
               if env.raw(who) in ("y", "m") and (cond is None or env.tri(cond) > 0)]
    for d in defs:
        prompt = f' "{d.prompt[0]}"' if d.prompt else " (no prompt: only defaults and select set it)"
        out.append(f"{pad}{name} [={got}] {d.type or ''} at {d.where}{prompt}")
        dep = d.dep_expr()
        if wants_on and dep is not None and env.tri(dep) == 0:
            failing = [c for c in conjuncts(dep) if env.tri(c) == 0]
            for c in failing:
                out.append(f"{pad}  unmet: depends on {env.show(c)}")
                if "PAHOLE_VERSION" in env.show(c):
                    out.append(f"{pad}    (PAHOLE_VERSION={env.raw('PAHOLE_VERSION')}: pahole missing or too "
                               "old on the host that ran olddefconfig; Debian package: dwarves)")
                for sub, sub_want in wanted_symbols(c, env):
                    out += explain(kc, env, sub, sub_want, depth + 1, seen)
        elif wants_on and d.prompt is None:
            sel = kc.selects.get(name, [])
            if sel:
                for who, cond, where in sel:
                    c = f" if {env.show(cond)}" if cond is not None else ""
                    out.append(f"{pad}  selected by {who} [={env.raw(who)}]{c} ({where})")
            elif not d.defaults:
                out.append(f"{pad}  selected by nothing for SRCARCH={kc.vars['SRCARCH']}: "
                           "this architecture (or its toolchain) does not offer it")
            for dflt, cond in d.defaults:
                c = f" if {env.show(cond)}" if cond is not None else ""
                out.append(f"{pad}  default {env.show(dflt)}{c}")
        elif wants_on and d.prompt is not None and d.prompt[1] is not None and env.tri(d.prompt[1]) == 0:
            out.append(f"{pad}  prompt hidden: {env.show(d.prompt[1])}")
        elif depth == 0 and d.prompt is not None and d.in_choice is None and not forcing:
            out.append(f"{pad}  free to set (dependencies met, nothing forces it): the value is the config's own "
                       "(fragment not merged, or a later fragment overrides it)")
        if d.in_choice is not None and wants_on:
            picked = [m for m in d.in_choice if m != name and env.raw(m) == "y"]
            if picked:
                out.append(f"{pad}  member of a choice; the choice holds {', '.join(picked)}")
    if not wants_on and got not in ("n", ""):
        for who, where in forcing:
            out.append(f"{pad}  forced on: selected by {who} [={env.raw(who)}] ({where})")
    return out


def wanted_symbols(e, env):
    """Symbols inside a failing term that would have to change, with the value they would need."""
    if e[0] == "sym" and e[1] in env.defined:
        return [(e[1], "y")]
    if e[0] == "not" and e[1][0] == "sym" and e[1][1] in env.defined:
        return [(e[1][1], "n")]
    if e[0] == "or":
        return wanted_symbols(e[1], env) + wanted_symbols(e[2], env)
    if e[0] == "and":
        return [s for part in conjuncts(e) if env.tri(part) == 0 for s in wanted_symbols(part, env)]
    return []


# ---------------------------------------------------------------- main

def kernel_version(srctree):
    v = {}
    with open(os.path.join(srctree, "Makefile"), encoding="utf-8") as f:
        for line in f:
            m = re.match(r"^(VERSION|PATCHLEVEL|SUBLEVEL)\s*=\s*(\d+)", line)
            if m:
                v[m.group(1)] = int(m.group(2))
            if len(v) == 3:
                break
    return v["VERSION"], v["PATCHLEVEL"], v.get("SUBLEVEL", 0)


def shown(value):
    return "not set" if value in (None, "n") else value


def same(want, got):
    if want == "n":
        return got in ("n", None)
    return got == want or (want == "m" and got == "y")  # built in satisfies a module request


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--srctree", required=True, help="kernel source tree")
    ap.add_argument("--srcarch", required=True, help="arch/ directory name: arm64, x86, ...")
    ap.add_argument("--config", required=True, help="the .config that olddefconfig resolved")
    ap.add_argument("--label", default="", help="prefix for report lines, e.g. 'arm64 6.12'")
    ap.add_argument("--tsv", help="append one row per requirement to this file")
    ap.add_argument("--quiet-ok", action="store_true", help="print only what is missing")
    ap.add_argument("fragments", nargs="+")
    a = ap.parse_args()

    try:
        values = read_config(a.config)
        version = kernel_version(a.srctree)
    except (OSError, KeyError) as e:
        bad_input(f"cannot read the .config or the tree's Makefile: {e}")
    kc = Kconfig(a.srctree, a.srcarch)
    env = Env(values, kc.defs)
    label = a.label or f"{a.srcarch} {'.'.join(map(str, version))}"
    rows, missing, total, skipped = [], 0, 0, 0
    for frag in a.fragments:
        for w in read_fragment(frag):
            total += 1
            if w.kind == "expect-any":
                ok = any(same(v, values.get(n)) for n, v in w.pairs)
            else:
                ok = same(w.pairs[0][1], values.get(w.pairs[0][0]))
            text = " | ".join(f"CONFIG_{n}={v}" for n, v in w.pairs)
            if w.kind == "set" and w.pairs[0][1] == "n":
                text = f"# CONFIG_{w.pairs[0][0]} is not set"
            prefix = {"set": "", "expect": "expect ", "expect-any": "expect-any "}[w.kind]
            if ok:
                status = "ok"
            elif w.since and version[:2] < w.since:
                status = "n/a"
                skipped += 1
            else:
                status = "MISSING"
                missing += 1
            got = " | ".join(shown(values.get(n)) for n, _ in w.pairs)
            if status != "ok" or not a.quiet_ok:
                note = f" (required from {'.'.join(map(str, w.since))} on)" if status == "n/a" else ""
                print(f"[{label}] {status:7} {w.frag}:{w.lineno} {prefix}{text}  -> {got}{note}")
            if status != "ok":
                for n, v in w.pairs:
                    if not same(v, values.get(n)):
                        for line in explain(kc, env, n, v):
                            print(line)
            for n, v in w.pairs:
                rows.append((label, w.frag, w.kind, n, v, values.get(n, "n"), status))
    print(f"[{label}] {total} requirements: {total - missing - skipped} met, {skipped} not yet due "
          f"(since:), {missing} missing")
    if a.tsv:
        with open(a.tsv, "a", encoding="utf-8") as f:
            for r in rows:
                f.write("\t".join(r) + "\n")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
