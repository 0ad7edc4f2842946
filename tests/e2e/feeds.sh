#!/bin/bash
# e2e: detections from an IDS, through the feeds reader.
#
#   feeds.sh QUARANTINED QUARANTINECTL WORM
#
# The daemon follows a Suricata eve.json and a Zeek notice.log in the
# test's directory, and listens on a socket for Suricata's unix_stream
# output (the lines are our own, with the test's addresses):
# 1. status names the reader (no privilege) and each feed following;
# 2. an ET TROJAN alert on to_client traffic (outside server -> inside
#    host): the inside host is contained in the kernel, with source
#    suricata, rule ids:SIGNATURE and the alert in its history;
# 3. an inbound exploit alert (outside attacker -> inside server): the
#    inside victim is not blocked, and the reader counts it inbound;
# 4. Zeek notices about inside hosts (source zeek), as the test's map
#    says: Scan::Address_Scan on 445 contains on that port, Scan::Port_Scan
#    watches (the default);
# 5. a garbage line and an over-long line: an error event each, and the
#    next good line still works;
# 6. rotation (rename, new file, a late line in the renamed file): no
#    alert lost;
# 7. the daemon restarted: old lines are not applied again (the position
#    is kept), a line written while it was down and new ones are;
# 8. a client writes alerts to the socket, as Suricata's unix_stream
#    output does;
# 9. a reload with another map: a new reader, which keeps the positions
#    (no old line again) and applies the new map.
# Needs root; exit 77 (skipped) otherwise.
set -u
. "$(dirname "$0")/lib.sh"
qd_init "$@"

EVE=$QD_TMP/eve.json
ZEEK=$QD_TMP/notice.log
SOCK=$QD_TMP/eve.sock
OUTSIDE=10.66.200.80 # an outside server of the topology

# eve_alert SRC DST DIRECTION SIGNATURE CATEGORY SID: one eve.json alert
# line of Suricata 7 (flow endpoints: the client is SRC for to_server,
# DST for to_client).
eve_alert() {
	local client=$1 server=$2
	[ "$3" = to_client ] && client=$2 server=$1
	printf '{"timestamp":"%s","flow_id":%d,"in_iface":"br0","event_type":"alert","src_ip":"%s","src_port":%d,"dest_ip":"%s","dest_port":%d,"proto":"TCP","direction":"%s","flow":{"pkts_toserver":3,"pkts_toclient":4,"src_ip":"%s","dest_ip":"%s"},"alert":{"action":"allowed","gid":1,"signature_id":%d,"rev":1,"signature":"%s","category":"%s","severity":1,"metadata":{"signature_severity":["Major"]}}}\n' \
		"$(date -u +%Y-%m-%dT%H:%M:%S.000000+0000)" "$RANDOM" "$1" 80 "$2" 49152 "$3" \
		"$client" "$server" "$6" "$4" "$5"
}

# zeek_notice NOTE SRC DST [MORE]: a notice.log line in JSON (ts as an
# epoch float); MORE is appended to the object (',"p":445').
zeek_notice() {
	printf '{"ts":%s,"note":"%s","msg":"%s scanned %s","src":"%s","dst":"%s","actions":["Notice::ACTION_LOG"]%s}\n' \
		"$(date +%s.%N | cut -c1-17)" "$1" "$2" "$3" "$2" "$3" "${4:-}"
}

feed_field() { # FEED EXPR
	qctl --json status | qd_json "next((f$2 for f in d['feeds']['sources'] if f['name'] == '$1'), None)"
}

feed_above() { # FEED FIELD N: the feed's counter is above N
	[ "$(feed_field "$1" "['$2']")" -gt "$3" ] 2>/dev/null
}

# blocked ADDR: an element of one of the daemon's blocking sets holds ADDR
# (an address's record: con4/conh4/conp4/iso4, whichever the level and
# ports chose).
blocked() {
	qd_in gw nft list table inet quarantined 2>/dev/null |
		sed -n '/^\s*set \(con\|iso\)/,/^\s*}/p' | grep -qwF -- "$1"
}

feeds_following() {
	[ "$(feed_field ids1 "['state']")" = following ] &&
		[ "$(feed_field zeek1 "['state']")" = following ] &&
		[ "$(feed_field ids-sock "['state']")" = waiting ]
}

qd_say "topology and quarantined with three feeds"
qd_topology || exit 1
: >"$EVE"
: >"$ZEEK"
qd_config "feeds: {
  sources = (
    { name = \"ids1\"; kind = \"suricata\"; path = \"$EVE\"; },
    { name = \"zeek1\"; kind = \"zeek\"; path = \"$ZEEK\"; },
    { name = \"ids-sock\"; kind = \"suricata\"; socket = \"$SOCK\"; }
  );
  map = ( { note = \"Scan::Address_Scan\"; level = \"contain\"; } );
  max_line = 4096;
};"
qd_daemon_start || exit 1

qd_say "1. status"
qd_wait 10 "the feeds are followed" feeds_following
qd_check "status --json names the feeds reader, unprivileged and running" test \
	"$(qctl --json status | qd_json "[(p['state'], p['privileged']) for p in d['processes'] if p['name'] == 'feeds']")" = '[["running", false]]'
pid=$(qctl --json status | qd_json "d['feeds']['pid']")
qd_check "the reader holds no capability" \
	grep -q '^CapEff:[[:space:]]*0000000000000000$' "/proc/$pid/status"
qd_check "the reader runs under its seccomp filter" grep -q '^Seccomp:[[:space:]]*2$' "/proc/$pid/status"
qctl status | grep -E '^(feeds reader|feed )' | sed 's/^/    /'

qd_say "2. an ET TROJAN alert on to_client traffic: the inside receiver is contained"
qd_mark
eve_alert $OUTSIDE $QD_BEN to_client "ET TROJAN Test Backdoor Checkin Response" \
	"A Network Trojan was detected" 2999001 >>"$EVE"
ev=$(qd_wait_event 10 event=detect host=$QD_BEN) || exit 1
qd_check "the detect event says source suricata" test "$(echo "$ev" | qd_field source)" = suricata
qd_check "the detect event's rule is ids:SIGNATURE" \
	test "$(echo "$ev" | qd_field rule)" = "ids:ET TROJAN Test Backdoor Checkin Response"
qd_wait_event 10 event=action host=$QD_BEN level=contain >/dev/null || exit 1
qd_check "$QD_BEN is blocked in the kernel" blocked $QD_BEN
qd_check "the outside server is not" qd_not blocked $OUTSIDE
qd_check "its history holds the alert" eval \
	"qctl --json show $QD_BEN | grep -q 'Test Backdoor Checkin Response'"

qd_say "3. an inbound exploit: the inside victim is not blocked"
qd_mark
before=$(feed_field ids1 "['inbound']")
eve_alert $OUTSIDE $QD_INF to_server "ET EXPLOIT Test Web Shell Upload" \
	"Attempted Administrator Privilege Gain" 2999003 >>"$EVE"
qd_wait 10 "the reader counts an inbound alert" feed_above ids1 inbound "$before"
qd_check "no detection of the victim $QD_INF" qd_not qd_wait_event 0 event=detect host=$QD_INF
qd_check "$QD_INF is not blocked" qd_not blocked $QD_INF

qd_say "4. Zeek notices about inside hosts, as the map says: Scan::Address_Scan on 445 contains, Scan::Port_Scan watches (the default)"
qd_mark
zeek_notice Scan::Address_Scan $QD_INF 10.66.1.99 ',"p":445,"proto":"tcp"' >>"$ZEEK"
ev=$(qd_wait_event 10 event=detect host=$QD_INF) || exit 1
qd_check "the detect event says source zeek" test "$(echo "$ev" | qd_field source)" = zeek
qd_check "the rule is ids:Scan::Address_Scan" test "$(echo "$ev" | qd_field rule)" = "ids:Scan::Address_Scan"
qd_wait_event 10 event=action host=$QD_INF level=contain >/dev/null || exit 1
# The sensor may know inf's MAC (the topology's checks): then its
# machine is contained, by MAC.
qd_check "$QD_INF is contained on 445 in the kernel (its address or its machine's MAC)" \
	eval "blocked '$QD_INF . tcp . 445' || blocked '$(qd_mac inf) . tcp . 445'"
zeek_notice Scan::Port_Scan 10.66.1.27 10.66.1.99 >>"$ZEEK"
ev=$(qd_wait_event 10 event=detect host=10.66.1.27) || exit 1
qd_check "a Port_Scan notice: watch" test "$(echo "$ev" | qd_field action)" = watch
qd_check "10.66.1.27 is watched" test "$(qd_host_state 10.66.1.27)" = watched
qd_check "10.66.1.27 is not blocked" qd_not blocked 10.66.1.27

qd_say "5. a garbage line and an over-long line: error events, and the next line works"
qd_mark
echo 'this is {not json' >>"$EVE"
head -c 6000 /dev/zero | tr '\0' x >>"$EVE"
echo >>"$EVE"
eve_alert $OUTSIDE 10.66.1.21 to_client "ET TROJAN Test After Garbage" \
	"A Network Trojan was detected" 2999005 >>"$EVE"
qd_wait_event 10 event=detect host=10.66.1.21 >/dev/null || exit 1
qd_check "an error event names the bad line" eval "qd_events event=error | grep -F 'feed ids1: a bad line' >/dev/null"
qd_check "an error event names the over-long line" \
	eval "qd_events event=error | grep -F 'feed ids1: a line longer than 4096 bytes' >/dev/null"
qd_wait 5 "status counts the errors" feed_above ids1 errors 1

qd_say "6. rotation: the renamed file is finished, the new one read from its start"
qd_mark
eve_alert $OUTSIDE 10.66.1.22 to_client "ET TROJAN Test Before Rotation" \
	"A Network Trojan was detected" 2999006 >>"$EVE"
mv "$EVE" "$EVE.1"
eve_alert $OUTSIDE 10.66.1.23 to_client "ET TROJAN Test Late In Old File" \
	"A Network Trojan was detected" 2999007 >>"$EVE.1"
eve_alert $OUTSIDE 10.66.1.24 to_client "ET TROJAN Test After Rotation" \
	"A Network Trojan was detected" 2999008 >>"$EVE"
for h in 10.66.1.22 10.66.1.23 10.66.1.24; do
	qd_wait_event 10 event=action host=$h level=contain >/dev/null || exit 1
	qd_check "$h (around the rotation) is blocked" blocked $h
done
qd_wait 5 "status counts the rotation" feed_above ids1 rotations 0
rm -f "$EVE.1"

qd_say "7. restart: old lines are not applied again, new ones are"
qctl release 10.66.1.24 >/dev/null
qd_check "10.66.1.24 released" qd_not blocked 10.66.1.24
qd_daemon_stop TERM
qd_check "the daemon exits 0 ($QD_DRC)" test "$QD_DRC" = 0
qd_check "the state database keeps the position" \
	test "$(qd_sql "SELECT count(*) FROM meta WHERE key LIKE 'feed.ids1.%'")" = 5
# Written while the daemon is down: read at its start, from where the
# last one left (without the position, a file met at start is read from
# its end, and this line would be missed).
eve_alert $OUTSIDE 10.66.1.28 to_client "ET TROJAN Test While Down" \
	"A Network Trojan was detected" 2999011 >>"$EVE"
qd_mark
qd_daemon_start || exit 1
qd_wait 10 "the feeds are followed again" feeds_following
qd_wait_event 10 event=action host=10.66.1.28 level=contain >/dev/null || exit 1
qd_check "the line written while the daemon was down is applied" blocked 10.66.1.28
eve_alert $OUTSIDE 10.66.1.25 to_client "ET TROJAN Test After Restart" \
	"A Network Trojan was detected" 2999009 >>"$EVE"
qd_wait_event 10 event=action host=10.66.1.25 level=contain >/dev/null || exit 1
qd_check "the old line about 10.66.1.24 was not applied again" \
	qd_not qd_wait_event 0 event=detect host=10.66.1.24
qd_check "10.66.1.24 stays released" qd_not blocked 10.66.1.24
qd_wait 5 "status counts the new lines" feed_above ids1 lines 1
qd_check "lines read since the restart: 2" test "$(feed_field ids1 "['lines']")" = 2

qd_say "8. Suricata's unix_stream output: a client writes alerts to the socket"
qd_mark
python3 - "$SOCK" <<PYEOF
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
line = '''$(eve_alert $OUTSIDE 10.66.1.26 to_client "ET TROJAN Test Over Socket" "A Network Trojan was detected" 2999010)'''
# In two pieces, as a stream may deliver it.
s.sendall(line[:40].encode())
s.sendall((line[40:] + "\n").encode())
import time
time.sleep(1)
s.close()
PYEOF
qd_wait_event 10 event=action host=10.66.1.26 level=contain >/dev/null || exit 1
qd_check "10.66.1.26 (over the socket) is blocked" blocked 10.66.1.26
qd_wait 5 "status counts the client" feed_above ids-sock clients 0

qd_say "   metrics: the feeds' figures, in the strict format"
PROMCHECK="$(command -v /usr/bin/python3 || command -v python3) $QD_DIR/../ctl/promcheck.py"
qctl metrics >"$QD_TMP/metrics" || exit 1
qd_check "quarantinectl metrics passes the strict format check" \
	eval "$PROMCHECK --prefix quarantined_ --json $QD_TMP/metrics >$QD_TMP/metrics.json"
# (The figures come once a second.)
sock_detections() {
	qctl metrics >"$QD_TMP/metrics2" &&
		$PROMCHECK --prefix quarantined_ --json "$QD_TMP/metrics2" >"$QD_TMP/metrics2.json" &&
		[ "$($QD_PY json "int(d.get('quarantined_feed_detections_total{feed=ids-sock}', -1))" \
			<"$QD_TMP/metrics2.json")" = 1 ]
}
qd_wait 5 "metrics: the socket feed's detection" sock_detections
qd_check "metrics: the file feed is up" test \
	"$($QD_PY json "int(d.get('quarantined_feed_up{feed=ids1}', -1))" <"$QD_TMP/metrics.json")" = 1

qd_say "9. reload with another map: a new reader, the positions kept, the new map applied"
sed -i 's|map = ( {|map = ( { note = "Scan::Port_Scan"; level = "ignore"; }, {|' "$QD_CONF"
grep -F 'Scan::Port_Scan' "$QD_CONF" | sed 's/^/    /'
starts=$(qctl --json status | qd_json "d['feeds']['starts']")
qd_mark
qd_check "reload succeeds" qctl reload
new_reader() {
	[ "$(qctl --json status | qd_json "(d['feeds']['starts'], d['feeds']['state'])")" = \
		"[$((starts + 1)), \"running\"]" ]
}
qd_wait 10 "a new reader runs" new_reader
zeek_notice Scan::Port_Scan 10.66.1.29 10.66.1.99 >>"$ZEEK"
eve_alert $OUTSIDE 10.66.1.30 to_client "ET TROJAN Test After Reload" \
	"A Network Trojan was detected" 2999012 >>"$EVE"
qd_wait_event 10 event=detect host=10.66.1.30 >/dev/null || exit 1
zeek_notice Scan::Address_Scan 10.66.1.31 10.66.1.99 ',"p":445,"proto":"tcp"' >>"$ZEEK"
qd_wait_event 10 event=detect host=10.66.1.31 >/dev/null || exit 1
qd_check "the Port_Scan notice is ignored now (the new map)" \
	qd_not qd_wait_event 0 event=detect host=10.66.1.29
detects=$(tail -n +$((QD_MARK + 1)) "$QD_EVENTS" | grep -c '"event":"detect"')
qd_check "no old line applied again after the reload (detections since: $detects)" \
	test "$detects" = 2

qd_done
