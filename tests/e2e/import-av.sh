#!/bin/bash
# e2e: an antivirus console's export imported into a running daemon.
#
#   import-av.sh QUARANTINED QUARANTINECTL WORM
#
# The inventory names 10.66.1.10 "inf-pc.corp.example".  A CSV export as
# Sophos Central writes it (a BOM, CRLF, quoted fields) names:
#   line 2  INF-PC (short name, other case)   -> blocked by its inventory address
#   line 3  10.66.1.20 by address             -> blocked
#   line 4  NB-PC at 10.66.1.30 (never-block) -> refused, not blocked
#   line 5  line 2 again                      -> a duplicate, counted, no error
#   line 6  an address that is not one        -> a bad line, reported by number
#   line 7  ghost-pc, unknown                 -> an unknown name, reported
#   line 8  a record of 20 MB                 -> refused by number, nothing lost
#   line 9  10.66.1.40 (the admin host)       -> blocked: after the huge line
# Then: the events say source antivirus and rule av:THREAT, show says the
# source and the evidence, the state database (sqlite3) has both, and a
# restart keeps them.  Needs root; exit 77 (skipped) otherwise.
set -u
. "$(dirname "$0")/lib.sh"
qd_init "$@"

qd_say "topology and quarantined"
qd_topology || exit 1
qd_config "inventory = ( { net = \"$QD_INF/32\"; name = \"inf-pc.corp.example\"; department = \"finance\"; } );"
qd_daemon_start || exit 1

csv=$QD_TMP/sophos.csv
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
{
	printf '\xef\xbb\xbfComputer Name,IP Address,Threat Name,Detected at,Path\r\n'
	printf 'INF-PC,,Troj/Conficker-A,%s,"C:\\Windows\\a.exe"\r\n' "$now"
	printf ',%s,"W32/Worm, ""X""",%s,C:\\b.exe\r\n' "$QD_BEN" "$now"
	printf 'NB-PC,%s,Troj/Agent-Z,%s,C:\\c.exe\r\n' "$QD_NB" "$now"
	printf 'INF-PC,,Troj/Conficker-A,%s,"C:\\Windows\\a.exe"\r\n' "$now"
	printf 'bad-pc,not-an-ip,Troj/Bad,%s,C:\\d.exe\r\n' "$now"
	printf 'ghost-pc,,Troj/Ghost,%s,C:\\e.exe\r\n' "$now"
	printf 'huge-pc,,Troj/Huge,%s,' "$now"
	head -c 20000000 /dev/zero | tr '\0' 'x'
	printf '\r\n'
	printf 'ADM-PC,%s,Troj/Late,%s,C:\\f.exe\r\n' "$QD_ADM" "$now"
} >"$csv"

qd_say "1. import --format csv --source-name sophos-central"
qd_mark
qctl --json import --format csv --source-name sophos-central "$csv" >"$QD_TMP/import.json"
rc=$?
cat "$QD_TMP/import.json"
qd_check "the import exits 1 (bad lines were refused)" test "$rc" = 1
j() { qd_json "$1" <"$QD_TMP/import.json"; }
qd_check "three imported" test "$(j 'd["imported"]')" = 3
qd_check "one duplicate, not an error" test "$(j 'd["duplicates"]')" = 1
qd_check "one refused by policy (never-block)" test "$(j 'd["refused"]')" = 1
qd_check "one unknown name" test "$(j 'd["unknown"]')" = 1
qd_check "two bad lines" test "$(j 'd["bad"]')" = 2
qd_check "line 4 refused: never-block" \
	test "$(j '[p["problem"] for p in d["problems"] if p["line"] == 4]')" = '["refused"]'
qd_check "line 6 is a bad line" \
	test "$(j '[p["problem"] for p in d["problems"] if p["line"] == 6]')" = '["bad"]'
qd_check "line 7 is an unknown name" \
	test "$(j '[p["host"] for p in d["problems"] if p["problem"] == "unknown"]')" = '["ghost-pc"]'
qd_check "line 8 (20 MB) refused by its number" \
	test "$(j '[p["reason"] for p in d["problems"] if p["line"] == 8]')" = '["longer than 8192 bytes"]'

qd_say "2. the kernel, the events"
for h in $QD_INF $QD_BEN $QD_ADM; do
	qd_wait 5 "$h blocked in the kernel" qd_in_any_set $h
done
qd_check "$QD_NB (never-block) is in no set" qd_not qd_in_any_set $QD_NB
qd_check "$QD_INF no longer reaches $QD_WEB:80" qd_not qd_connect inf $QD_WEB 80
qd_check "$QD_NB still reaches $QD_WEB:80" qd_connect nb $QD_WEB 80
det=$(qd_wait_event 5 event=detect host=$QD_INF source=antivirus) || exit 1
echo "detect: $det"
qd_check "the detect event of $QD_INF says rule av:Troj/Conficker-A" \
	test "$(echo "$det" | qd_field rule)" = "av:Troj/Conficker-A"
qd_check "its evidence is the CSV line" \
	test "$(echo "$det" | qd_json 'd["evidence"]["original"]')" = "INF-PC,,Troj/Conficker-A,$now,\"C:\\Windows\\a.exe\""
qd_check "the rule of $QD_BEN keeps its quotes" \
	test "$(qd_events event=detect host=$QD_BEN | head -n1 | qd_field rule)" = 'av:W32/Worm, "X"'
qd_check "a never-block detect for $QD_NB" \
	test -n "$(qd_events event=detect host=$QD_NB source=antivirus why=never-block)"
qd_check "one detect event for $QD_INF (the duplicate suppressed)" \
	test "$(qd_events event=detect host=$QD_INF | wc -l)" = 1

qd_say "3. show, the state database"
qd_check "show --json: source antivirus" \
	test "$(qd_show_json $QD_INF 'd["detections"][0]["source"]')" = antivirus
qd_check "show --json: the history has the evidence" \
	test "$(qd_show_json $QD_INF '[h.get("evidence", "") for h in d["history"] if h["kind"] == "detect"][0]')" = "INF-PC,,Troj/Conficker-A,$now,\"C:\\Windows\\a.exe\""
qd_check "list --rule av:Troj/Conficker-A finds $QD_INF, with its sources" \
	test "$(qctl --json list --rule av:Troj/Conficker-A | qd_json '[(h["host"], h["sources"]) for h in d]')" = "[[\"$QD_INF\", [\"antivirus\"]]]"
qctl show $QD_INF >"$QD_TMP/show.txt"
qd_check "show (text): from antivirus, with the line" grep -qF "from antivirus: INF-PC,,Troj/Conficker-A" "$QD_TMP/show.txt"
qd_wait 10 "the detection is saved" \
	test -n "$(qd_sql "SELECT 1 FROM v1_history WHERE host = '$QD_INF' AND kind = 'detect' AND source = 'antivirus'")"
qd_check "v1_hits: the rule and its source" \
	test "$(qd_sql "SELECT rule || '|' || source FROM v1_hits WHERE host = '$QD_INF'")" = "av:Troj/Conficker-A|antivirus"
qd_check "v1_hosts: its sources" \
	test "$(qd_sql "SELECT sources FROM v1_hosts WHERE host = '$QD_INF'")" = antivirus
qd_check "v1_history: the evidence" \
	test "$(qd_sql "SELECT evidence FROM v1_history WHERE host = '$QD_INF' AND kind = 'detect'")" = "INF-PC,,Troj/Conficker-A,$now,\"C:\\Windows\\a.exe\""

qd_check "report --format csv: the rule and the source of $QD_INF" \
	sh -c "'$QD_CTL' -S '$QD_SOCK' report --format csv | grep -F '$QD_INF,' | grep -qE '\"av:Troj/Conficker-A\".*,antivirus.\$'"
qd_check "report --json: hosts by source" \
	test "$(qctl --json report | qd_json 'd["sources"]["antivirus"]')" = 4

qd_say "4. a restart keeps them; the same file again is all duplicates"
qd_daemon_stop
qd_check "quarantined stopped cleanly" test "$QD_DRC" = 0
qd_daemon_start || exit 1
qd_check "$QD_INF still blocked" qd_in_any_set $QD_INF
qd_check "show --json after the restart: rule and source" \
	test "$(qd_show_json $QD_INF '"%s|%s" % (d["detections"][0]["rule"], d["detections"][0]["source"])')" = "av:Troj/Conficker-A|antivirus"
qd_check "show --json after the restart: the evidence" \
	test "$(qd_show_json $QD_INF '[h.get("evidence", "") for h in d["history"] if h["kind"] == "detect"][0]')" = "INF-PC,,Troj/Conficker-A,$now,\"C:\\Windows\\a.exe\""
qctl --json import --format csv --source-name sophos-central "$csv" >"$QD_TMP/again.json"
cat "$QD_TMP/again.json"
qd_check "the same export again: nothing new, every known row a duplicate" \
	test "$(qd_json '"%d %s" % (d["imported"], d["duplicates"] >= 4)' <"$QD_TMP/again.json")" = "0 True"
qd_check "status --json counts them by source" \
	test "$(qd_status 'd["sources"]["antivirus"]["detections"] >= 5 and d["sources"]["antivirus"]["dropped"] == 0')" = true
qd_check "status says it in text" sh -c "'$QD_CTL' -S '$QD_SOCK' status | grep -q '^from outside: .*antivirus [1-9]'"
qctl metrics >"$QD_TMP/metrics.txt"
qd_check "metrics count the detections from antivirus" \
	grep -q '^quarantined_detections_by_source_total{source="antivirus"} [1-9]' "$QD_TMP/metrics.txt"
qd_fig "antivirus import" "$(j '"%d imported, %d duplicates, %d refused, %d unknown, %d bad" % (d["imported"], d["duplicates"], d["refused"], d["unknown"], d["bad"])')"
qd_done
