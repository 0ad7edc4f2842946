#!/bin/bash
# e2e: who probed whom, on the live daemon (quarantined(8), Incidents).
#
#   spread.sh QUARANTINED QUARANTINECTL WORM
#
# 1. 10.66.1.10 probes 10.66.1.20 on tcp/445 (host to host inside br0,
#    seen on the bridge ports), then spreads as an SMB worm: flagged, an
#    incident with it as patient zero.
# 2. Past the incident window, 10.66.1.20 spreads too: infected by
#    10.66.1.10 (show, text and JSON; the detect event), and in its
#    incident all the same; the report's JSON has the edge, the HTML page
#    draws it, the CSV names the infector.
# 3. 10.66.1.30, which no flagged host probed, spreads on SMB after the
#    window: an incident of its own, infected by nobody known.
# 4. A restart keeps who infected whom (the state).
# Needs root; exit 77 (skipped) otherwise.
set -u
. "$(dirname "$0")/lib.sh"
qd_init "$@"

qd_say "topology and quarantined (incident window 3 s; capturing on the bridge ports)"
qd_topology || exit 1
qd_config 'incident: { window = "3s"; };'
# Host-to-host frames inside br0 do not reach br0's own capture: the
# bridge ports are captured too (a frame seen twice counts once).
qd_daemon_start -i v-inf -i v-ben -i v-nb -i v-adm || exit 1

qd_say "1. $QD_INF probes $QD_BEN on tcp/445, then spreads"
qd_connect inf $QD_BEN 445 # refused: nothing listens; a first contact all the same
sleep 0.5
qd_mark
qd_worm inf "$QD_TMP/w1.json" -n $QD_NET_WORM -p 445 -r 50 -d 2
w1=$QD_LAST
qd_wait_event 10 event=detect host=$QD_INF rule=smb-propagation >/dev/null || exit 1
wait "$w1"
inc1=$(qctl --json show $QD_INF | qd_json 'd["detections"][0]["incident"]')
qd_check "$QD_INF is in incident $inc1, infected by nobody known" \
	test "$(qd_show_json $QD_INF 'd["infected_by"]')" = null

qd_say "2. past the window (3 s), $QD_BEN spreads"
sleep 4
qd_mark
qd_worm ben "$QD_TMP/w2.json" -n $QD_NET_WORM -p 445 -r 50 -d 2
w2=$QD_LAST
ev=$(qd_wait_event 10 event=detect host=$QD_BEN rule=smb-propagation) || exit 1
wait "$w2"
echo "$ev"
qctl show $QD_BEN
qctl --json show $QD_BEN >"$QD_TMP/ben.json"
qd_check "show --json: infected by $QD_INF on tcp/445" \
	test "$(qd_json 'd["infected_by"]["host"], d["infected_by"]["proto"], d["infected_by"]["port"]' \
		<"$QD_TMP/ben.json")" = "[\"$QD_INF\", \"tcp\", 445]"
show_names_infector() {
	qctl show $QD_BEN | grep -q "^infected by: $QD_INF (tcp/445 at "
}
qd_check "show: infected by $QD_INF" show_names_infector
qd_check "the detect event names the infector" \
	test "$(echo "$ev" | qd_json '[d.get("infected_by"), d.get("infected_by_port")]')" = "[\"$QD_INF\", 445]"
qd_check "the first contact came before $QD_BEN's first probe" \
	test "$(qd_json 'd["infected_by"]["ts"] < d["first_probe"]' <"$QD_TMP/ben.json")" = true
inc2=$(qd_json 'd["detections"][0]["incident"]' <"$QD_TMP/ben.json")
qd_check "$QD_BEN joined incident $inc1 after its window (in $inc2)" test "$inc2" = "$inc1"
qctl --json incidents >"$QD_TMP/inc.json"
qd_check "incident $inc1: 2 hosts, patient zero $QD_INF" \
	test "$(qd_json "next([i['hosts'], i['patient_zero']] for i in d if i['id'] == $inc1)" \
		<"$QD_TMP/inc.json")" = "[2, \"$QD_INF\"]"

qctl --json report >"$QD_TMP/report.json"
qd_check "report --json: the edge $QD_INF -> $QD_BEN in incident $inc1" \
	test "$(qd_json "next([[e['from'], e['to'], e['proto'], e['port']] for e in i['edges']] for i in d['incidents'] if i['id'] == $inc1)" \
		<"$QD_TMP/report.json")" = "[[\"$QD_INF\", \"$QD_BEN\", \"tcp\", 445]]"
qd_check "report --format html -o succeeds" qctl report --format html -o "$QD_TMP/report.html"
qd_check "the page draws the edge" \
	grep -q "<path class=\"edge\" data-from=\"$QD_INF\" data-to=\"$QD_BEN\" data-proto=\"tcp\" data-port=\"445\"" \
	"$QD_TMP/report.html"
qd_check "the page draws $QD_BEN under $QD_INF" \
	grep -q "data-host=\"$QD_BEN\"[^>]* data-depth=\"1\" data-infected-by=\"$QD_INF\">" "$QD_TMP/report.html"
qd_check "report --format csv -o succeeds" qctl report --format csv -o "$QD_TMP/report.csv"
# csv_field FILE HOST COLUMN: the column (by its header) of HOST's row.
csv_field() {
	/usr/bin/python3 -c 'import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
print(next((r[sys.argv[3]] for r in rows if r["host"] == sys.argv[2]), ""))' "$@"
}
qd_check "the CSV's infected_by names the infector" \
	test "$(csv_field "$QD_TMP/report.csv" $QD_BEN infected_by)" = "$QD_INF"

qd_say "3. $QD_NB, probed by no flagged host, spreads on SMB after the window"
sleep 4
qd_mark
qd_worm nb "$QD_TMP/w3.json" -n $QD_NET_WORM -p 445 -r 50 -d 2
w3=$QD_LAST
qd_wait_event 10 event=detect host=$QD_NB rule=smb-propagation >/dev/null || exit 1
wait "$w3"
qctl --json show $QD_NB >"$QD_TMP/nb.json"
qd_check "$QD_NB is infected by nobody known" test "$(qd_json 'd["infected_by"]' <"$QD_TMP/nb.json")" = null
qd_check "$QD_NB opened an incident of its own" \
	test "$(qd_json 'd["detections"][0]["incident"]' <"$QD_TMP/nb.json")" != "$inc1"

qd_check "the state database's v1_hosts names $QD_INF as who infected $QD_BEN" \
	test "$(qd_sql "SELECT count(*) FROM v1_hosts b WHERE b.addr = '$QD_BEN' AND
		b.infected_by IN ('$QD_INF', (SELECT host FROM v1_hosts WHERE addr = '$QD_INF'))")" = 1
qd_check "and nobody as who infected $QD_INF" \
	test "$(qd_sql "SELECT count(*) FROM v1_hosts WHERE addr = '$QD_INF' AND infected_by IS NULL")" = 1

qd_say "4. a restart keeps who infected whom"
qd_daemon_stop
qd_daemon_start -i v-inf -i v-ben -i v-nb -i v-adm || exit 1
qd_check "after the restart: $QD_BEN infected by $QD_INF" \
	test "$(qd_show_json $QD_BEN 'd["infected_by"]["host"]')" = $QD_INF
qd_check "and $QD_INF by nobody known" test "$(qd_show_json $QD_INF 'd["infected_by"]')" = null

qd_done
