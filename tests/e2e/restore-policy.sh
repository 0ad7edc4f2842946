#!/bin/bash
# e2e: a restart restores blocks through policy, never past it.
#
#   restore-policy.sh QUARANTINED QUARANTINECTL WORM
#
# 1. The infected host (10.66.1.10) is isolated; the daemon stops; the
#    operator adds it to networks.never_block and starts the daemon again
#    (instead of reloading).  The host must not be blocked (no set
#    element, not listed as blocked, it reaches the outside) and a release
#    event must say why.
# 2. The same with networks.protected narrowed so that the benign host
#    (10.66.1.20) falls outside it.
# 3. A state file edited to hold a block of the gateway's own address
#    (10.66.1.1), and an element of it and one of the never-block host
#    (10.66.1.30) added by hand to the kernel while the daemon is down:
#    nothing of them is restored or adopted, each has its release event,
#    and a host that may be blocked is still restored.
# 4. A state file with one bad field (a uid past every uid) on the blocked
#    host's line: an error event names the line and the field, that host
#    is skipped (and adopted back from the kernel), the rest is loaded.
# Needs root; exit 77 (skipped) otherwise.
set -u
. "$(dirname "$0")/lib.sh"
qd_init "$@"

GW=10.66.1.1

qd_say "topology and quarantined"
qd_topology || exit 1
qd_config
cp "$QD_CONF" "$QD_TMP/conf.orig"
qd_daemon_start || exit 1

# restart_with WHAT LINE...: stop, change the networks group, start.
restart_with() {
	local what=$1
	shift
	qd_daemon_stop TERM
	qd_check "$what: the daemon exits 0 ($QD_DRC)" test "$QD_DRC" = 0
	cp "$QD_TMP/conf.orig" "$QD_CONF"
	[ $# -gt 0 ] && qd_config_net "$@"
	qd_mark
	qd_daemon_start || exit 1
}

# dropped WHAT HOST NAME REASON...: HOST is in no set, not listed as
# blocked, reaches the outside, and a release event gives one of REASONs.
dropped() {
	local what=$1 h=$2 name=$3 ev reason state ok=1 r
	shift 3
	qd_check "$what: $h is in no set" qd_not qd_in_any_set "$h"
	state=$(qd_host_state "$h")
	qd_check "$what: quarantinectl list shows $h not blocked (state $state)" \
		test "$state" = released -o "$state" = absent
	ev=$(qd_wait_event 5 event=release host="$h") || ev=""
	echo "release event: $ev"
	reason=$(echo "${ev:-{\}}" | qd_field reason)
	for r in "$@"; do
		[ "$reason" = "not restored: $r" ] && ok=0
	done
	qd_check "$what: a release event says why ($reason)" test "$ok" = 0
	if [ -n "$name" ]; then
		qd_check "$what: $h reaches $QD_WEB:80" qd_connect "$name" $QD_WEB 80
	fi
}

qd_say "1. $QD_INF isolated, then put on the never-block list, then a restart"
qd_check "quarantine $QD_INF --level isolate succeeds" qctl quarantine $QD_INF --level isolate
qd_check "iso4 holds $QD_INF" qd_in_set iso4 $QD_INF
qd_check "$QD_INF cannot reach $QD_WEB:80" qd_not qd_connect inf $QD_WEB 80
restart_with "never-block" "never_block = [ \"$QD_NB\", \"$QD_INF\" ];"
dropped "never-block" $QD_INF inf "on the never-block list" \
	"a machine holding an address on the never-block list"
qd_check "never-block: quarantine $QD_INF is refused" qd_not qctl quarantine $QD_INF --level isolate

qd_say "2. $QD_BEN isolated, then networks.protected narrowed past it, then a restart"
restart_with "back to the first configuration"
qd_check "quarantine $QD_BEN --level isolate succeeds" qctl quarantine $QD_BEN --level isolate
qd_check "iso4 holds $QD_BEN" qd_in_set iso4 $QD_BEN
restart_with "narrowed" 'protected = [ "10.66.1.0/28", "10.66.2.0/24" ];'
dropped "narrowed" $QD_BEN ben "outside the protected networks" \
	"a machine with no address in the protected networks"

qd_say "3. a state file edited to hold the gateway's own address; elements added by hand"
restart_with "back to the first configuration"
qd_check "quarantine $QD_INF --level isolate succeeds" qctl quarantine $QD_INF --level isolate
qd_daemon_stop TERM
# A host line for the gateway's own address, isolated, with the record
# count and CRC made right again: only policy can refuse it now.
/usr/bin/env python3 - "$QD_STATE/state" "$GW" <<'EOF' || exit 1
import sys, zlib
path, gw = sys.argv[1], sys.argv[2]
lines = open(path, "rb").read().split(b"\n")[:-1]
body = lines[:-1]
body.append(("host addr=%s state=isolated decided=isolate level=isolate adopted=0 "
             "first_probe_us=0 first_detect_us=0 last_detect_us=0 changed_us=1 "
             "expires_us=0 by_uid=0 recurrences=0 last_level=none last_ttl_s=0 want= "
             "want_overflow=0 evidence= reason=edited" % gw).encode())
data = b"\n".join(body) + b"\n"
end = b"end records=%d crc32=%08x\n" % (len(body) - 1, zlib.crc32(data))
open(path, "wb").write(data + end)
EOF
grep "addr=$GW " "$QD_STATE/state"
qd_in gw nft add element inet quarantined iso4 "{ $GW, $QD_NB }"
qd_mark
qd_daemon_start || exit 1
dropped "own address (state file)" $GW "" "one of the gateway's own addresses"
dropped "never-block (kernel element)" $QD_NB nb "on the never-block list"
qd_check "no adoption event for $GW or $QD_NB" \
	test -z "$(qd_events event=action host=$GW; qd_events event=action host=$QD_NB)"
qd_check "the saved state was not refused" qd_not grep -q "saved state unusable" "$QD_TMP/daemon.log"
state=$(qd_host_state $QD_INF)
qd_check "$QD_INF, which may be blocked, is restored (state $state)" test "$state" = isolated
qd_check "iso4 still holds $QD_INF" qd_in_set iso4 $QD_INF
qd_check "release $QD_INF succeeds" qctl release $QD_INF

qd_say "4. a state file with one bad field: that host is skipped, the rest is loaded"
qd_check "quarantine $QD_INF --level isolate succeeds" qctl quarantine $QD_INF --level isolate
qd_daemon_stop TERM
# by_uid past every uid on the infected host's line, CRC made right.
/usr/bin/env python3 - "$QD_STATE/state" "$QD_INF" <<'EOF' || exit 1
import re, sys, zlib
path, inf = sys.argv[1], sys.argv[2]
lines = open(path, "rb").read().split(b"\n")[:-1]
body = [re.sub(rb" by_uid=-?[0-9]+", b" by_uid=4294967295", l)
        if l.startswith(b"host ") and (b" addr=%s " % inf.encode()) in l else l
        for l in lines[:-1]]
data = b"\n".join(body) + b"\n"
end = b"end records=%d crc32=%08x\n" % (len(body) - 1, zlib.crc32(data))
open(path, "wb").write(data + end)
EOF
qd_check "the state file holds the bad field" grep -q "by_uid=4294967295" "$QD_STATE/state"
qd_mark
qd_daemon_start || exit 1
ev=$(qd_wait_event 5 event=error) || ev=""
echo "error event: $ev"
msg=$(echo "${ev:-{\}}" | qd_field message)
case "$msg" in
"saved state: $QD_STATE/state:"[0-9]*": bad by_uid=4294967295"*skipped) named=1 ;;
*) named=0 ;;
esac
qd_check "an error event names the line and the field" test "$named" = 1
set -- "$QD_STATE"/state.bad-*
qd_check "the saved state was not set aside" test ! -e "$1"
state=$(qd_host_state $QD_BEN)
qd_check "the other hosts are loaded ($QD_BEN: $state)" test "$state" = released
state=$(qd_host_state $QD_INF)
qd_check "$QD_INF, skipped, is adopted from the kernel (state $state)" test "$state" = isolated
qd_check "iso4 still holds $QD_INF" qd_in_set iso4 $QD_INF
qd_check "release $QD_INF succeeds" qctl release $QD_INF
qd_done
