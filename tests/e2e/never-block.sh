#!/bin/bash
# e2e: a never-block host that scans is alerted on, never blocked.
#
#   never-block.sh QUARANTINED QUARANTINECTL WORM
#
# 10.66.1.30 is in networks.never_block.  It runs an nmap SYN scan of
# tcp/445 over 128 addresses of the out namespace at 50 packets/s (the
# worm when nmap is not installed).  The daemon must report detect events
# with "why":"never-block" and enforced false, take no action, put the
# host in no set, and every probe must keep reaching the outside.  Needs
# root; exit 77 (skipped) otherwise.
set -u
. "$(dirname "$0")/lib.sh"
qd_init "$@"

qd_say "topology and quarantined"
qd_topology || exit 1
qd_count_add nb445 ip saddr $QD_NB tcp dport 445 'tcp flags & (syn|ack) == syn' || exit 1
qd_daemon_start || exit 1

target=10.66.128.0/25
if command -v nmap >/dev/null; then
	qd_say "never-block $QD_NB: nmap -sS -p445 $target at 50 packets/s"
	qd_bg_out nb "$QD_TMP/scan.out" nmap -n -Pn -sS -p 445 --max-rate 50 --max-retries 0 \
		--host-timeout 30s $target
	expect=128
	scanner=nmap
else
	qd_say "never-block $QD_NB: (no nmap) the worm, 128 probes to tcp/445 of $target"
	qd_worm nb "$QD_TMP/scan.out" -n $target -p 445 -r 50 -d 3 -m seq
	expect=150
	scanner=worm
fi
scan=$QD_LAST

det=$(qd_wait_event 10 event=detect host=$QD_NB rule=smb-propagation) || exit 1
echo "detect: $det"
c_det=$(qd_count nb445)
wait "$scan"
tail -n 3 "$QD_TMP/scan.out"
c_end=$(qd_count nb445)

qd_check "the detect event says never-block and not enforced" \
	test "$(echo "$det" | qd_json '"%s %s" % (d["enforced"], d.get("why"))')" = "False never-block"
n_det=$(qd_events event=detect host=$QD_NB | wc -l)
n_nb=$(qd_events event=detect host=$QD_NB why=never-block enforced=false | wc -l)
qd_check "every detect event of the host says never-block ($n_nb of $n_det)" test "$n_nb" = "$n_det"
qd_check "no action event for the host" test -z "$(qd_events event=action host=$QD_NB)"
qd_check "the host is in no set" qd_not qd_in_any_set $QD_NB
state=$(qd_host_state $QD_NB)
qd_check "quarantinectl list shows it unblocked (state $state)" \
	test "$state" = detected -o "$state" = absent
qd_check "its probes kept reaching the outside after the detection ($c_det then $c_end)" \
	test "$c_end" -gt "$c_det"
qd_check "every probe reached the outside ($c_end of $expect)" test "$c_end" = "$expect"
qd_check "it still reaches $QD_WEB:80" qd_connect nb $QD_WEB 80

qctl --json allowlist >"$QD_TMP/allowlist.json"
qd_check "allowlist names $QD_NB from the config" \
	test "$(qd_json 'sorted(e["origin"] for e in d["never_block"] if e["net"].startswith("'$QD_NB'/"))' <"$QD_TMP/allowlist.json")" = '["config (networks.never_block)"]'
qd_check "allowlist names the gateway's own 10.66.1.1" \
	test "$(qd_json 'sum(1 for e in d["never_block"] if e["net"] == "10.66.1.1" and e["origin"] == "the gateway'"'"'s own address")' <"$QD_TMP/allowlist.json")" = 1
qd_fig "never-block scanner" "$scanner, $n_det detect events (never-block), $c_end of $expect probes reached the outside, $((c_end - c_det)) of them after the first smb-propagation detect"
qd_done
