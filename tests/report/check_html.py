#!/usr/bin/env python3
"""check_html.py QUARANTINED TRACEGEN WORKDIR

quarantined -r TRACE --report --format html|csv|json on the generated
office outbreak, with an inventory name and an owner that try markup and
a spreadsheet formula.  The page must parse strictly (python3-html5lib),
render in headless Chromium with the figures of the JSON report of the
same trace (its data-* attributes, read from Chromium's DOM), show the
hostile name as text, and make a screenshot that is not blank
(WORKDIR/outbreak.png, kept as an artifact).  The CSV must have a row per
host with the JSON's counts and the formula defused.

Chromium (Debian's chromium) is large: this test installs it when it is
missing and it runs as root.  Without it, it fails under CI=true and
skips elsewhere.
"""
import csv
import html.parser
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import zlib

q, tracegen, work = sys.argv[1:4]
os.makedirs(work, exist_ok=True)
failures = 0
HOSTILE_NAME = '<script>document.title="pwned"</script><b>cam</b>'
HOSTILE_OWNER = '=HYPERLINK("http://evil/")'


def check(cond, what):
    global failures
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    failures += not cond


def libconfig_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


# ---- the trace, with a hostile inventory entry ----
subprocess.run([tracegen, work, "outbreak"], check=True, stdout=subprocess.DEVNULL)
pcap, conf = f"{work}/outbreak.pcap", f"{work}/outbreak.conf"
text = open(conf).read()
assert 'name = "cam-lobby"' in text and 'owner = "Facilities"' in text, "outbreak.conf changed"
text = text.replace('name = "cam-lobby"', "name = " + libconfig_str(HOSTILE_NAME))
text = text.replace('owner = "Facilities"', "owner = " + libconfig_str(HOSTILE_OWNER))
open(conf, "w").write(text)


def report(fmt, by="department"):
    r = subprocess.run([q, "-r", pcap, "-c", conf, "--report", "--by", by, "--format", fmt],
                       capture_output=True)
    check(r.returncode == 0, f"--format {fmt}: exit 0 ({r.stderr.decode().strip()})")
    return r.stdout


rep = json.loads(report("json"))  # with --format, stdout is the report alone
page = report("html")
html_path = f"{work}/outbreak.html"
open(html_path, "wb").write(page)
check(page.startswith(b"<!DOCTYPE html>") and page.rstrip().endswith(b"</html>"),
      "--format html: the page alone on stdout")
totals = rep["totals"]
check(totals["total"] == 6 and len(rep["incidents"]) == 2, "JSON: 6 hosts, 2 open incidents")

# ---- strict parse (html5lib, as apt installs it: maybe not on PATH's python3) ----
STRICT = "import html5lib,sys; html5lib.HTMLParser(strict=True).parse(open(sys.argv[1],'rb'))"
pythons = [sys.executable, "/usr/bin/python3"]
py = next((p for p in pythons if os.path.exists(p) and subprocess.run(
    [p, "-c", "import html5lib"], capture_output=True).returncode == 0), None)
check(py is not None, "python3-html5lib is installed (tools/deps.sh)")
if py:
    r = subprocess.run([py, "-c", STRICT, html_path], capture_output=True, text=True)
    check(r.returncode == 0, "html5lib parses the page strictly" +
          ("" if r.returncode == 0 else ": " + r.stderr.strip().splitlines()[-1]))

# ---- self-contained ----
low = page.lower()
check(b"<script" not in low.replace(b"&lt;script", b""), "no script element")
check(b" src=" not in low and b"href=" not in low and b"@import" not in low and
      b"url(" not in low, "no external asset (src, href, @import, url())")


# ---- Chromium ----
def find_chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser")


chromium = find_chromium()
if not chromium and os.geteuid() == 0 and shutil.which("apt-get"):
    print("installing chromium (apt-get install -y chromium)", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", "chromium"],
                   env=env, stdout=subprocess.DEVNULL)
    chromium = find_chromium()
if not chromium:
    if os.environ.get("CI") == "true":
        check(False, "chromium is installed or installable (apt-get install chromium as root)")
        sys.exit(1)
    print("SKIP: no chromium, and it cannot be installed here (not root or no apt-get)")
    sys.exit(77)

# A profile of its own, so that runs never share or touch a user's.
profile = f"{work}/chromium-profile"
base = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-extensions", "--disable-background-networking", "--hide-scrollbars",
        f"--user-data-dir={profile}", "--force-device-scale-factor=1"]
url = "file://" + os.path.abspath(html_path)
r = subprocess.run(base + ["--dump-dom", url], capture_output=True, text=True, timeout=180)
check(r.returncode == 0 and "</html>" in r.stdout, "chromium --dump-dom renders the page")
dom = r.stdout
open(f"{work}/outbreak.dom.html", "w").write(dom)


class Elements(html.parser.HTMLParser):
    """Every element of the DOM with its attributes and text, in order."""

    def __init__(self):
        super().__init__()
        self.els, self.stack, self.title = [], [], None

    def handle_starttag(self, tag, attrs):
        el = {"tag": tag, "attrs": dict(attrs), "text": ""}
        self.els.append(el)
        if tag not in ("meta", "line", "circle", "rect", "br", "img", "input", "link"):
            self.stack.append(el)

    def handle_endtag(self, tag):
        while self.stack:
            if self.stack.pop()["tag"] == tag:
                break

    def handle_data(self, data):
        for el in self.stack:
            el["text"] += data


p = Elements()
p.feed(dom)
els = p.els


def find(tag=None, cls=None, **want):
    out = []
    for e in els:
        a = e["attrs"]
        if tag and e["tag"] != tag:
            continue
        if cls and cls not in (a.get("class") or "").split():
            continue
        if all(a.get(k.replace("_", "-")) == v for k, v in want.items()):
            out.append(e)
    return out


STATES = ["detected", "watched", "contained", "isolated", "cleaning", "cleaned", "uncleanable",
          "released"]

# The hostile name is text, not markup: no script ran, no <b> element.
titles = find("title")
check(titles and titles[0]["text"] == "quarantined: outbreak report",
      "the page's title is unchanged (no injected script ran)")
check(not find("script"), "no script element in the DOM")
check(not any(e["text"] == "cam" for e in find("b")), "no <b> element made of the hostile name")
check(HOSTILE_NAME in dom.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"'),
      "the hostile name is shown as text")

# Summary.
s = find("div", id="summary")
check(len(s) == 1, "one summary")
if s:
    a = s[0]["attrs"]
    blocked = totals["watched"] + totals["contained"] + totals["isolated"]
    check(int(a["data-hosts"]) == totals["total"], f"summary: {totals['total']} hosts as JSON")
    check(int(a["data-blocked"]) == blocked, f"summary: {blocked} blocked (decided, offline)")
    check(int(a["data-open-incidents"]) == len(rep["incidents"]), "summary: open incidents")

# Counts by department, each group and the totals, as the JSON.
main = find("table", id="counts")
check(main and main[0]["attrs"].get("data-by") == "department", "the main table is by department")
dom_groups = {}
idx = els.index(main[0]) if main else 0
for e in els[idx + 1:]:
    if e["tag"] == "table":
        break
    if e["tag"] == "tr" and "group" in (e["attrs"].get("class") or "").split():
        dom_groups[e["attrs"]["data-group"]] = e["attrs"]
    if e["tag"] == "tr" and "totals" in (e["attrs"].get("class") or "").split():
        dom_groups[None] = e["attrs"]
for g in rep["groups"] + [dict(totals, group=None)]:
    d = dom_groups.get(g["group"])
    ok = d is not None and all(int(d[f"data-{k}"]) == g[k] for k in STATES + ["total"])
    check(ok, f"counts row {g['group'] or 'totals'}: as JSON {[g[k] for k in STATES]}")
check(len(dom_groups) == len(rep["groups"]) + 1, "as many group rows as JSON groups")

# Who probed whom in the trace (tracegen's outbreak: the worm's
# infections), as the JSON report gives it from the capture.
smb_inc = [i for i in rep["incidents"] if i["rule"] == "smb-propagation"]
TRUTH = {("10.1.1.23", "10.1.1.31"), ("10.1.1.31", "10.1.1.5"), ("10.1.1.23", "10.1.2.14"),
         ("10.1.2.14", "10.1.2.40")}
check(smb_inc and {(e["from"], e["to"]) for e in smb_inc[0]["edges"]} == TRUTH and
      all(e["proto"] == "tcp" and e["port"] == 445 for e in smb_inc[0]["edges"]),
      f"JSON: the SMB incident's edges are the trace's infections {sorted(TRUTH)}")

# Incidents: patient zero, host counts, and the spread: the same hosts,
# as a tree of who infected whom from patient zero.
for inc in rep["incidents"]:
    sec = find("section", cls="incident", data_id=str(inc["id"]))
    check(len(sec) == 1, f"incident {inc['id']}: one section")
    if not sec:
        continue
    a = sec[0]["attrs"]
    check(a["data-rule"] == inc["rule"] and a["data-patient-zero"] == inc["patient_zero"] and
          int(a["data-hosts"]) == inc["hosts"] and int(a["data-open-hosts"]) == inc["open_hosts"],
          f"incident {inc['id']}: rule, patient zero {inc['patient_zero']}, hosts, open hosts")
    i = els.index(sec[0])
    hosts = []
    for e in els[i + 1:]:
        if e["tag"] == "section":
            break
        if e["tag"] == "g" and "spread-host" in (e["attrs"].get("class") or ""):
            hosts.append(e["attrs"])
    check(sorted(h["data-host"] for h in hosts) == sorted(t["host"] for t in inc["timeline"]),
          f"incident {inc['id']}: the spread draws the timeline's hosts")
    check(hosts and hosts[0]["data-host"] == inc["patient_zero"] and
          hosts[0].get("data-patient-zero") == "true", f"incident {inc['id']}: patient zero first")
    order = {h["data-host"]: k for k, h in enumerate(hosts)}
    roots = [h for h in hosts[1:] if "data-infected-by" not in h]
    check([h["data-order"] for h in hosts] == [str(k + 1) for k in range(len(hosts))] and
          all(order.get(h["data-infected-by"], len(hosts)) < order[h["data-host"]]
              for h in hosts if "data-infected-by" in h) and
          [h["data-probe"] for h in roots] == sorted(h["data-probe"] for h in roots),
          f"incident {inc['id']}: each host after the one that infected it, the others "
          f"by first probe")
    # The edges drawn are the JSON's (no loop in this trace: every edge
    # is drawn), and each host names its infector.
    drawn = set()
    for e in els[i + 1:]:
        if e["tag"] == "section":
            break
        if e["tag"] == "path" and "edge" in (e["attrs"].get("class") or "").split():
            a = e["attrs"]
            drawn.add((a["data-from"], a["data-to"], a["data-proto"], int(a["data-port"]),
                       a["data-ts"]))
    want = {(e["from"], e["to"], e["proto"], e["port"], e["ts"]) for e in inc["edges"]}
    check(drawn == want and int(sec[0]["attrs"]["data-edges"]) == len(want),
          f"incident {inc['id']}: the {len(want)} edges drawn are the JSON's")
    check({(h["data-infected-by"], h["data-host"]) for h in hosts if "data-infected-by" in h} ==
          {(e["from"], e["to"]) for e in inc["edges"]},
          f"incident {inc['id']}: each host drawn under its infector")
    tl = {t["host"]: t["state"] for t in inc["timeline"]}
    check(all(tl.get(h["data-host"]) == h["data-state"] for h in hosts),
          f"incident {inc['id']}: states as JSON")

# Timeline: every host detected once; bars add up; stacked by department.
for kind, want in (("detections", totals["total"]),
                   ("blocks", totals["watched"] + totals["contained"] + totals["isolated"])):
    svg = find("svg", id=f"timeline-{kind}")
    check(len(svg) == 1 and int(svg[0]["attrs"]["data-total"]) == want,
          f"timeline {kind}: {want} in all")
    i = els.index(svg[0]) if svg else 0
    bars = []
    for e in els[i + 1:]:
        if e["tag"] == "svg":
            break
        if e["tag"] == "rect" and "bar" in (e["attrs"].get("class") or ""):
            bars.append(e["attrs"])
    check(sum(int(b["data-n"]) for b in bars) == want, f"timeline {kind}: the bars add up")
    by_group = {}
    for b in bars:
        by_group[b["data-group"]] = by_group.get(b["data-group"], 0) + int(b["data-n"])
    jg = {g["group"]: g["total"] for g in rep["groups"]}
    if kind == "detections":
        check(by_group == jg, f"timeline {kind}: by department as the JSON groups {jg}")

# Open actions and certification.
act = find("table", id="actions")
check(act and int(act[0]["attrs"]["data-blocked"]) ==
      totals["watched"] + totals["contained"] + totals["isolated"], "open actions: every blocked host")
rows = find("tr", cls="action")
check(len(rows) == int(act[0]["attrs"]["data-shown"]) if act else False, "open actions: the rows")
cert = find("div", id="certification")
check(cert and all(int(cert[0]["attrs"][f"data-{k}"]) == totals[k]
                   for k in ("cleaning", "cleaned", "uncleanable")), "certification: as JSON")


# ---- the screenshot: not blank ----
def png_colours(path):
    """The distinct RGB colours of an 8-bit RGB or RGBA PNG (no PIL)."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, w = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and ctype in (2, 6), f"PNG depth {depth} type {ctype}"
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw, stride = zlib.decompress(idat), w * bpp
    prev, colours, i = bytearray(stride), set(), 0
    for _ in range(h):
        f, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b, c = prev[x], prev[x - bpp] if x >= bpp else 0
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + b) & 255
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                pr = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[x] = (line[x] + pr) & 255
        for x in range(0, stride, bpp):
            colours.add(bytes(line[x:x + 3]))
        prev = line
    return colours


shot = f"{work}/outbreak.png"
if os.path.exists(shot):
    os.unlink(shot)
r = subprocess.run(base + ["--window-size=1000,2400", f"--screenshot={shot}", url],
                   capture_output=True, text=True, timeout=180)
check(r.returncode == 0 and os.path.exists(shot) and os.path.getsize(shot) > 10000,
      f"chromium --screenshot wrote {shot}")
if os.path.exists(shot):
    cols = png_colours(shot)
    near = lambda rgb: any(all(abs(c[k] - rgb[k]) <= 3 for k in range(3)) for c in cols)
    check(len(cols) >= 16, f"the screenshot is not blank: {len(cols)} distinct colours")
    # Finance's bars (the first series) and an isolated host's marker.
    check(near((0x4e, 0x79, 0xa7)) and near((0xd6, 0x45, 0x45)),
          "the screenshot shows the charts' colours")

# ---- CSV: a row per host, the formula defused ----
rows = list(csv.reader(io.StringIO(report("csv").decode(), newline="")))
head, body = rows[0], rows[1:]
check(head[:3] == ["host", "state", "level"] and "patient_zero" in head, "CSV: the header")
check(len(body) == totals["total"], f"CSV: {totals['total']} rows, one per host")
col = {k: i for i, k in enumerate(head)}
states = {}
for row in body:
    states[row[col["state"]]] = states.get(row[col["state"]], 0) + 1
check(all(states.get(k, 0) == totals[k] for k in STATES), "CSV: the states add up to the JSON totals")
cam = [row for row in body if row[col["host"]] == "10.1.4.50"]
check(cam and cam[0][col["owner"]] == "'" + HOSTILE_OWNER and cam[0][col["name"]] == HOSTILE_NAME,
      "CSV: the formula owner defused with a leading ', the name kept")
smb = [i for i in rep["incidents"] if i["rule"] == "smb-propagation"]
check(smb and all(row[col["patient_zero"]] == smb[0]["patient_zero"] for row in body
                  if row[col["incident"]] == str(smb[0]["id"])), "CSV: patient zero per incident")
infector = {e["to"]: e["from"] for i in rep["incidents"] for e in i["edges"]}
check("infected_by" in col and
      all(row[col["infected_by"]] == infector.get(row[col["host"]], "") for row in body),
      "CSV: infected_by as the JSON's edges")

shutil.rmtree(profile, ignore_errors=True)
sys.exit(1 if failures else 0)
