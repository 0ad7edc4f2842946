#!/usr/bin/env python3
"""Replay the shared real-world captures through quarantined.

usage: check_shared.py QUARANTINED DATADIR

DATADIR is /work/shared/data/pcaps (its README.md describes every file and
ground_truth.csv lists the hosts that matter).  The captures are public
files used as internal test data only: they are read in place and never
copied into the repository.

Every DATADIR/*.pcap* is run as "QUARANTINED -r FILE -o json" (no config)
and must exit 0 with JSON-lines output.  The expectations are written
below: the scanners and the infected host that must be flagged, the benign
hosts that must never be contained or isolated (ground_truth.csv rows with
expected_flag "no"), and the benign captures in which nothing at all may be
flagged.  One "ok"/"FAIL" line per check, then a per-file summary table.
Exit status: 0 all passed, 1 a check failed, 2 usage error, 77 (meson's
skip) when DATADIR does not exist.

Python 3 standard library only.
"""

import csv
import datetime
import glob
import ipaddress
import json
import os
import re
import shutil
import signal
import subprocess
import sys

LEVELS = {"watch": 1, "contain": 2, "isolate": 3}
SEVERITIES = {"low": 1, "medium": 2, "high": 3}
TS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
RUN_TIMEOUT_S = 120
MAX_EVENT_LINES = 10

# file -> [(host, not_before or None)]: each host must have at least one
# detect (any action), none of them before not_before.
MUST_FLAG = {
    "worm-iot-hidenseek-telnet-scan-stratosphere.pcap": [
        ("192.168.2.16", "2018-03-09T20:57:42Z")],
    "scan-nmap-syn-1000ports-evilfingers.pcap": [("192.168.1.10", None)],
    "scan-nmap-connect-1000ports-evilfingers.pcap": [("192.168.1.10", None)],
    "scan-nmap-udp-1000ports-evilfingers.pcap": [("192.168.1.10", None)],
    "scan-nmap-xmas-1000ports-evilfingers.pcap": [("192.168.1.10", None)],
    "scan-masscan-tcp-0-1000-esnet.pcap": [("172.31.15.102", None)],
    "scan-masscan-udp-0-1000-esnet.pcap": [("172.31.15.102", None)],
    "scan-synscan-1000ports-bidirectional-chrissanders.pcapng": [("172.16.0.8", None)],
    "scan-nmap-3hosts-osdetect-lmg-puzzle4.pcap": [("10.42.42.253", None)],
    "scan-icmp-sweep-stratosphere.pcap": [("192.168.1.109", None)],
    "scan-arp-sweep-stratosphere.pcap": [("192.168.1.247", None)],
    "scan-xscan-vulnscanner-smb445-evilfingers.pcap": [("192.168.1.125", None)],
    "scan-small-29port-synscan-ppa.pcap": [("10.100.25.14", None)],
}

# file -> hosts that must have no detect at all.
NO_DETECT = {
    "benign-web-espn-browser-chrissanders.pcapng": ["172.16.0.122"],
    "benign-web-https-multisite-suricata-verify.pcap": ["192.168.100.206"],
    "benign-web-reddit-ipv6-ndpi.pcap": ["2a01:cb01:2049:8b07:991d:ec85:28df:f629"],
    "benign-dnscrypt-resolver-probing-ndpi.pcap": ["10.0.0.1"],
    "benign-smtp-client-zeek.pcap": ["10.10.1.4", "192.168.133.100"],
    "benign-smb3-fileshare-zeek.pcap": ["172.17.0.184"],
    "benign-mobile-app-linux-sll-ndpi.pcap": ["10.24.82.188"],
}

# In these captures no host at all may be flagged.
QUIET_PREFIXES = ("benign-web-", "benign-dnscrypt-", "benign-smtp-", "benign-smb3-",
                  "benign-mobile-")

# Robustness only (duplicated packets, mid-stream starts, rewritten
# addresses): reading them must succeed; what they flag is not scored.
READ_ONLY_PREFIXES = ("worm-blaster", "worm-bot-lsass", "malware-wannacry")


def norm_host(s):
    try:
        return ipaddress.ip_address(s).compressed
    except (ValueError, TypeError):
        return str(s)


def parse_ts(s):
    if "." in s:
        return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ")
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ")


class Report:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, cond, fname, what, reason="", events=()):
        if cond:
            self.passed += 1
            print("ok   %s: %s" % (fname, what))
            return True
        self.failed += 1
        print("FAIL %s: %s: %s" % (fname, what, reason))
        events = list(events)
        for ev in events[:MAX_EVENT_LINES]:
            print("       | " + json.dumps(ev, sort_keys=True))
        if len(events) > MAX_EVENT_LINES:
            print("       | ... %d more" % (len(events) - MAX_EVENT_LINES))
        return False


def run_daemon(quarantined, path):
    try:
        p = subprocess.run([quarantined, "-r", path, "-o", "json"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=RUN_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        return None, "", "timed out after %d s" % RUN_TIMEOUT_S
    except OSError as e:
        return None, "", "cannot run %s: %s" % (quarantined, e)
    return (p.returncode, p.stdout.decode("utf-8", "replace"),
            p.stderr.decode("utf-8", "replace"))


def describe_status(rc, err):
    """Why a run did not exit 0, for a FAIL line."""
    if rc is None:
        return err.strip()
    if rc < 0:
        try:
            name = signal.Signals(-rc).name
        except ValueError:
            name = "signal %d" % -rc
        why = "killed by %s" % name
    else:
        why = "exit status %d" % rc
    tail = " | ".join(err.strip().splitlines()[-3:])
    return why + (": " + tail if tail else "")


def parse_events(out):
    events, problems = [], []
    for n, line in enumerate(out.splitlines(), 1):
        if not line.strip():
            continue
        try:
            ev = json.loads(line)
        except ValueError as e:
            problems.append("line %d is not JSON (%s)" % (n, e))
            continue
        if (not isinstance(ev, dict) or not isinstance(ev.get("ts"), str)
                or not TS_RE.match(ev["ts"]) or not isinstance(ev.get("event"), str)):
            problems.append("line %d lacks a valid ts/event" % n)
            continue
        events.append(ev)
    return events, problems


def ground_truth_no(datadir):
    """file -> hosts whose expected_flag is exactly "no"."""
    out = {}
    path = os.path.join(datadir, "ground_truth.csv")
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if (row.get("expected_flag") or "").strip() != "no":
                continue
            for h in (row.get("host") or "").split(";"):
                h = h.strip()
                if h:
                    out.setdefault(row["file"].strip(), []).append(h)
    return out


def summary_rows(fname, detects):
    """One row per flagged host: rules, max severity, max action, probes."""
    by_host = {}
    for d in detects:
        by_host.setdefault(norm_host(d.get("host")), []).append(d)
    if not by_host:
        return [(fname, "-", "-", "-", "-", "-")]
    rows = []
    for h in sorted(by_host):
        ds = by_host[h]
        rules = sorted({str(d.get("rule")) for d in ds})
        sev = max((str(d.get("severity")) for d in ds), key=lambda s: SEVERITIES.get(s, 0))
        act = max((str(d.get("action")) for d in ds), key=lambda a: LEVELS.get(a, 0))
        probes = [(d.get("evidence") or {}).get("probes") for d in ds]
        probes = [p for p in probes if isinstance(p, int)]
        rows.append((fname, h, ",".join(rules), sev, act, str(max(probes)) if probes else "?"))
    return rows


def print_table(rows):
    head = ("file", "host", "rule(s)", "severity", "action", "probes")
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
    line = "  ".join("%-*s" % (w, h) for w, h in zip(widths, head))
    print()
    print(line)
    print("-" * len(line))
    for r in rows:
        print("  ".join("%-*s" % (w, c) for w, c in zip(widths, r)))


def main(argv):
    if len(argv) != 3 or argv[1] in ("-h", "--help"):
        sys.stderr.write(__doc__.split("\n\n")[1] + "\n")
        return 2
    quarantined, datadir = argv[1], argv[2]
    if shutil.which(quarantined) is None:
        sys.stderr.write("check_shared: %s: not an executable\n" % quarantined)
        return 2
    if not os.path.isdir(datadir):
        print("SKIP: DATADIR absent")
        return 77
    files = sorted(glob.glob(os.path.join(datadir, "*.pcap*")))
    if not files:
        print("SKIP: DATADIR absent")
        return 77
    present = {os.path.basename(f) for f in files}
    rep = Report()
    try:
        gt_no = ground_truth_no(datadir)
    except (OSError, KeyError, csv.Error) as e:
        rep.check(False, "ground_truth.csv", "readable", str(e))
        gt_no = {}

    for fname in sorted(set(MUST_FLAG) | set(NO_DETECT) | set(gt_no)):
        if fname not in present:
            rep.check(False, fname, "present in DATADIR", "missing")

    table = []
    for path in files:
        fname = os.path.basename(path)
        rc, out, err = run_daemon(quarantined, path)
        if not rep.check(rc == 0, fname, "exit status 0", describe_status(rc, err)):
            table.append((fname, "(failed)", "-", "-", "-", "-"))
            continue  # what it printed is no basis for the other checks
        events, problems = parse_events(out)
        rep.check(not problems, fname, "%d events, all JSON objects with ts and event"
                  % len(events), "; ".join(problems[:3]))
        detects = [e for e in events if e.get("event") == "detect"]
        table += summary_rows(fname, detects)

        def of(h):
            h = norm_host(h)
            return [d for d in detects if norm_host(d.get("host")) == h]

        for h, not_before in MUST_FLAG.get(fname, []):
            ds = of(h)
            if not rep.check(bool(ds), fname, "%s flagged" % h, "no detect for %s" % h,
                             [e for e in events if e.get("event") == "detect"][:5]):
                continue
            if not_before:
                nb = parse_ts(not_before)
                early = [d for d in ds if parse_ts(d["ts"]) < nb]
                rep.check(not early, fname, "%s not flagged before %s" % (h, not_before),
                          "detect at %s" % (early[0]["ts"] if early else ""), early)

        for h in gt_no.get(fname, []):
            hard = [d for d in of(h) if LEVELS.get(d.get("action"), 0) >= LEVELS["contain"]]
            rep.check(not hard, fname, "%s (expected_flag no) never contained or isolated" % h,
                      "%s %s" % (hard[0].get("rule"), hard[0].get("action")) if hard else "",
                      hard)

        for h in NO_DETECT.get(fname, []):
            ds = of(h)
            rep.check(not ds, fname, "%s no alert" % h,
                      ", ".join(sorted({"%s %s" % (d.get("rule"), d.get("action"))
                                        for d in ds})), ds)

        if fname.startswith(QUIET_PREFIXES):
            rep.check(not detects, fname, "no host flagged",
                      ", ".join(sorted({"%s %s" % (d.get("host"), d.get("rule"))
                                        for d in detects})), detects)
        elif fname.startswith(READ_ONLY_PREFIXES):
            pass  # exit status and output format only

    print_table(table)
    print("%d checks: %d passed, %d failed" % (rep.passed + rep.failed, rep.passed,
                                                rep.failed))
    return 1 if rep.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
