#!/bin/bash
# e2e: ten kill -9 of the daemon during an outbreak lose no block, and after
# every restart the daemon's view and the kernel's sets agree.
#
#   kill9-cycles.sh QUARANTINED QUARANTINECTL WORM
#
# Worms start one after another on four LAN hosts (SMB and SSH, so that
# some are isolated and some contained), and the operator blocks an
# address (isolate or contain, in turn; every third with a TTL of an
# hour) in every cycle, and escalates the one it contained the cycle
# before.  Each cycle kills the daemon with SIGKILL at a random moment (0
# to 20 ms after the last command, or 0 to 800 ms, so that it lands in
# detections, commits and saves), and every other cycle kills it once
# more at a random moment of its start (0 to 250 ms: while it sets up the
# table, reads the kernel back or saves);
# then it is started again and, once it answers, checked:
#   - every block that "quarantinectl --json list" shows is in the kernel
#     (an isolated host's addresses in iso4, a contained host's ports in
#     con4 or, by MAC, conm), with the time to live it lists (or none),
#     and every element of the kernel's blocking sets belongs to a listed
#     host at that level (and port);
#   - no block was lost: every host seen blocked before, and every block
#     the operator was told was made, is still listed at its level or
#     higher, and is in the kernel.
# Adoption events are allowed (a block put in force just before a kill is
# adopted: quarantined(8), CAVEATS).  The seed of the random moments is
# printed; QD_SEED=N repeats a run.
# Needs root; exit 77 (skipped) otherwise.
set -u
. "$(dirname "$0")/lib.sh"
qd_init "$@"

CYCLES=10
SEED=${QD_SEED:-$$}
RANDOM=$SEED
echo "seed $SEED (QD_SEED=$SEED repeats it)"

qd_say "topology: four hosts that will run a worm, and quarantined"
qd_topology || exit 1
qd_host_add w1 10.66.1.11/24 || exit 1
qd_host_add w2 10.66.1.12/24 || exit 1
qd_host_add w3 10.66.1.13/24 || exit 1
qd_daemon_start || exit 1

# The checker: the daemon's view against the kernel's sets, and the blocks
# seen so far (EXPECTED, lines "HOST LEVEL") against the daemon's view.
# Prints the blocks it sees now, one "HOST LEVEL" a line; exit 0 when all
# agree.  The list is read before and after the kernel and the two must
# be the same (a detection in between means another try).
cat >"$QD_TMP/agree.py" <<'EOF'
import datetime, json, subprocess, sys, time

ctl, sock, ns, expected_file = sys.argv[1:5]
RANK = {"watch": 1, "contain": 2, "isolate": 3}
ADDR_SETS = {"iso4", "iso6", "con4", "con6", "conp4", "conp6"}
MAC_SETS = {"isom", "conm", "conpm"}


def run(*cmd):
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def view():
    hosts = json.loads(run(ctl, "-S", sock, "--json", "list"))
    out = {}
    for h in hosts:
        if h["level"] not in ("contain", "isolate"):
            continue
        ports = set()
        if h["level"] == "contain":
            d = json.loads(run(ctl, "-S", sock, "--json", "show", h["host"]))
            ports = {p for p in d.get("contained_ports", "").split(",") if p}
        out[h["host"]] = (h["level"], h.get("mac"), tuple(h.get("addresses", [h["host"]])),
                          frozenset(ports), epoch(h.get("expires")))
    return out


def epoch(ts):
    # "2026-12-02T22:26:31.093133Z" -> seconds since the epoch; None: never
    if not ts:
        return None
    ts = ts.rstrip("Z")
    fmt = "%Y-%m-%dT%H:%M:%S.%f" if "." in ts else "%Y-%m-%dT%H:%M:%S"
    return datetime.datetime.strptime(ts, fmt).replace(
        tzinfo=datetime.timezone.utc).timestamp()


def elem(e):
    # (the element as a tuple of strings, seconds it has left or None)
    left = None
    if isinstance(e, dict) and "elem" in e:
        left = e["elem"].get("expires")
        e = e["elem"]["val"]
    if isinstance(e, dict) and "concat" in e:
        return tuple(str(x) for x in e["concat"]), left
    return (str(e),), left


def kernel():
    doc = json.loads(run("ip", "netns", "exec", ns, "nft", "-j", "list", "table", "inet",
                         "quarantined"))
    sets = {}
    for o in doc["nftables"]:
        s = o.get("set")
        if s and s["name"] in ADDR_SETS | MAC_SETS:
            sets[s["name"]] = dict(elem(e) for e in s.get("elem", []))
    return sets, time.time()


def port_of(t):
    # ("10.66.1.11", "tcp", "22") -> "tcp/22"; ("..", "icmp") -> "icmp"
    return t[1] + "/" + t[2] if len(t) == 3 else t[1]


def compare(v, k, now):
    bad = []
    by_addr, by_mac = {}, {}

    # in_kernel: key is in set name, with the time to live the daemon
    # lists (5 s of slack; none when it lists none).
    def in_kernel(host, name, key, expires):
        if key not in k.get(name, {}):
            return False
        left = k[name][key]
        if expires is None and left is not None:
            bad.append("%s: no TTL listed, but %s holds %s with %s s left" %
                       (host, name, " . ".join(key), left))
        elif expires is not None and (left is None or abs(expires - now - left) > 5):
            bad.append("%s: %.0f s left as listed, but %s holds %s with %s" %
                       (host, expires - now, name, " . ".join(key), left))
        return True

    for host, (level, mac, addrs, ports, _exp) in v.items():
        for a in addrs:
            by_addr.setdefault(a, []).append((host, level, ports))
        if mac:
            by_mac.setdefault(mac, []).append((host, level, ports))
    # The daemon's view in the kernel.
    for host, (level, mac, addrs, ports, exp) in v.items():
        if level == "isolate":
            for a in addrs:
                if not in_kernel(host, "iso6" if ":" in a else "iso4", (a,), exp):
                    bad.append("%s: isolated, but %s is not in iso4/iso6" % (host, a))
        else:
            for p in ports:
                proto, _, port = p.partition("/")
                found = False
                for a in addrs:
                    s = ("con6" if ":" in a else "con4") if port else \
                        ("conp6" if ":" in a else "conp4")
                    found |= in_kernel(host, s, (a, proto, port) if port else (a, proto), exp)
                if mac:
                    found |= in_kernel(host, "conm" if port else "conpm",
                                       (mac, proto, port) if port else (mac, proto), exp)
                if not found:
                    bad.append("%s: contained on %s, but not in the kernel" % (host, p))
    # The kernel in the daemon's view.
    for name, elems in sorted(k.items()):
        want = "isolate" if name.startswith("iso") else "contain"
        index = by_mac if name in MAC_SETS else by_addr
        for t in sorted(elems):
            owners = [o for o in index.get(t[0], []) if o[1] == want]
            if want == "contain":
                owners = [o for o in owners if port_of(t) in o[2]]
            if not owners:
                bad.append("%s holds %s: no host listed at %s%s" %
                           (name, " . ".join(t), want,
                            "" if want == "isolate" else " on " + port_of(t)))
    return bad


for attempt in range(10):
    v1 = view()
    k, now = kernel()
    v2 = view()
    if v1 == v2:
        break
    time.sleep(0.3)
else:
    print("the daemon's view kept changing", file=sys.stderr)
    sys.exit(1)
bad = compare(v1, k, now)
with open(expected_file) as f:
    for line in f:
        host, level = line.split()
        got = v1.get(host, ("none",))[0]
        if RANK.get(got, 0) < RANK[level]:
            bad.append("lost: %s was %s, is now %s" % (host, level, got))
for b in bad:
    print("  " + b, file=sys.stderr)
for host, (level, *_rest) in sorted(v1.items()):
    print(host, level)
nk = sum(len(e) for e in k.values())
print("%d blocks listed, %d kernel elements" % (len(v1), nk), file=sys.stderr)
sys.exit(1 if bad else 0)
EOF

EXPECTED=$QD_TMP/expected
: >"$EXPECTED"
# agree WHAT: the check above; what it sees blocked joins EXPECTED.
agree() {
	local rc
	/usr/bin/python3 "$QD_TMP/agree.py" "$QD_CTL" "$QD_SOCK" "${QD_NS}gw" "$EXPECTED" \
		>"$QD_TMP/seen" 2>"$QD_TMP/agree.err"
	rc=$?
	sed 's/^/    /' "$QD_TMP/agree.err"
	qd_check "$1: the daemon's view and the kernel's sets agree, no block lost" test $rc = 0
	sort -u "$EXPECTED" "$QD_TMP/seen" | awk '
		{ r = $2 == "isolate" ? 3 : 2; if (r > best[$1]) { best[$1] = r; lv[$1] = $2 } }
		END { for (h in lv) print h, lv[h] }' >"$QD_TMP/expected.new"
	mv "$QD_TMP/expected.new" "$EXPECTED"
}

# launch: the daemon in the background, as qd_daemon_start does, without
# waiting for it.
launch() {
	echo "# $(qd_now) starting quarantined (kill9-cycles)" >>"$QD_TMP/daemon.log"
	ip netns exec "${QD_NS}gw" "$QD_Q" -f -o json -i br0 -c "$QD_CONF" -S "$QD_SOCK" \
		-D "$QD_STATE" >>"$QD_EVENTS" 2>>"$QD_TMP/daemon.log" &
	# shellcheck disable=SC2034 # lib.sh's qd_daemon_stop kills it
	QD_DPID=$!
}

# ms N: sleep a random 0..N milliseconds.
ms() {
	local t=$((RANDOM % ($1 + 1)))
	sleep "$(printf '0.%03d' "$t")"
}

worm_host=(inf w1 w2 w3)
worm_port=(445 22 445 22)
worm_addr=(10.66.1.10 10.66.1.11 10.66.1.12 10.66.1.13)
t0=$(date +%s%N)
acked=0
in_start=0
for c in $(seq 1 $CYCLES); do
	# A new worm every other cycle, until all four run.
	i=$(((c - 1) / 2))
	if [ $((c % 2)) = 1 ] && [ $i -lt 4 ]; then
		qd_say "cycle $c: worm on ${worm_host[$i]} (tcp/${worm_port[$i]}), and an operator block"
		qd_worm "${worm_host[$i]}" "$QD_TMP/worm$i.json" -n $QD_NET_WORM \
			-p "${worm_port[$i]}" -r 40 -d 60 -s $((SEED + i))
		ms 300
	else
		qd_say "cycle $c: an operator block"
	fi
	a=10.66.1.$((100 + c))
	level=contain
	[ $((c % 2)) = 1 ] && level=isolate
	ttl=()
	[ $((c % 3)) = 0 ] && ttl=(--ttl 1h)
	# A block the daemon said it made is one that must never be lost.
	if qctl quarantine $a --level $level --proto tcp --ports 445,3389 "${ttl[@]}" \
		--reason kill9 >/dev/null; then
		echo "$a $level" >>"$EXPECTED"
		acked=$((acked + 1))
	fi
	# And the previous cycle's contained address is escalated.
	p=10.66.1.$((100 + c - 1))
	if [ $((c % 2)) = 1 ] && [ $c -gt 1 ] && qctl escalate $p >/dev/null; then
		echo "$p isolate" >>"$EXPECTED"
		acked=$((acked + 1))
	fi
	# Half the kills come within 20 ms of the last command, where the
	# kernel has changed and the save may not have followed yet.
	if [ $((RANDOM % 2)) = 0 ]; then
		ms 20
	else
		ms 800
	fi
	qd_daemon_stop KILL
	if [ $((c % 2)) = 0 ]; then
		n=$(($(wc -l <"$QD_TMP/daemon.log") + 1))
		launch
		ms 250
		qd_daemon_stop KILL
		if tail -n +"$n" "$QD_TMP/daemon.log" | grep -q "started:"; then
			echo "    killed once more, just after its start"
		else
			echo "    killed once more during its start"
			in_start=$((in_start + 1))
		fi
	fi
	qd_daemon_start || exit 1
	agree "cycle $c"
done
qd_fig "kill -9 cycles" "$CYCLES"
qd_fig "kills at a random moment of a start that came before it was ready" \
	"$in_start of $((CYCLES / 2))"
qd_fig "operator blocks and escalations acknowledged" "$acked"
qd_fig "blocks at the end" "$(wc -l <"$EXPECTED")"
qd_fig "adoption events" "$(grep -c 'adopted: found in the kernel' "$QD_EVENTS")"
qd_fig "time for the cycles" "$((($(date +%s%N) - t0) / 1000000)) ms"
for i in 0 1 2 3; do
	qd_check "worm host ${worm_addr[$i]} is blocked" grep -q "^${worm_addr[$i]} " "$EXPECTED"
done
qd_done
