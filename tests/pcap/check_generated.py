#!/usr/bin/env python3
"""Replay the tracegen scenarios through quarantined and check the ground truth.

usage: check_generated.py QUARANTINED OUTDIR [NAME...]

For every OUTDIR/NAME.json (or only the NAMEs given) this runs

    QUARANTINED -r OUTDIR/NAME.pcap -o json [-c OUTDIR/NAME.conf]

parses stdout as JSON lines and checks the truth file (written by
tests/tracegen/tracegen.c; its keys are described there and in
check_truth() below).  Every check prints one line, "ok" or "FAIL" with the
reason and, on failure, the events of the host concerned.  Exit status: 0
when every check passed, 1 when one failed, 2 on a usage error.

Python 3 standard library only.
"""

import datetime
import ipaddress
import json
import os
import re
import shutil
import signal
import subprocess
import sys

LEVELS = {"watch": 1, "contain": 2, "isolate": 3}
SEVERITIES = ("low", "medium", "high")
PROTOS = ("tcp", "udp", "icmp", "icmpv6", "arp")
TS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
DETECT_KEYS = ("ts", "event", "host", "rule", "severity", "action", "enforced",
               "proto", "ports", "evidence", "first_probe_ts")
RUN_TIMEOUT_S = 60
MAX_EVENT_LINES = 12


def parse_ts(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ")


def norm_host(s):
    """Canonical text of an address, so that 2001:DB8::1 and 2001:db8::1 match."""
    try:
        return ipaddress.ip_address(s).compressed
    except (ValueError, TypeError):
        return str(s)


class Report:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def ok(self, scenario, what):
        self.passed += 1
        print("ok   %s: %s" % (scenario, what))

    def fail(self, scenario, what, reason, events=()):
        self.failed += 1
        print("FAIL %s: %s: %s" % (scenario, what, reason))
        events = list(events)
        for ev in events[:MAX_EVENT_LINES]:
            print("       | " + json.dumps(ev, sort_keys=True))
        if len(events) > MAX_EVENT_LINES:
            print("       | ... %d more" % (len(events) - MAX_EVENT_LINES))

    def check(self, cond, scenario, what, reason, events=()):
        if cond:
            self.ok(scenario, what)
        else:
            self.fail(scenario, what, reason, events)
        return cond


def never_block_nets(truth, conf_path):
    """never_block networks: the truth's list plus what the config file says."""
    nets = []
    for s in truth.get("never_block") or []:
        nets.append(ipaddress.ip_network(s, strict=False))
    if conf_path and os.path.exists(conf_path):
        with open(conf_path, encoding="utf-8") as f:
            text = f.read()
        m = re.search(r"never_block\s*[=:]\s*\[([^\]]*)\]", text)
        if m:
            for s in re.findall(r'"([^"]+)"', m.group(1)):
                nets.append(ipaddress.ip_network(s, strict=False))
    return nets


def in_nets(host, nets):
    try:
        a = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(a.version == n.version and a in n for n in nets)


def run_daemon(quarantined, pcap, conf):
    cmd = [quarantined, "-r", pcap, "-o", "json"]
    if conf:
        cmd += ["-c", conf]
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=RUN_TIMEOUT_S, check=False)
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
    """Returns (events, problems): the JSON objects, and what was wrong."""
    events, problems = [], []
    for n, line in enumerate(out.splitlines(), 1):
        if not line.strip():
            continue
        try:
            ev = json.loads(line)
        except ValueError as e:
            problems.append("line %d is not JSON (%s): %.120s" % (n, e, line))
            continue
        if not isinstance(ev, dict):
            problems.append("line %d is not a JSON object" % n)
            continue
        if not isinstance(ev.get("ts"), str) or not TS_RE.match(ev["ts"]):
            problems.append("line %d: bad or missing ts %r" % (n, ev.get("ts")))
            continue
        if not isinstance(ev.get("event"), str):
            problems.append("line %d: missing event" % n)
            continue
        events.append(ev)
    return events, problems


def detect_problems(d, nb_nets):
    """What is wrong with one detect event against the output contract."""
    p = []
    missing = [k for k in DETECT_KEYS if k not in d]
    if missing:
        p.append("missing " + ",".join(missing))
    if d.get("action") not in LEVELS:
        p.append("action %r" % d.get("action"))
    if d.get("severity") not in SEVERITIES:
        p.append("severity %r" % d.get("severity"))
    if "proto" in d and d["proto"] not in PROTOS:
        p.append("proto %r" % d.get("proto"))
    if "ports" in d and not (isinstance(d["ports"], list)
                             and all(isinstance(x, int) for x in d["ports"])):
        p.append("ports %r" % d.get("ports"))
    if "evidence" in d and not isinstance(d["evidence"], dict):
        p.append("evidence %r" % d.get("evidence"))
    if d.get("enforced") is not False:
        p.append("enforced %r (offline never enforces)" % d.get("enforced"))
    want_why = "never-block" if in_nets(d.get("host"), nb_nets) else "offline"
    if d.get("why") != want_why:
        p.append("why %r, expected %r" % (d.get("why"), want_why))
    fp = d.get("first_probe_ts")
    if fp is not None and (not isinstance(fp, str) or not TS_RE.match(fp)):
        p.append("first_probe_ts %r" % fp)
    elif fp is not None and isinstance(d.get("ts"), str) and fp > d["ts"]:
        p.append("first_probe_ts after ts")
    try:
        ipaddress.ip_address(d.get("host"))
    except ValueError:
        p.append("host %r is not an address" % d.get("host"))
    return p


def check_truth(rep, name, truth, events, nb_nets):
    detects = [e for e in events if e["event"] == "detect"]
    for d in detects:
        d["_host"] = norm_host(d.get("host"))
    incidents = [e for e in events if e["event"] == "incident"]

    def host_events(h):
        h = norm_host(h)
        return [e for e in events
                if norm_host(e.get("host")) == h or norm_host(e.get("patient_zero")) == h]

    def strip(evs):
        return [{k: v for k, v in e.items() if not k.startswith("_")} for e in evs]

    # The output contract, for every detect at once.
    bad = []
    for d in detects:
        p = detect_problems(d, nb_nets)
        if p:
            bad.append((d, p))
    rep.check(not bad, name, "detect events follow the contract (%d detects)" % len(detects),
              "; ".join("%s %s: %s" % (d.get("host"), d.get("rule"), ", ".join(p))
                        for d, p in bad[:5]),
              strip([d for d, _ in bad]))

    # One detect per host and rule, another only when the action rises.
    seq = {}
    for d in detects:
        seq.setdefault((d["_host"], d.get("rule")), []).append(d)
    repeats = []
    for (h, r), ds in seq.items():
        lv = [LEVELS.get(d.get("action"), 0) for d in ds]
        if any(b <= a for a, b in zip(lv, lv[1:])):
            repeats.append("%s %s: %s" % (h, r, [d.get("action") for d in ds]))
    rep.check(not repeats, name, "repeated detects only when the action rises",
              "; ".join(repeats[:5]))

    # Every incident a detect points to exists.
    ids = {e.get("id") for e in incidents}
    dangling = sorted({str(d.get("incident")) for d in detects
                       if d.get("incident") is not None and d.get("incident") not in ids})
    rep.check(not dangling, name, "detects refer to emitted incidents",
              "incident ids %s never announced" % ", ".join(dangling))

    for e in truth.get("expect", []):
        h, rule, want = norm_host(e["host"]), e["rule"], e["action"]
        what = "%s %s -> %s" % (h, rule, want)
        ds = seq.get((h, rule), [])
        if not ds:
            rep.fail(name, what, "no %s detect for %s" % (rule, h), strip(host_events(h)))
            continue
        got = max((d.get("action") for d in ds), key=lambda a: LEVELS.get(a, 0))
        if got != want:
            rep.fail(name, what, "action %s, expected %s" % (got, want), strip(host_events(h)))
            continue
        problems = []
        if "not_before" in e:
            nb = parse_ts(e["not_before"])
            early = [d for d in detects if d["_host"] == h and parse_ts(d["ts"]) < nb]
            if early:
                problems.append("detect at %s before the first probe at %s"
                                % (early[0]["ts"], e["not_before"]))
        if "not_after" in e:
            na = parse_ts(e["not_after"])
            first = min(parse_ts(d["ts"]) for d in ds)
            if first > na:
                problems.append("first %s detect at %s, due by %s"
                                % (rule, min(d["ts"] for d in ds), e["not_after"]))
        if "ports" in e:
            for d in ds:
                if set(d.get("ports") or []) != set(e["ports"]):
                    problems.append("ports %s, expected %s" % (d.get("ports"), e["ports"]))
                    break
        for k, v in (e.get("fields") or {}).items():
            for d in ds:
                # "evidence.target": a field of a nested object
                got = d
                for part in k.split("."):
                    got = got.get(part) if isinstance(got, dict) else None
                if str(got) != str(v):
                    problems.append("%s %r, expected %r" % (k, got, v))
                    break
        if problems:
            rep.fail(name, what, "; ".join(problems), strip(host_events(h)))
        else:
            rep.ok(name, what)

    for m in truth.get("max_action", []):
        h, cap = norm_host(m["host"]), m["action"]
        over = [d for d in detects
                if d["_host"] == h and LEVELS.get(d.get("action"), 9) > LEVELS[cap]]
        rep.check(not over, name, "%s at most %s" % (h, cap),
                  "%s %s" % (over[0].get("rule"), over[0].get("action")) if over else "",
                  strip(host_events(h)))

    for f in truth.get("forbid", []):
        h, rule = norm_host(f["host"]), f["rule"]
        rep.check(not seq.get((h, rule)), name, "%s never %s" % (h, rule),
                  "%s was flagged %s" % (h, rule), strip(host_events(h)))

    for h in truth.get("no_alert", []):
        h = norm_host(h)
        hit = [d for d in detects if d["_host"] == h]
        rep.check(not hit, name, "%s no alert" % h,
                  "%d detect(s): %s" % (len(hit), ", ".join(sorted({str(d.get("rule"))
                                                                    for d in hit}))),
                  strip(host_events(h)))

    for h in truth.get("one_incident", []):
        h = norm_host(h)
        ids = sorted({str(d.get("incident")) for d in detects if d["_host"] == h})
        rep.check(len(ids) == 1 and ids[0] != "None", name, "%s in one incident" % h,
                  "incidents %s" % ", ".join(ids), strip(host_events(h)))

    if truth.get("exclusive"):
        allowed = {norm_host(e["host"]) for e in truth.get("expect", [])}
        allowed |= {norm_host(m["host"]) for m in truth.get("max_action", [])}
        extra = sorted({d["_host"] for d in detects} - allowed)
        rep.check(not extra, name, "no other host flagged",
                  "unexpected: " + ", ".join(extra),
                  strip([d for d in detects if d["_host"] in extra]))

    # Who infected whom: a victim's detections name its infector; in a
    # trace whose truth is exclusive, no other detection names one.
    edges = {norm_host(x["host"]): norm_host(x["by"]) for x in truth.get("infected_by", [])}
    for h, by in sorted(edges.items()):
        got = sorted({str(norm_host(d.get("infected_by"))) for d in detects if d["_host"] == h})
        rep.check(got == [by], name, "%s infected by %s" % (h, by),
                  "infected_by %s" % ", ".join(got), strip(host_events(h)))
    if truth.get("exclusive"):
        extra = sorted({d["_host"] for d in detects
                        if d.get("infected_by") and d["_host"] not in edges})
        rep.check(not extra, name, "no other infected_by",
                  "named an infector: " + ", ".join(extra),
                  strip([d for d in detects if d["_host"] in extra]))

    for inc in truth.get("incidents", []):
        rule, pz, n = inc["rule"], norm_host(inc["patient_zero"]), inc["hosts"]
        what = "incident %s patient zero %s, %d hosts" % (rule, pz, n)
        by_id = {}
        for e in incidents:
            if e.get("rule") == rule:
                by_id.setdefault(e.get("id"), []).append(e)
        if len(by_id) != 1:
            rep.fail(name, what, "%d incidents for %s, expected 1" % (len(by_id), rule),
                     [e for e in incidents if e.get("rule") == rule])
            continue
        last = list(by_id.values())[0][-1]
        got_pz, got_n = norm_host(last.get("patient_zero")), last.get("hosts")
        rep.check(got_pz == pz and got_n == n, name, what,
                  "patient zero %s, %s hosts" % (got_pz, got_n), list(by_id.values())[0])


def main(argv):
    if len(argv) < 3 or argv[1] in ("-h", "--help"):
        sys.stderr.write(__doc__.split("\n\n")[1] + "\n")
        return 2
    quarantined, outdir, names = argv[1], argv[2], argv[3:]
    if shutil.which(quarantined) is None:
        sys.stderr.write("check_generated: %s: not an executable\n" % quarantined)
        return 2
    if not os.path.isdir(outdir):
        sys.stderr.write("check_generated: %s: not a directory\n" % outdir)
        return 2
    if not names:
        names = sorted(f[:-5] for f in os.listdir(outdir) if f.endswith(".json"))
    if not names:
        sys.stderr.write("check_generated: no NAME.json in %s\n" % outdir)
        return 2
    rep = Report()
    for name in names:
        tpath = os.path.join(outdir, name + ".json")
        try:
            with open(tpath, encoding="utf-8") as f:
                truth = json.load(f)
        except (OSError, ValueError) as e:
            rep.fail(name, "truth file", str(e))
            continue
        pcap = os.path.join(outdir, truth.get("pcap") or name + ".pcap")
        conf = os.path.join(outdir, truth["config"]) if truth.get("config") else None
        rc, out, err = run_daemon(quarantined, pcap, conf)
        if not rep.check(rc == 0, name, "exit status 0", describe_status(rc, err)):
            continue  # what it printed is no basis for the other checks
        events, problems = parse_events(out)
        rep.check(not problems, name, "%d events, all JSON objects with ts and event"
                  % len(events), "; ".join(problems[:3]))
        check_truth(rep, name, truth, events, never_block_nets(truth, conf))
    print("%d checks: %d passed, %d failed" % (rep.passed + rep.failed, rep.passed,
                                                rep.failed))
    return 1 if rep.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
