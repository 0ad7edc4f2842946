#!/bin/bash
# e2e: quarantinectl report --format html|csv from a live daemon, through
# the control socket.
#
#   report.sh QUARANTINED QUARANTINECTL WORM
#
# 1. An SMB worm on the infected host (10.66.1.10, in the inventory as
#    finance) gets it isolated; the benign host (10.66.1.20) is isolated
#    by hand for 1 h with a reason that tries markup.
# 2. report --format html -o FILE: one page that parses strictly
#    (python3-html5lib), whose data-* figures are those of --json report
#    at the same moment, whose open actions are the two blocked hosts with
#    their levels in force and the TTL left, and whose reason shows as
#    text; report --format csv: a row per host, the TTL's deadline in
#    "expires", the worm's incident and patient zero.
# 3. -o to a daemon that refuses (--format nonsense is caught by the
#    client; a stopped daemon) leaves the last good page as it was.
# Needs root; exit 77 (skipped) otherwise.  Chromium is tests/report's.
set -u
. "$(dirname "$0")/lib.sh"
qd_init "$@"

qd_say "topology and quarantined"
qd_topology || exit 1
qd_config "inventory = ( { net = \"10.66.1.0/24\"; department = \"finance\"; floor = \"3\";" \
	"  owner = \"IT Finance\"; } );"
qd_daemon_start || exit 1

qd_say "1. SMB worm on $QD_INF; $QD_BEN isolated by hand"
qd_worm inf "$QD_TMP/worm.json" -n $QD_NET_WORM -p 445 -r 50 -d 3
worm=$QD_LAST
qd_wait_event 10 event=action host=$QD_INF level=isolate >/dev/null || exit 1
wait "$worm"
qd_check "quarantine $QD_BEN succeeds" \
	qctl quarantine $QD_BEN --ttl 1h --reason '<script>alert(1)</script> & "x"'

qd_say "2. the page and the spreadsheet"
qd_check "report --format html -o succeeds" qctl report --format html -o "$QD_TMP/report.html"
qd_check "--json report succeeds" sh -c "'$QD_CTL' -S '$QD_SOCK' --json report >'$QD_TMP/report.json'"
qd_check "report --format csv -o succeeds" qctl report --format csv -o "$QD_TMP/report.csv"
qd_check "no temporary file left" test ! -e "$QD_TMP/report.html.tmp"
qd_fig "report page size (bytes)" "$(wc -c <"$QD_TMP/report.html")"

# The checks in python: the page's data-* figures against the JSON.
py=$(command -v /usr/bin/python3 || command -v python3)
cat >"$QD_TMP/check.py" <<'PY'
import csv, html.parser, json, sys
page_path, json_path, csv_path, inf, ben = sys.argv[1:6]
page = open(page_path, encoding="utf-8").read()
rep = json.load(open(json_path))
t = rep["totals"]
fails = 0
def check(cond, what):
    global fails
    print(("ok:   " if cond else "FAIL: ") + what)
    fails += not cond
try:
    import html5lib
    html5lib.HTMLParser(strict=True).parse(page)
    check(True, "html5lib parses the page strictly")
except ImportError:
    check(False, "python3-html5lib is installed (tools/deps.sh)")
except Exception as e:
    check(False, f"html5lib parses the page strictly: {e}")
class P(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(); self.els = []
    def handle_starttag(self, tag, attrs):
        self.els.append((tag, dict(attrs)))
p = P(); p.feed(page)
def one(tag, **kw):
    m = [a for t2, a in p.els if t2 == tag and all(a.get(k.replace("_", "-")) == v for k, v in kw.items())]
    return m[0] if len(m) == 1 else None
body = one("body")
check(body is not None and body["data-offline"] == "false", "the page is live (data-offline false)")
s = one("div", id="summary")
check(s and int(s["data-hosts"]) == t["total"], f"summary: {t['total']} hosts as --json report")
check(s and int(s["data-blocked"]) == 2, "summary: 2 hosts blocked")
rows = {a.get("data-group"): a for t2, a in p.els if t2 == "tr" and a.get("class") in ("group", "totals")}
fin = [g for g in rep["groups"] if g["group"] == "finance"]
check(fin and rows.get("finance") and all(int(rows["finance"]["data-" + k]) == fin[0][k]
      for k in fin[0] if k != "group"), "counts: finance as --json report")
acts = {a["data-host"]: a["data-level"] for t2, a in p.els if t2 == "tr" and a.get("class") == "action"}
check(acts == {inf: "isolate", ben: "isolate"}, f"open actions: both hosts isolated ({acts})")
check("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;x&quot;" in page and "<script" not in page,
      "the reason shows as text")
# The TTL left of the 1 h quarantine: 59m or 1h.
i = page.find(f'data-host="{ben}"')
row = page[i:page.find("</tr>", i)]
check("59m" in row or "1h 0m" in row, "open actions: the TTL left of the 1 h quarantine")
inc = [x for x in rep["incidents"] if x["patient_zero"] == inf]
sec = one("section", data_patient_zero=inf)
check(inc and sec and int(sec["data-hosts"]) == inc[0]["hosts"], "the worm's incident, patient zero first")
spread = [a for t2, a in p.els if t2 == "g" and "spread-host" in a.get("class", "")]
check(spread and spread[0]["data-host"] == inf and spread[0].get("data-patient-zero") == "true",
      "the spread starts at patient zero")
r = list(csv.DictReader(open(csv_path, newline="")))
check(len(r) == t["total"], f"CSV: {t['total']} rows")
b = [x for x in r if x["host"] == ben]
check(b and b[0]["level"] == "isolate" and b[0]["expires"].endswith("Z") and
      b[0]["reason"].startswith("<script>"), "CSV: the manual block, its deadline and reason")
w = [x for x in r if x["host"] == inf]
check(w and inc and w[0]["incident"] == str(inc[0]["id"]) and w[0]["patient_zero"] == inf and
      w[0]["department"] == "finance", "CSV: the worm's incident, patient zero and department")
sys.exit(1 if fails else 0)
PY
qd_check "the page and the CSV agree with --json report" \
	$py "$QD_TMP/check.py" "$QD_TMP/report.html" "$QD_TMP/report.json" "$QD_TMP/report.csv" \
	$QD_INF $QD_BEN

qd_say "3. a failed report leaves the last good page"
cp "$QD_TMP/report.html" "$QD_TMP/good.html"
qd_check "report --format nonsense is a usage error" \
	test "$(qctl report --format nonsense -o "$QD_TMP/report.html" 2>/dev/null; echo $?)" = 2
qd_daemon_stop
qd_check "report to a stopped daemon fails (exit 3)" \
	test "$(qctl report --format html -o "$QD_TMP/report.html" 2>/dev/null; echo $?)" = 3
qd_check "the last good page is as it was" cmp -s "$QD_TMP/good.html" "$QD_TMP/report.html"
qd_check "no temporary file left" test ! -e "$QD_TMP/report.html.tmp"

qd_done
