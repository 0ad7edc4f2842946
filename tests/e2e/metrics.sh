#!/bin/bash
# e2e: `quarantinectl metrics` during an outbreak, in the Prometheus text
# format 0.0.4 that node_exporter's textfile collector reads.
#
#   metrics.sh QUARANTINED QUARANTINECTL WORM
#
# Before any traffic, every family is there (zeros), and the text passes
# tests/ctl/promcheck.py, a strict checker of the format (HELP and TYPE
# once per family and before its samples, names, label syntax and
# escaping, histograms cumulative up to le="+Inf" equal to _count, no
# OpenMetrics-only types, no timestamps).  Then an SMB worm on 10.66.1.10
# is isolated; the metrics, taken between two `quarantinectl --json
# status` that agree, say what status says: hosts per state, detections,
# actions, failures, rate-limited, hosts tracked, and capture counters
# between the two.  Detections by rule name the SMB rule, actions by level
# the isolation, the nftables commit and state save histograms have
# counted, and the daemon's count of set elements is what the kernel's
# blocking sets hold.  pause shows in quarantined_paused.  When promtool
# (Debian's prometheus) is installed, `promtool check metrics` must
# accept the text too.  Needs root; exit 77 (skipped) otherwise.
set -u
. "$(dirname "$0")/lib.sh"
qd_init "$@"
PROMCHECK="$(command -v /usr/bin/python3 || command -v python3) $QD_DIR/../ctl/promcheck.py"

# metrics FILE: quarantinectl metrics into FILE, checked; its samples as
# JSON into FILE.json.
metrics() {
	qctl metrics >"$1" || return 1
	$PROMCHECK --prefix quarantined_ --json "$1" >"$1.json"
}

# m FILE SERIES: the value of SERIES (name{labels} as promcheck.py keys
# them: labels sorted, unquoted) in FILE.json.
m() {
	$QD_PY json "int(d.get('$2', -1))" <"$1.json"
}

qd_say "topology and quarantined (inet table, -i br0)"
qd_topology || exit 1
qd_daemon_start || exit 1

qd_say "before any outbreak"
qd_check "quarantinectl metrics passes the strict format check" metrics "$QD_TMP/m0"
cat "$QD_TMP/m0"
for s in 'quarantined_hosts{state=isolated}' 'quarantined_actions_total{level=isolate}' \
	'quarantined_detections_total{rule=smb-propagation}' 'quarantined_rate_limited_total' \
	'quarantined_action_errors_total' 'quarantined_paused' \
	'quarantined_nft_commit_duration_seconds_count' \
	'quarantined_sensor_deaths_total'; do
	qd_check "$s is there, at 0" test "$(m "$QD_TMP/m0" "$s")" = 0
done
qd_check "quarantined_mode{mode=enforce} is 1" test "$(m "$QD_TMP/m0" 'quarantined_mode{mode=enforce}')" = 1
qd_check "br0 is captured (quarantined_capture_up{interface=br0} 1)" \
	test "$(m "$QD_TMP/m0" 'quarantined_capture_up{interface=br0}')" = 1
qd_check "the saves at start are counted (quarantined_state_save_duration_seconds_count >= 1)" \
	test "$(m "$QD_TMP/m0" quarantined_state_save_duration_seconds_count)" -ge 1
# The text format has no JSON form: --json is a usage error, as a JSON
# object on stderr, and nothing on stdout.
rc=0
qctl --json metrics >"$QD_TMP/mj.out" 2>"$QD_TMP/mj.err" || rc=$?
qd_check "quarantinectl --json metrics is a usage error (exit status $rc)" test "$rc" = 2
qd_check "... said as {\"error\":...,\"exit\":2} on stderr" \
	test "$($QD_PY json "d['exit'] == 2 and 'no JSON form' in d['error']" <"$QD_TMP/mj.err")" = true
qd_check "... with nothing on stdout" test ! -s "$QD_TMP/mj.out"
if command -v promtool >/dev/null; then
	qd_check "promtool check metrics accepts it ($(promtool --version 2>&1 | head -n 1))" \
		promtool check metrics <"$QD_TMP/m0"
	promtool check metrics <"$QD_TMP/m0"
else
	echo "note: promtool is not installed (Debian's prometheus): the python check alone"
fi

qd_say "infected $QD_INF: SMB worm, 50 probes/s to tcp/445 of $QD_NET_WORM"
qd_worm inf "$QD_TMP/worm.json" -n $QD_NET_WORM -p 445 -r 50 -d 4
worm=$QD_LAST
qd_wait_event 10 event=action host=$QD_INF level=isolate enforced=true >/dev/null || exit 1
qd_stop "$worm"
sleep 1 # the sensor's figures come once a second

# The same moment: metrics between two status that agree on every
# figure compared (the capture counters may move: they are bracketed).
status_fig() {
	$QD_PY json '"%s %s %s %s %s %s" % (" ".join("%s=%s" % kv for kv in sorted(d["states"].items())), d["detections"], d["actions"], d["action_errors"], d["rate_limited"], d["hosts_tracked"])' <"$1"
}
# shellcheck disable=SC2317 # called through qd_wait
same_moment() {
	qctl --json status >"$QD_TMP/s1" && metrics "$QD_TMP/m1" &&
		qctl --json status >"$QD_TMP/s2" &&
		test "$(status_fig "$QD_TMP/s1")" = "$(status_fig "$QD_TMP/s2")"
}
qd_check "metrics taken between two status that agree" qd_wait 10 "a quiet moment" same_moment
cat "$QD_TMP/m1"
echo "status: $(status_fig "$QD_TMP/s2")"

for st in $($QD_PY json '" ".join(d["states"])' <"$QD_TMP/s2"); do
	want=$($QD_PY json "d['states']['$st']" <"$QD_TMP/s2")
	qd_check "quarantined_hosts{state=$st} is status's $want" \
		test "$(m "$QD_TMP/m1" "quarantined_hosts{state=$st}")" = "$want"
done
qd_check "one host isolated" test "$(m "$QD_TMP/m1" 'quarantined_hosts{state=isolated}')" = 1
# sum FILE PREFIX: the sum of the samples whose key starts with PREFIX.
sum() {
	$QD_PY json "sum(int(v) for k, v in d.items() if k.startswith('$2'))" <"$1.json"
}
sfield() {
	$QD_PY json "d['$1']" <"$QD_TMP/s2"
}
qd_check "detections by rule add up to status's $(sfield detections)" \
	test "$(sum "$QD_TMP/m1" 'quarantined_detections_total{')" = "$(sfield detections)"
qd_check "actions by level add up to status's $(sfield actions)" \
	test "$(sum "$QD_TMP/m1" 'quarantined_actions_total{')" = "$(sfield actions)"
qd_check "action errors: status's $(sfield action_errors)" \
	test "$(m "$QD_TMP/m1" quarantined_action_errors_total)" = "$(sfield action_errors)"
qd_check "rate-limited: status's $(sfield rate_limited)" \
	test "$(m "$QD_TMP/m1" quarantined_rate_limited_total)" = "$(sfield rate_limited)"
qd_check "hosts tracked: status's $(sfield hosts_tracked)" \
	test "$(m "$QD_TMP/m1" quarantined_hosts_tracked)" = "$(sfield hosts_tracked)"
qd_check "smb-propagation detected ($(m "$QD_TMP/m1" 'quarantined_detections_total{rule=smb-propagation}'))" \
	test "$(m "$QD_TMP/m1" 'quarantined_detections_total{rule=smb-propagation}')" -ge 1
qd_check "an isolation among the actions ($(m "$QD_TMP/m1" 'quarantined_actions_total{level=isolate}'))" \
	test "$(m "$QD_TMP/m1" 'quarantined_actions_total{level=isolate}')" -ge 1
rx() {
	$QD_PY json "next(i['$2'] for i in d['interfaces'] if i['name'] == 'br0')" <"$1"
}
for k in received dropped ifdropped; do
	v=$(m "$QD_TMP/m1" "quarantined_capture_${k}_packets_total{interface=br0}")
	qd_check "br0 $k $v is between status's $(rx "$QD_TMP/s1" $k) and $(rx "$QD_TMP/s2" $k)" \
		test "$v" -ge "$(rx "$QD_TMP/s1" $k)" -a "$v" -le "$(rx "$QD_TMP/s2" $k)"
done
qd_check "br0 received packets ($(m "$QD_TMP/m1" 'quarantined_capture_received_packets_total{interface=br0}'))" \
	test "$(m "$QD_TMP/m1" 'quarantined_capture_received_packets_total{interface=br0}')" -gt 0
commits=$(m "$QD_TMP/m1" quarantined_nft_commit_duration_seconds_count)
qd_check "nftables commits timed: $commits" test "$commits" -ge 1
qd_check "the isolation's save is timed" \
	test "$(m "$QD_TMP/m1" quarantined_state_save_duration_seconds_count)" -gt \
	"$(m "$QD_TMP/m0" quarantined_state_save_duration_seconds_count)"
# The blocking sets' elements in the kernel (not the remediation and
# admin sets, which the configuration fills).
kernel=$(qd_in gw nft -j list table inet quarantined | $QD_PY json \
	'sum(len(o["set"].get("elem", [])) for o in d["nftables"] if "set" in o and not o["set"]["name"].startswith(("rem", "adm")))')
qd_check "quarantined_kernel_elements $(m "$QD_TMP/m1" quarantined_kernel_elements) is what the kernel's blocking sets hold ($kernel)" \
	test "$(m "$QD_TMP/m1" quarantined_kernel_elements)" = "$kernel"
qd_check "the isolation is in the kernel (iso4 and isom: at least 2 elements)" test "$kernel" -ge 2

qd_say "pause"
qd_check "quarantinectl pause" qctl pause
metrics "$QD_TMP/m2"
qd_check "quarantined_paused is 1" test "$(m "$QD_TMP/m2" quarantined_paused)" = 1
qd_check "quarantinectl resume" qctl resume
if command -v promtool >/dev/null; then
	qd_check "promtool check metrics accepts the outbreak's metrics" \
		promtool check metrics <"$QD_TMP/m1"
fi
qd_fig "quarantinectl metrics: size, families" \
	"$(wc -c <"$QD_TMP/m1") bytes, $(grep -c '^# TYPE' "$QD_TMP/m1") families"
qd_fig "nftables commits in the histogram: count, sum" \
	"$commits, $(grep '^quarantined_nft_commit_duration_seconds_sum' "$QD_TMP/m1" | cut -d' ' -f2) s"
qd_done
