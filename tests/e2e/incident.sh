#!/bin/bash
# e2e: incident management on the live daemon.
#
#   incident.sh QUARANTINED QUARANTINECTL WORM
#
# 1. Two hosts run an SMB worm: both isolated, one incident whose patient
#    zero is the host that started first; each has an evidence pcap that
#    tcpdump reads and that holds its probes.
# 2. Certification: mark cleaning (still blocked), cleaned (released).
# 3. kill -9 during the outbreak, restart: the same hosts in the same
#    states, and the kernel's set equal to what the state says.
# 4. Bulk import of 10,000 addresses with malformed lines: the good ones
#    blocked in batches, every bad line reported, exit status 1; then a
#    bulk release.
# Needs root; exit 77 (skipped) otherwise.
set -u
. "$(dirname "$0")/lib.sh"
qd_init "$@"

qd_say "topology and quarantined (10.80.0.0/16 protected too, for the bulk import)"
qd_topology || exit 1
qd_config
sed -i 's|protected = \[ "10.66.1.0/24", "10.66.2.0/24" \];|protected = [ "10.66.1.0/24", "10.66.2.0/24", "10.80.0.0/16" ];|' "$QD_CONF"
grep -q 10.80.0.0/16 "$QD_CONF" || { echo "FAIL: config"; exit 1; }
qd_daemon_start || exit 1

qd_say "1. $QD_INF starts an SMB worm; 1 s later $QD_BEN does too"
qd_worm inf "$QD_TMP/w1.json" -n $QD_NET_WORM -p 445 -r 50 -d 3
w1=$QD_LAST
sleep 1
qd_worm ben "$QD_TMP/w2.json" -n $QD_NET_WORM -p 445 -r 50 -d 2
w2=$QD_LAST
qd_wait_event 10 event=action host=$QD_INF level=isolate >/dev/null || exit 1
qd_wait_event 10 event=action host=$QD_BEN level=isolate >/dev/null || exit 1
wait "$w1" "$w2"
qctl --json incidents >"$QD_TMP/inc.json"
cat "$QD_TMP/inc.json"
smb='next((i for i in d if i["rule"] == "smb-propagation"), {})'
qd_check "one SMB incident with 2 hosts" \
	test "$(qd_json "$smb.get('hosts')" <"$QD_TMP/inc.json")" = 2
qd_check "its patient zero is $QD_INF" \
	test "$(qd_json "$smb.get('patient_zero')" <"$QD_TMP/inc.json")" = $QD_INF

tcpdump_reads() {
	tcpdump -nn -r "$1" >/dev/null 2>&1
}
sleep 0.3 # the evidence files are flushed every 100 ms
for h in $QD_INF $QD_BEN; do
	ev=$(qctl --json show $h | qd_field evidence)
	f="$QD_STATE/evidence/$ev"
	qd_check "$h has an evidence file ($ev)" test -n "$ev" -a -s "$f"
	qd_check "tcpdump reads it" tcpdump_reads "$f"
	syns=$(tcpdump -nn -r "$f" "src host $h and tcp dst port 445 and tcp[13] & 2 != 0" 2>/dev/null | wc -l)
	qd_fig "SYNs of $h to tcp/445 in its evidence file" "$syns"
	qd_check "the evidence holds the probes that flagged it (>= 10 SYNs)" test "$syns" -ge 10
done

qd_say "2. certification of $QD_INF"
qd_check "mark cleaning" qctl mark $QD_INF cleaning --reason "re-imaging"
qd_check "state cleaning" test "$(qd_host_state $QD_INF)" = cleaning
qd_check "still isolated in the kernel while it is being cleaned" qd_in_set iso4 $QD_INF
qd_check "mark cleaned" qctl mark $QD_INF cleaned --reason "re-imaged, AV scan clean"
qd_check "state cleaned" test "$(qd_host_state $QD_INF)" = cleaned
qd_check "released in the kernel" qd_not qd_in_set iso4 $QD_INF
qd_check "$QD_INF reaches $QD_WEB:80 again" qd_connect inf $QD_WEB 80
qctl --json show $QD_INF | qd_json '"\n".join("%s %s %s %s" % (h["kind"], h["state"], h["by"], h["text"]) for h in d["history"])'
qd_check "the history records both marks" \
	test "$(qctl --json show $QD_INF | qd_json 'len([h for h in d["history"] if h["kind"] == "mark"])')" = 2

qd_say "3. more of the outbreak, then kill -9 and restart"
qd_check "mark $QD_BEN uncleanable" qctl mark $QD_BEN uncleanable
qd_check "manual isolation of 10.66.1.77 with a TTL" qctl quarantine 10.66.1.77 --ttl 1h --reason "AV console"
qd_check "manual containment of $QD_ADM" qctl quarantine $QD_ADM --level contain --proto tcp --ports 22,3389
list_states() {
	qctl --json list | qd_json '"\n".join(sorted("%s %s %s" % (h["host"], h["state"], h["level"]) for h in d))'
}
set_elems() {
	qd_in gw nft list table inet quarantined | grep -oE '10\.66\.[0-9.]+( \. tcp \. [0-9]+)?' | sort -u
}
before=$(list_states)
kbefore=$(set_elems)
echo "$before"
qd_daemon_stop KILL
qd_daemon_start || exit 1
after=$(list_states)
kafter=$(set_elems)
echo "$after"
qd_check "the same hosts in the same states after kill -9 and a restart" test "$before" = "$after"
qd_check "the kernel's sets unchanged" test "$kbefore" = "$kafter"
want=$(qctl --json list | qd_json '"\n".join(sorted(h["host"] for h in d if h["level"] == "isolate"))')
have=$(qd_in gw nft list set inet quarantined iso4 | grep -oE '10\.66\.[0-9.]+' | sort -u)
qd_check "iso4 holds exactly the hosts the state says are isolated" test "$want" = "$have"
qd_check "the TTL survived" qd_elem_has iso4 10.66.1.77 "expires"
qd_check "$QD_BEN is still uncleanable" test "$(qd_host_state $QD_BEN)" = uncleanable
qd_check "$QD_INF is still cleaned" test "$(qd_host_state $QD_INF)" = cleaned

qd_say "4. bulk import of 10,000 addresses with 3 malformed lines and 1 outside address"
{
	echo "# exported from the AV console"
	for a in $(seq 0 39); do
		for b in $(seq 1 250); do
			echo "10.80.$a.$b"
		done
	done
	echo "10.80.1.300"
	echo "not-an-address"
	echo "10.80.2.3/24"
	echo "8.8.8.8"
} >"$QD_TMP/bulk.txt"
t0=$(date +%s%N)
qctl quarantine --from "$QD_TMP/bulk.txt" --reason "AV export" >"$QD_TMP/bulk.out" 2>"$QD_TMP/bulk.err"
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
cat "$QD_TMP/bulk.out" "$QD_TMP/bulk.err"
qd_fig "bulk quarantine of 10,000 addresses (ms, client to answer)" $ms
qd_check "exit status 1 (some lines refused)" test $rc = 1
qd_check "4 refused lines reported" test "$(grep -c 'refused' "$QD_TMP/bulk.out")" = 4
qd_check "the outside address refused as such" grep -q "8.8.8.8: refused: outside the protected networks" "$QD_TMP/bulk.out"
n=$(qd_in gw nft list set inet quarantined iso4 | grep -oE '10\.80\.[0-9.]+' | wc -l)
qd_fig "10.80/16 addresses in iso4 after the import" "$n"
qd_check "10,000 addresses isolated in the kernel" test "$n" = 10000
# One event for the list, none for each host; each host has its history.
qd_check "one bulk event: 10,000 isolated, 4 refused, none failed" \
	test "$(grep -c '"event":"bulk","command":"quarantine","level":"isolate",.*"count":10000,"unchanged":0,"kept_higher":0,"refused":4,"failed":0,.*"reason":"AV export"' "$QD_EVENTS")" = 1
qd_check "no action event for each host of the list" \
	test "$(grep -c '"event":"action","host":"10\.80\.' "$QD_EVENTS")" = 0
qctl show 10.80.39.250 >"$QD_TMP/show-bulk.out"
qd_check "a host of the list has the action in its history" \
	grep -q 'isolate .*AV export' "$QD_TMP/show-bulk.out"
t0=$(date +%s%N)
qctl release --from "$QD_TMP/bulk.txt" >/dev/null 2>&1
ms=$((($(date +%s%N) - t0) / 1000000))
qd_fig "bulk release of 10,000 addresses (ms)" $ms
n=$(qd_in gw nft list set inet quarantined iso4 | grep -oE '10\.80\.[0-9.]+' | wc -l)
qd_check "all released from the kernel" test "$n" = 0

qd_done
