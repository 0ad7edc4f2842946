#!/bin/bash
# The live demo: a worm outbreak on a LAN behind a Linux gateway, in
# network namespaces on this machine.  quarantined runs on the gateway on
# its built-in defaults (plus the topology's remediation server and admin
# station), detects the infected host, blocks it in the kernel, shows it
# in "quarantinectl list", shows that its probes no longer get out, and
# releases it.  Everything is removed at the end, also on failure or ^C.
#
# Run as root on Debian 12: it installs the packages it needs
# (tools/deps.sh) and builds the project first.  About 30 s.
#
# Network safety: all traffic stays inside namespaces this script makes
# (no link or route to this machine's own network); the "outside"
# namespace owns the whole target range 10.66.128.0/17, and the worm
# refuses any other target.  See tests/e2e/lib.sh.
set -u
cd "$(dirname "$0")/.." || exit 1

if [ "$(id -u)" != 0 ]; then
	echo "demo/outbreak.sh: run as root (it makes network namespaces and nftables tables)" >&2
	echo "(demo/offline.sh is the offline demo, on a generated capture)" >&2
	exit 1
fi

# QD_DEMO_BUILD=DIR: a build directory that is already there (the test
# suite runs the demo this way, so that the README's first command cannot
# break unnoticed); else the packages are installed and ./build is made.
build=${QD_DEMO_BUILD:-build}
if [ -z "${QD_DEMO_BUILD:-}" ]; then
	echo "== installing the build dependencies (tools/deps.sh) and building"
	tools/deps.sh || exit 1
	if [ ! -d build ]; then
		meson setup build >/dev/null || exit 1
	fi
	if ! ninja -C build src/quarantined src/quarantinectl tests/worm >/dev/null; then
		echo "demo/outbreak.sh: the build failed (the worm needs -Dtests=true)" >&2
		exit 1
	fi
fi

# shellcheck disable=SC2034 # read by lib.sh
QD_HOSTS="inf ben adm"
. tests/e2e/lib.sh
case $build in /*) ;; *) build=$PWD/$build ;; esac
qd_init "$build/src/quarantined" "$build/src/quarantinectl" "$build/tests/worm"

echo "== setting up the network: a gateway namespace, three LAN hosts, the outside"
qd_topology || exit 1
cat <<EOF
   gateway  ${QD_NS}gw   br0 10.66.1.1/24 (the LAN), wan0 10.66.0.1/30, forwarding on
   infected ${QD_NS}inf  $QD_INF   will run a worm (tcp/445, like WannaCry)
   benign   ${QD_NS}ben  $QD_BEN   browses the web
   admin    ${QD_NS}adm  $QD_ADM   the IT admin's station
   outside  ${QD_NS}out  owns 10.66.128.0/17: web server $QD_WEB:80,
                          remediation (AV/patch) server $QD_REM:80
EOF
qd_count_add inf445 ip saddr $QD_INF tcp dport 445 'tcp flags & (syn|ack) == syn' || exit 1

echo "== starting quarantined on the gateway, capturing on br0, built-in defaults plus:"
cat >"$QD_CONF" <<EOF
networks: { remediation = [ "$QD_REM" ]; admin = [ "$QD_ADM" ]; };
EOF
sed 's/^/   /' "$QD_CONF"
# shellcheck disable=SC2034 # read by lib.sh
QD_FORMAT=text
qd_daemon_start || exit 1
echo "   quarantined -f -o text -i br0 -c demo.conf -S $QD_SOCK -D $QD_STATE"
echo "   (events follow as they come, marked with '|')"
tail -n +1 -f "$QD_EVENTS" > >(sed -u 's/^/   | /') &
QD_PIDS="$QD_PIDS $!" # tail: stopped at cleanup, and sed with it

echo "== benign $QD_BEN: a connection to $QD_WEB:80 every 200 ms"
qd_bg_out ben "$QD_TMP/benign.json" $QD_PY loop --interval 0.2 --timeout 1 $QD_WEB:80
benign=$QD_LAST
sleep 1 # a second of normal traffic first

echo "== infected $QD_INF: the worm starts, 50 probes/s to tcp/445 of random addresses in $QD_NET_WORM"
qd_worm inf "$QD_TMP/worm.json" -n $QD_NET_WORM -p 445 -r 50 -d 7
worm=$QD_LAST
qd_wait 10 "the isolation of $QD_INF" \
	grep -q "action host=$QD_INF .*level=isolate .*enforced=yes" "$QD_EVENTS" || exit 1
c_block=$(qd_count inf445)
sleep 0.2 # let the event lines above print first
echo "== $QD_INF is isolated in the kernel; quarantinectl list:"
qctl list
echo "== the set element in the gateway's table (nft list set inet quarantined iso4):"
qd_in gw nft list set inet quarantined iso4 | grep elements | sed 's/^[[:space:]]*/   /'

echo "== the worm keeps scanning for 4 s; counting its probes that reach the outside"
sleep 4 # the worm is still running: this is the measurement window
c_after=$(qd_count inf445)
qd_stop "$worm"
qd_stop "$benign"
echo "   tcp/445 probes from $QD_INF that reached the outside: $c_block before the block," \
	"$((c_after - c_block)) after it"
qd_json '"   the worm sent %d probes: %d reached a target (refused), %d vanished at the gateway" % (d["attempts"], d["refused"], d["timed_out"])' <"$QD_TMP/worm.json"
qd_json '"   the benign host made %d connections meanwhile, %d failed" % (d["attempts"], d["failed"])' <"$QD_TMP/benign.json"
if qd_connect inf $QD_REM 80; then r=yes; else r=no; fi
if qd_connect inf $QD_WEB 80; then w=yes; else w=no; fi
echo "   isolated $QD_INF reaches the remediation server: $r, the web server: $w"

echo "== the host has been cleaned: quarantinectl release $QD_INF"
qctl release $QD_INF | sed 's/^/   /'
if qd_connect inf $QD_WEB 80; then w=yes; else w=no; fi
echo "   $QD_INF reaches the web server again: $w"
echo "== quarantinectl list:"
qctl list

echo "== cleaning up: stopping the processes, removing the namespaces and tables"
exit 0
