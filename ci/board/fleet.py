#!/usr/bin/env python3
"""The fleet part of ci/fleet-demo: boots flashed cards as boards at once, installs the .deb on
the Debian board as its users do, runs a real Prometheus against the boards' /metrics, pulls
their data with ebpf-field, and checks what a fleet needs:

  - every board boots from its card and answers ssh; the .deb installs with apt on the
    systemd board, its collector runs from our unit as a user with CAP_BPF and CAP_PERFMON
    (and CAP_DAC_READ_SEARCH for tracefs, CAP_SYS_ADMIN for Debian's perf_event_paranoid = 3,
    nothing else), and
    its verification runs once (not again at the next boot);
  - Prometheus: every target up == 1, and each board's event counter grows between scrapes;
  - ebpf-field pull from every board; verify reports collected from all; no seq gap across a
    collector restart (an init script restart on one board, a power cycle of another);
  - a board that does not answer ssh is reported, and the others are still pulled.

    ci/board/fleet.py --work DIR --key KEY --deb FILE --prometheus DIR --field FILE
                      --board NAME:ARCH:KIND:CARD...

Prints one line per check and "N passed, M failed"; exits 0 only if every check passed.
"""

import argparse
import concurrent.futures
import json
import os
import shlex
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
BOARD = os.path.join(HERE, "board.py")
# The collector's config of the demo's boards (ci/board/collect.json): small files (rotations
# within the demo), lines written within 200 ms, and /metrics on the board's network (qemu
# forwards it to 127.0.0.1 of the workstation only).
COLLECT_CONFIG = os.path.join(HERE, "collect.json")


class Fleet:
    def __init__(self, args):
        self.args = args
        self.work = os.path.abspath(args.work)
        self.boards = []
        for spec in args.board:
            name, arch, kind, card = spec.split(":", 3)
            self.boards.append({"name": name, "arch": arch, "kind": kind, "card": card,
                                "dir": os.path.join(self.work, name)})
        self.ssh_config = os.path.join(self.work, "ssh_config")
        self.store = os.path.join(self.work, "store")
        self.checks = []
        self.t0 = time.monotonic()
        self.prom = None

    # ---- reporting
    def log(self, msg):
        print(f"[fleet {time.monotonic() - self.t0:5.0f} s] {msg}", file=sys.stderr, flush=True)

    def check(self, name, ok, detail=""):
        self.checks.append((name, bool(ok), detail))
        self.log(f"{'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}")
        return ok

    # ---- boards
    def up(self, b):
        r = subprocess.run([sys.executable, BOARD, "up", "--card", b["card"], "--dir", b["dir"],
                            "--key", self.args.key, "--name", b["name"], "--arch", b["arch"],
                            "--timeout", str(self.args.boot_timeout)],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        b["up"] = r.returncode == 0
        b["up_msg"] = r.stdout.strip()
        if b["up"]:
            b.update(json.load(open(os.path.join(b["dir"], "board.json"))))
            # A board booted again gets new port forwards: ssh must follow them.
            self.write_ssh_config()
        return b

    def down(self, b):
        subprocess.run([sys.executable, BOARD, "down", "--dir", b["dir"]],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        b["up"] = False

    def write_ssh_config(self):
        # Boards come up in threads of their own: each writes the whole file, replaced at once.
        tmp = f"{self.ssh_config}.{threading.get_ident()}"
        with open(tmp, "w") as out:
            for b in self.boards:
                path = os.path.join(b["dir"], "ssh_config")
                if os.path.exists(path):
                    out.write(open(path).read())
        os.replace(tmp, self.ssh_config)

    def ssh(self, b, cmd, stdin=None, timeout=300, check=True):
        # An emulated board on a loaded machine can miss ssh's banner deadline: exit code 255
        # (ssh's own failure) is tried twice more.
        for attempt in range(3):
            r = subprocess.run(["ssh", "-F", self.ssh_config, b["name"], cmd], input=stdin,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
            if r.returncode != 255 or not b.get("up", True):
                break
            time.sleep(5)
        if check and r.returncode != 0:
            raise RuntimeError(f"{b['name']}: `{cmd}` exited {r.returncode}: "
                               f"{r.stderr.decode(errors='replace').strip()[-300:]}")
        return r

    def wait_for(self, b, test, seconds, what):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if self.ssh(b, test, check=False, timeout=60).returncode == 0:
                return True
            time.sleep(2)
        self.log(f"{b['name']}: {what} not seen within {seconds} s")
        return False

    def workload(self, b, tag, n=40):
        """Execs and opens of known names: events for execsnoop, exitsnoop and syscount."""
        self.ssh(b, f"i=0; while [ $i -lt {n} ]; do /bin/true {tag}-$i; "
                    f"cat /proc/version >/dev/null; i=$((i + 1)); done")

    # ---- the systemd board: our .deb, installed as a user does
    def install_deb(self, b):
        deb = self.args.deb
        name = os.path.basename(deb)
        with open(deb, "rb") as f:
            self.ssh(b, f"cat >/root/{shlex.quote(name)}", stdin=f.read())
        r = self.ssh(b, f"DEBIAN_FRONTEND=noninteractive apt-get install -y ./{shlex.quote(name)}",
                     check=False, timeout=600)
        self.check(f"{b['name']}: apt install ./{name}", r.returncode == 0,
                   r.stderr.decode(errors="replace").strip()[-200:] if r.returncode else "")
        ok = self.wait_for(b, "test -e /var/lib/ebpf-agent/verify.rc", 300, "verify.rc")
        rc = self.ssh(b, "cat /var/lib/ebpf-agent/verify.rc", check=False).stdout.decode().strip()
        self.check(f"{b['name']}: ebpf-verify.service ran at install, exit code 0",
                   ok and rc == "0", f"verify.rc={rc or 'missing'}")
        b["verify_stamp"] = self.ssh(b, "stat -c %Y /var/lib/ebpf-agent/verify.done",
                                     check=False).stdout.decode().strip()
        # The board's own config (metrics on its network), then a restart, as a user would.
        with open(COLLECT_CONFIG, "rb") as f:
            self.ssh(b, "cat >/etc/ebpf-agent/collect.json", stdin=f.read())
        self.ssh(b, f"systemctl restart {self.args.collect_unit}")

    def collector_caps(self, b):
        # ExecStartPre (the config check) runs first: MainPID is 0 until the collector starts.
        self.wait_for(b, f"systemctl is-active --quiet {self.args.collect_unit} && "
                         f"[ \"$(systemctl show -p MainPID --value {self.args.collect_unit})\" != 0 ]",
                      180, "the collector's main process")
        r = self.ssh(b, f"pid=$(systemctl show -p MainPID --value {self.args.collect_unit}); "
                        "grep -E '^(Uid|CapEff|CapPrm|NoNewPrivs):' /proc/$pid/status",
                     check=False)
        fields = dict(line.split(":", 1) for line in r.stdout.decode().splitlines() if ":" in line)
        eff = int(fields.get("CapEff", "0").strip() or "0", 16)
        uid = (fields.get("Uid", "").split() or ["?"])[0]
        # CAP_BPF and CAP_PERFMON load and attach; the unit may add CAP_DAC_READ_SEARCH, which
        # reads tracefs (mode 0700 on Debian) to find tracepoints, and CAP_SYS_ADMIN, which
        # Debian's perf_event_paranoid = 3 asks of perf_event_open(); nothing else.
        names = {2: "dac_read_search", 21: "sys_admin", 38: "perfmon", 39: "bpf"}
        need = (1 << 38) | (1 << 39)
        allowed = need | (1 << 2) | (1 << 21)
        have = [names.get(i, str(i)) for i in range(64) if eff >> i & 1]
        self.check(f"{b['name']}: collector runs as a user with CAP_BPF and CAP_PERFMON "
                   "(and at most CAP_DAC_READ_SEARCH and CAP_SYS_ADMIN)",
                   uid not in ("0", "?") and eff & need == need and eff & ~allowed == 0,
                   f"uid {uid}, effective capabilities: {', '.join(have) or 'none'}; "
                   f"NoNewPrivs {fields.get('NoNewPrivs', '?').strip()}")
        # As that user, every tool of its config attached (the status file names the others).
        ok = self.wait_for(b, "grep -q '\"state\":\"running\"' /run/ebpf-agent/status.json", 120,
                           "the collector's status")
        try:
            st = json.loads(self.ssh(b, "cat /run/ebpf-agent/status.json", check=False).stdout)
        except ValueError:
            st = {}
        bad = [f"{t.get('name')}: {t.get('state')} {t.get('error') or ''}".strip()
               for t in st.get("tools", []) if t.get("state") != "running"]
        self.check(f"{b['name']}: every tool of the collector runs with those capabilities",
                   ok and st.get("tools") and not bad,
                   "; ".join(bad)[:300] or f"{len(st.get('tools', []))} tools running")

    # ---- Prometheus
    def start_prometheus(self):
        port = free_port()
        cfg = os.path.join(self.work, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global:\n  scrape_interval: 2s\n  scrape_timeout: 2s\n"
                    "scrape_configs:\n  - job_name: boards\n    static_configs:\n")
            for b in self.boards:
                f.write(f"      - targets: ['127.0.0.1:{b['metrics_port']}']\n"
                        f"        labels: {{board: '{b['name']}'}}\n")
        data = os.path.join(self.work, "prometheus-data")
        log = open(os.path.join(self.work, "prometheus.log"), "w")
        self.prom = subprocess.Popen(
            [os.path.join(self.args.prometheus, "usr/bin/prometheus"), f"--config.file={cfg}",
             f"--storage.tsdb.path={data}", f"--web.listen-address=127.0.0.1:{port}"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.prom_url = f"http://127.0.0.1:{port}"
        end = time.monotonic() + 120
        while time.monotonic() < end:
            try:
                with urllib.request.urlopen(self.prom_url + "/-/ready", timeout=5) as r:
                    if r.status == 200:
                        self.log(f"prometheus ready on {self.prom_url}")
                        return True
            except OSError:
                pass
            time.sleep(1)
        return False

    def query(self, q):
        url = self.prom_url + "/api/v1/query?" + urllib.parse.urlencode({"query": q})
        with urllib.request.urlopen(url, timeout=10) as r:
            body = json.load(r)
        return {res["metric"].get("board", "?"): float(res["value"][1])
                for res in body["data"]["result"]}

    def wait_query(self, q, pred, seconds):
        end = time.monotonic() + seconds
        last = {}
        while time.monotonic() < end:
            try:
                last = self.query(q)
            except OSError:
                last = {}
            if pred(last):
                return True, last
            time.sleep(2)
        return False, last

    # ---- ebpf-field
    def field(self, *argv):
        cmd = [sys.executable, self.args.field, *argv]
        return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "EBPF_FIELD_STORE": self.store})

    def pull(self, names):
        return self.field("pull", "--ssh-config", self.ssh_config, "--connect-timeout", "10",
                          "--timeout", "120", *names)

    def summary(self):
        r = self.field("summary", "--json")
        try:
            return {row["device"]: row for row in json.loads(r.stdout)}
        except ValueError:
            return {}

    # ---- the run
    def run(self):
        os.makedirs(self.work, exist_ok=True)
        self.log(f"booting {len(self.boards)} boards at once")
        with concurrent.futures.ThreadPoolExecutor(len(self.boards)) as ex:
            list(ex.map(self.up, self.boards))
        for b in self.boards:
            self.check(f"{b['name']}: boots from its card and answers ssh", b["up"],
                       b["up_msg"].splitlines()[-1] if b["up_msg"] else "")
        self.write_ssh_config()
        if not all(b["up"] for b in self.boards):
            return
        names = [b["name"] for b in self.boards]
        systemd = [b for b in self.boards if b["kind"] == "debian"]
        busybox = [b for b in self.boards if b["kind"] == "busybox"]

        for b in systemd:
            self.install_deb(b)
            self.collector_caps(b)
        for b in busybox:
            ok = self.wait_for(b, "test -e /var/lib/ebpf-agent/verify.rc", 300, "verify.rc")
            rc = self.ssh(b, "cat /var/lib/ebpf-agent/verify.rc", check=False).stdout.decode().strip()
            self.check(f"{b['name']}: first-boot verification from the card, exit code 0",
                       ok and rc == "0", f"verify.rc={rc or 'missing'}")

        if not self.check("prometheus (Debian's package) starts", self.start_prometheus()):
            return
        for b in self.boards:
            self.workload(b, "fleet-a")
        ok, up = self.wait_query("up", lambda r: len(r) == len(names) and all(v == 1 for v in r.values()), 120)
        self.check("prometheus: every target up == 1", ok,
                   ", ".join(f"{k}={v:g}" for k, v in sorted(up.items())))
        q = "sum by (board) (ebpf_collect_events_total)"
        ok, first = self.wait_query(q, lambda r: len(r) == len(names), 60)
        for b in self.boards:
            self.workload(b, "fleet-b")
        ok2, second = self.wait_query(
            q, lambda r: all(r.get(n, 0) > first.get(n, 0) for n in names), 90)
        self.check("prometheus: ebpf_collect_events_total grows on every board between scrapes",
                   ok and ok2, ", ".join(f"{n} {first.get(n, 0):g} -> {second.get(n, 0):g}"
                                         for n in names))

        r = self.pull(names)
        self.check("ebpf-field pull from every board", r.returncode == 0, last_line(r))
        s = self.summary()
        self.check("verify reports collected from every board",
                   all(s.get(n, {}).get("verify") == "pass" for n in names),
                   ", ".join(f"{n}: {s.get(n, {}).get('verify', 'none')}" for n in names))

        # Restarts: the collector's init script on a BusyBox board, a power cycle of the
        # systemd board. Neither may leave a seq gap; the verification must not run again.
        for b in busybox[:1]:
            self.ssh(b, f"{self.args.collect_init} restart")
        for b in systemd:
            self.down(b)
            self.up(b)
            self.check(f"{b['name']}: boots again (power cycle)", b["up"], b.get("up_msg", ""))
            if b["up"]:
                stamp = self.ssh(b, "stat -c %Y /var/lib/ebpf-agent/verify.done",
                                 check=False).stdout.decode().strip()
                cond = self.ssh(b, "systemctl show -p ConditionResult --value ebpf-verify.service",
                                check=False).stdout.decode().strip()
                self.check(f"{b['name']}: the verification did not run again at the next boot",
                           stamp == b.get("verify_stamp") and cond == "no",
                           f"stamp {b.get('verify_stamp')} -> {stamp}, ConditionResult={cond}")
                self.wait_for(b, f"systemctl is-active {self.args.collect_unit}", 120,
                              "the collector")
        for b in self.boards:
            self.workload(b, "fleet-c")
        time.sleep(3)
        r = self.pull(names)
        s = self.summary()
        self.check("ebpf-field pull after the restarts: no seq gap",
                   r.returncode == 0 and all(s.get(n, {}).get("gaps", 1) == 0 for n in names),
                   ", ".join(f"{n}: {s.get(n, {}).get('events', 0)} events, "
                             f"{s.get(n, {}).get('gaps', '?')} gaps" for n in names)
                   + ("" if r.returncode == 0 else "; " + last_line(r)))

        # A board that stops answering: reported, and the others still pulled.
        gone = busybox[-1]
        self.down(gone)
        before = {n: s.get(n, {}).get("events", 0) for n in names}
        for b in self.boards:
            if b is not gone:
                self.workload(b, "fleet-d")
        time.sleep(3)
        r = self.pull(names)
        s = self.summary()
        others = [n for n in names if n != gone["name"]]
        self.check("a board that does not answer ssh is reported, the others are pulled",
                   r.returncode != 0 and gone["name"] in (r.stdout + r.stderr)
                   and all(s.get(n, {}).get("events", 0) > before[n] for n in others),
                   f"exit {r.returncode}: {last_line(r)}; "
                   + ", ".join(f"{n} {before[n]} -> {s.get(n, {}).get('events', 0)}" for n in others))
        print(self.field("summary").stdout, file=sys.stderr)

    def finish(self):
        for b in self.boards:
            if b.get("up"):
                self.down(b)
        if self.prom:
            self.prom.terminate()
            try:
                self.prom.wait(10)
            except subprocess.TimeoutExpired:
                self.prom.kill()
        passed = sum(1 for _, ok, _ in self.checks if ok)
        failed = len(self.checks) - passed
        print(f"\nci/fleet-demo checks ({time.monotonic() - self.t0:.0f} s):")
        for name, ok, detail in self.checks:
            print(f"  {'ok  ' if ok else 'FAIL'} {name}" + (f" ({detail})" if detail else ""))
        print(f"{passed} passed, {failed} failed")
        return 0 if failed == 0 and passed > 0 else 1


def last_line(r):
    lines = (r.stderr or r.stdout or "").strip().splitlines()
    return lines[-1] if lines else ""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--work", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--deb", required=True)
    p.add_argument("--prometheus", required=True, help="unpacked prometheus package")
    p.add_argument("--field", required=True, help="the ebpf-field script")
    p.add_argument("--collect-unit", default="ebpf-collect.service")
    p.add_argument("--collect-init", default="/etc/init.d/S96ebpf-collect")
    p.add_argument("--boot-timeout", type=int, default=400)
    p.add_argument("--board", action="append", required=True, help="NAME:ARCH:KIND:CARD")
    args = p.parse_args()
    fleet = Fleet(args)
    try:
        fleet.run()
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
        fleet.check("the fleet run went to its end", False, str(e))
    finally:
        rc = fleet.finish()
    return rc


if __name__ == "__main__":
    sys.exit(main())
