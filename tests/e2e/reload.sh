#!/bin/bash
# e2e: reloading the configuration (SIGHUP and quarantinectl reload).
#
#   reload.sh QUARANTINED QUARANTINECTL WORM
#
# A broken config is refused with its problems and the running one stays
# (the blocks, the rules); a config whose never_block list now holds a
# blocked host unblocks it in the kernel at once; a changed remediation
# list is in the kernel's set at once; tracked hosts and blocks survive a
# reload that changes the rules; a new capture.buffer_mb takes effect
# (the new sensor's packet ring has the new size).  Needs root; exit 77 (skipped) otherwise.
set -u
. "$(dirname "$0")/lib.sh"
qd_init "$@"

qd_say "topology and quarantined"
qd_topology || exit 1
qd_daemon_start || exit 1

qd_say "the operator isolates $QD_INF and $QD_BEN"
qctl quarantine $QD_INF --reason "reload test" >/dev/null
qctl quarantine $QD_BEN --reason "reload test" >/dev/null
qd_check "$QD_INF isolated" qd_in_set iso4 $QD_INF
qd_check "$QD_BEN isolated" qd_in_set iso4 $QD_BEN

qd_say "a broken config: refused, the running one stays"
cp "$QD_CONF" "$QD_TMP/good.conf"
printf 'networks: { protected = [ "10.66.1.0/33" ]; };\nbogus = 1;\n' >>"$QD_CONF"
out=$(qctl reload 2>&1)
rc=$?
echo "$out"
qd_check "reload of a broken config exits 1" [ $rc = 1 ]
qd_check "its problems are reported with file:line" grep -q "$QD_CONF:[0-9]*:" <<<"$out"
qd_check "the blocks stay" qd_in_set iso4 $QD_INF
qd_check "the daemon still answers" qctl status >/dev/null
kill -HUP "$QD_DPID"
sleep 0.3
qd_check "SIGHUP with the broken config: still running" kill -0 "$QD_DPID"

qd_say "never_block now holds $QD_BEN, remediation gets 10.66.200.11, a rule changes"
cp "$QD_TMP/good.conf" "$QD_CONF"
sed -i "s|never_block = \[ \"$QD_NB\" \];|never_block = [ \"$QD_NB\", \"$QD_BEN\" ];|" "$QD_CONF"
sed -i "s|remediation = \[ \"$QD_REM\" \];|remediation = [ \"$QD_REM\", \"10.66.200.11\" ];|" "$QD_CONF"
echo 'rules = ( { name = "smb-propagation"; distinct_dst = 5; } );' >>"$QD_CONF"
qd_mark
t0=$(date +%s%N)
out=$(qctl reload 2>&1)
rc=$?
echo "$out"
qd_check "reload exits 0" [ $rc = 0 ]
qd_wait 2 "$QD_BEN leaves iso4" qd_not qd_in_set iso4 $QD_BEN
qd_fig "reload -> never-block host out of the kernel set (ms)" $((($(date +%s%N) - t0) / 1000000))
qd_check "$QD_BEN is released" [ "$(qd_host_state $QD_BEN)" = released ]
qd_check "the release event says why" qd_wait_event 2 event=release host=$QD_BEN
qd_check "$QD_INF stays isolated" qd_in_set iso4 $QD_INF
qd_check "$QD_INF stays in the registry" [ "$(qd_host_state $QD_INF)" = isolated ]
qd_check "remediation set has 10.66.200.11" qd_in_set rem4 10.66.200.11
qd_check "the old remediation address is still in the set" \
	qd_in_set rem4 "$QD_REM"
qd_check "quarantinectl refuses to block the never-block host now" \
	qd_not qctl quarantine $QD_BEN

qd_say "networks.protected narrowed past $QD_INF: released at once, as a restart would"
sed -i 's|"10.66.1.0/24", "10.66.2.0/24"|"10.66.1.16/28", "10.66.2.0/24"|' "$QD_CONF"
grep -q '"10.66.1.16/28"' "$QD_CONF" || { echo "the test could not narrow networks.protected" >&2; exit 1; }
qd_mark
qd_check "reload exits 0" qctl reload
qd_wait 2 "$QD_INF leaves iso4" qd_not qd_in_set iso4 $QD_INF
ev=$(qd_wait_event 2 event=release host=$QD_INF)
echo "release: $ev"
qd_check "the release event names the protected networks ($(echo "$ev" | qd_field reason))" \
	grep -q "reload: .*protected networks" <<<"$(echo "$ev" | qd_field reason)"
qd_check "$QD_INF is released" [ "$(qd_host_state $QD_INF)" = released ]

qd_say "SIGHUP reloads too"
sed -i 's|distinct_dst = 5;|distinct_dst = 6;|' "$QD_CONF"
kill -HUP "$QD_DPID"
qd_check "SIGHUP: reloaded (log)" qd_wait 3 "reload logged" grep -q "configuration reloaded" "$QD_TMP/daemon.log"
qd_check "the daemon still answers" qctl status >/dev/null

# ring_mib: MiB of packet rings the sensor has mapped (its captures).
ring_mib() {
	local pid
	pid=$(qd_status 'd["sensor"]["pid"]')
	python3 - "/proc/$pid/maps" <<-'EOT'
		import sys
		n = 0
		for line in open(sys.argv[1]):
		    f = line.split()
		    if len(f) >= 6 and f[5].startswith("socket:"):
		        lo, hi = f[0].split("-")
		        n += int(hi, 16) - int(lo, 16)
		print(n // 1048576)
	EOT
}

qd_say "capture.buffer_mb: a reload applies it (a new sensor)"
before=$(ring_mib)
qd_check "the sensor's ring is the default 32 MiB ($before MiB)" test "$before" -ge 30 -a "$before" -le 34
echo 'capture: { interfaces = [ "br0" ]; buffer_mb = 8; };' >>"$QD_CONF"
sed -i '0,/^capture: { interfaces = \[ "br0" \]; };$/{//d}' "$QD_CONF"
qd_check "quarantinectl reload succeeds" qctl reload
after=$(ring_mib)
qd_check "the new sensor's ring is 8 MiB ($after MiB)" test "$after" -ge 7 -a "$after" -le 9

qd_done
