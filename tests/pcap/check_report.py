#!/usr/bin/env python3
"""quarantined -r FILE --report: the report printed after the events, for
the generated office outbreak (its ground truth: 5 SMB-infected hosts,
patient zero 10.1.1.23 in finance, a telnet camera in facilities)."""
import json
import subprocess
import sys

q, tracegen, work = sys.argv[1:4]
subprocess.run([tracegen, work, "outbreak"], check=True, stdout=subprocess.DEVNULL)
pcap, conf = f"{work}/outbreak.pcap", f"{work}/outbreak.conf"
failures = 0


def check(cond, what):
    global failures
    print(("ok   " if cond else "FAIL ") + what)
    failures += not cond


for by in ("department", "rule"):
    r = subprocess.run([q, "-r", pcap, "-c", conf, "-o", "json", "--report", "--by", by],
                       capture_output=True, text=True)
    check(r.returncode == 0, f"--by {by}: exit 0 ({r.stderr.strip()})")
    lines = [json.loads(l) for l in r.stdout.splitlines() if l.strip()]
    rep = lines[-1]
    check("groups" in rep and rep.get("by") == by and rep.get("offline") is True,
          f"--by {by}: the last line is the report")
    groups = {g["group"]: g for g in rep["groups"]}
    if by == "department":
        check(groups.get("finance", {}).get("total") == 3, "finance: 3 hosts (2 workstations, the file server)")
        check(groups.get("finance", {}).get("contained") == 1, "finance: the critical file server capped at contain")
        check(groups.get("sales", {}).get("isolated") == 2, "sales: 2 isolated")
        check(groups.get("facilities", {}).get("isolated") == 1, "facilities: the camera isolated")
        check(rep["totals"]["total"] == 6, "6 hosts in all")
    else:
        check(groups.get("smb-propagation", {}).get("total") == 5, "smb-propagation: 5 hosts")
        check(groups.get("telnet-propagation", {}).get("total") == 1, "telnet-propagation: 1 host")
    smb = [i for i in rep["incidents"] if i["rule"] == "smb-propagation"]
    check(len(smb) == 1 and smb[0]["patient_zero"] == "10.1.1.23" and smb[0]["hosts"] == 5,
          f"--by {by}: one SMB incident, patient zero 10.1.1.23, 5 hosts")
    tl = smb[0]["timeline"] if smb else []
    check([t["hosts"] for t in tl] == list(range(1, len(tl) + 1)) and
          [t["ts"] for t in tl] == sorted(t["ts"] for t in tl),
          f"--by {by}: timeline in time order with a running count")

r = subprocess.run([q, "-r", pcap, "-c", conf, "--report"], capture_output=True, text=True)
check(r.returncode == 0 and "Report by department" in r.stdout and "INCIDENT" in r.stdout,
      "text report after the text events")
r = subprocess.run([q, "--report"], capture_output=True, text=True)
check(r.returncode == 2, "--report without -r is a usage error")
sys.exit(1 if failures else 0)
