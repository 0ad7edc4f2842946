#!/bin/bash
# e2e: list streams its answer, and the registry may change meanwhile.
#
#   list-stream.sh QUARANTINED QUARANTINECTL WORM
#
# 1. 20,000 hosts blocked by one bulk quarantine; `quarantinectl --json
#    list` is one JSON array of them all (4.7 MB: many chunks of the
#    control socket's CONTROL_STREAM_CHUNK, 128 KiB), each object with its
#    addresses (and its mac when one is known: none here; SPEC section 9).
# 2. A client that asks for the list and stops reading after its first
#    300 kB holds a stream under way; meanwhile the daemon answers other
#    operators: 1,000 new hosts are blocked, 1,000 of the listed ones
#    released (their records move in the registry's order).  Then the
#    client reads on: one valid JSON array; every host that was in the
#    registry for the whole stream (the 20,000) listed exactly once; the
#    new ones at most once each, and here all once: their records take
#    slots after the cursor, so they show that the answer was rendered
#    after the change, chunk by chunk.
# Needs root; exit 77 (skipped) otherwise.
set -u
. "$(dirname "$0")/lib.sh"
qd_init "$@"

qd_say "topology and quarantined"
qd_topology || exit 1
qd_config
qd_config_net 'protected = [ "10.66.1.0/24", "10.66.2.0/24", "10.81.0.0/16", "10.82.0.0/16" ];'
qd_daemon_start || exit 1

# addrs NET COUNT: COUNT addresses of NET.0.0/16, one a line.
addrs() {
	awk -v net="$1" -v n="$2" 'BEGIN { for (i = 0; i < n; i++)
		printf "%s.%d.%d\n", net, int(i / 250), i % 250 + 1 }'
}

qd_say "20,000 hosts blocked"
addrs 10.81 20000 >"$QD_TMP/old.txt"
addrs 10.82 1000 >"$QD_TMP/new.txt"
head -1000 "$QD_TMP/old.txt" >"$QD_TMP/rel.txt"
qctl quarantine --from "$QD_TMP/old.txt" --reason stream >/dev/null || exit 1

qctl --json list >"$QD_TMP/list.json"
qd_fig "list --json of 20,000 hosts (bytes)" "$(stat -c %s "$QD_TMP/list.json")"
qd_check "list --json: one array of the 20,000, each with its addresses" \
	/usr/bin/python3 -c '
import json, sys
v = json.load(open(sys.argv[1]))
hosts = [o["host"] for o in v]
assert len(hosts) == 20000 and len(set(hosts)) == 20000, len(hosts)
assert all("addresses" in o for o in v)
' "$QD_TMP/list.json"
qd_check "larger than many chunks of 128 KiB" test "$(stat -c %s "$QD_TMP/list.json")" -gt $((8 * 131072))

qd_say "a stream under way while the registry changes"
rm -f "$QD_TMP/paused" "$QD_TMP/go"
/usr/bin/python3 - "$QD_SOCK" "$QD_TMP" >"$QD_TMP/reader.log" 2>&1 <<'PY' &
import os, socket, sys, time
path, tmp = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(path)
s.sendall(b"cmd=list\tjson=1\n")
s.shutdown(socket.SHUT_WR)
got = bytearray()
while len(got) < 300000:
    b = s.recv(65536)
    if not b:
        break
    got += b
open(tmp + "/paused", "w").close()
end = time.time() + 30
while not os.path.exists(tmp + "/go") and time.time() < end:
    time.sleep(0.05)
while True:
    b = s.recv(65536)
    if not b:
        break
    got += b
open(tmp + "/stream.out", "wb").write(got)
PY
READER=$!
qd_check "the client holds a stream after 300 kB" qd_wait 10 "reader paused" test -e "$QD_TMP/paused"
t0=$(date +%s%N)
qctl quarantine --from "$QD_TMP/new.txt" --reason stream >/dev/null
rc1=$?
qctl release --from "$QD_TMP/rel.txt" --reason stream >/dev/null
rc2=$?
qd_fig "1,000 blocked and 1,000 released while the stream waits (ms)" $((($(date +%s%N) - t0) / 1000000))
qd_check "other operators answered meanwhile" test "$rc1$rc2" = 00
touch "$QD_TMP/go"
wait $READER
qd_check "the stream: status 0, one JSON array; the 20,000 once each, the 1,000 new too (rendered after the change)" \
	/usr/bin/python3 -c '
import json, sys
raw = open(sys.argv[1], "rb").read()
line, _, body = raw.partition(b"\n")
assert line.startswith(b"status=0"), line
v = json.loads(body)
count = {}
for o in v:
    count[o["host"]] = count.get(o["host"], 0) + 1
old = ["10.81.%d.%d" % (i // 250, i % 250 + 1) for i in range(20000)]
new = ["10.82.%d.%d" % (i // 250, i % 250 + 1) for i in range(1000)]
bad = [h for h in old if count.get(h) != 1]
assert not bad, ("old hosts not listed once", len(bad), bad[:5])
assert all(count.get(h, 0) <= 1 for h in new)
assert set(count) <= set(old) | set(new)
# The new records take slots after the 20,000 (none was freed), past the
# cursor: all listed, which an answer rendered whole at once would not.
assert all(count.get(h) == 1 for h in new), sum(count.get(h, 0) for h in new)
' "$QD_TMP/stream.out"
cat "$QD_TMP/reader.log"
qd_check "after it, list --json has the 21,000" /usr/bin/python3 -c '
import json, subprocess, sys
v = json.loads(subprocess.run(sys.argv[1:], capture_output=True, check=True).stdout)
assert len(v) == 21000, len(v)
' "$QD_CTL" -S "$QD_SOCK" --json list

qd_done
