#!/bin/sh
# Installs the Debian 12 packages quarantined needs to build, test and run
# its demo.  Run as root.  Skips apt when everything is already there,
# unless QD_DEPS_FORCE_UPDATE=1 (CI always refreshes the package lists).
set -eu

PKGS="build-essential meson ninja-build pkg-config
libpcap-dev libconfig-dev libnftnl-dev libmnl-dev libseccomp-dev libcmocka-dev
nftables iproute2 tcpdump nmap mandoc python3 libcap2-bin systemd clang clang-format
bash-completion procps util-linux
dnsmasq-base isc-dhcp-client iputils-arping ethtool
python3-html5lib
libsqlite3-dev sqlite3
libjansson-dev nats-server libnats-dev"
# libjansson-dev: the feeds reader parses Suricata's eve.json and Zeek's
# notice.log (JSON) with jansson rather than a parser of our own: strict
# UTF-8, a nesting limit, fuzzed in OSS-Fuzz; those lines quote what
# attackers send.
# libsqlite3-dev: the state and the hosts' histories live in SQLite
# (STATE_DIR/state.db, issue 11), as fail2ban's and CrowdSec's do; sqlite3:
# operators query it, and the tests read it, with the sqlite3 tool.
# nats-server and libnats-dev: gateways share their decisions over NATS
# JetStream (issue 13): quarantine-sync links the official C client
# (3.4.1), and its tests run a three-node cluster of Debian's nats-server
# (2.9.10) in their namespaces.  Debian's package enables a nats-server
# service, which would listen on the machine's own network: it is
# disabled and stopped below (quiet_system_nats); the tests start their
# own servers, with their own configuration, inside their namespaces.
# python3-html5lib: the HTML report test parses the page strictly.  Its
# Chromium (the package is large) is installed by that test itself, where
# it runs (tests/report/check_html.py).
# The DHCP, ARP and link tests run dnsmasq (a DHCP server in a test
# namespace), dhclient (a DHCP client in a host namespace), arping and
# ethtool.  dnsmasq-base is the dnsmasq binary alone: the "dnsmasq"
# package adds a system service that would start a DNS and DHCP server in
# the root namespace, on the machine's own network, at install; the tests
# start their own dnsmasq, with its own config, inside their namespaces.

# Should the full dnsmasq package be installed all the same (by hand, or
# pulled in by something else), keep its service out of the way: the tests
# do not rely on it, and it would answer DHCP and DNS on the machine's own
# interfaces.  "disable" works without a running systemd (it removes the
# unit's links); the stop goes through systemd or the init script,
# whichever runs; their failing (no service manager: a container, some
# CI) is tolerated.
# The same for nats-server's service: the tests run their own servers in
# their namespaces, and a gateway's bus is the operator's to set up.
quiet_system_nats() {
	dpkg-query -W -f='${Status}' nats-server 2>/dev/null | grep -q "install ok installed" ||
		return 0
	[ "$(id -u)" = 0 ] || return 0
	systemctl disable nats-server >/dev/null 2>&1 || true
	systemctl stop nats-server >/dev/null 2>&1 || service nats-server stop >/dev/null 2>&1 || true
}

quiet_system_dnsmasq() {
	dpkg-query -W -f='${Status}' dnsmasq 2>/dev/null | grep -q "install ok installed" ||
		return 0
	[ "$(id -u)" = 0 ] || return 0
	systemctl disable dnsmasq >/dev/null 2>&1 || true
	systemctl stop dnsmasq >/dev/null 2>&1 || service dnsmasq stop >/dev/null 2>&1 || true
}

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done

if [ -z "$missing" ] && [ "${QD_DEPS_FORCE_UPDATE:-0}" != 1 ]; then
	quiet_system_dnsmasq
	quiet_system_nats
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "deps.sh: missing packages:$missing; run as root" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# No service starts while the packages are installed: nats-server's
# postinst would otherwise start it on the machine's own network before
# quiet_system_nats stops it.  invoke-rc.d and deb-systemd-invoke ask
# /usr/sbin/policy-rc.d, and 101 means "action forbidden".  One that is
# there already (a container's, an administrator's) is left alone; ours
# carries a marker, goes when this script ends however it ends (but
# SIGKILL), and one left by a run that was killed is taken as ours.
POLICY=/usr/sbin/policy-rc.d
POLICY_MARK="# quarantined tools/deps.sh: no service starts during its install"
if [ ! -e "$POLICY" ] || grep -qxF "$POLICY_MARK" "$POLICY" 2>/dev/null; then
	trap 'rm -f "$POLICY"' EXIT
	trap 'exit 129' HUP
	trap 'exit 130' INT
	trap 'exit 143' TERM
	printf '#!/bin/sh\n%s\nexit 101\n' "$POLICY_MARK" >"$POLICY.new"
	chmod 755 "$POLICY.new"
	mv -f "$POLICY.new" "$POLICY"
fi
apt-get update
# shellcheck disable=SC2086
apt-get install -y --no-install-recommends $PKGS

quiet_system_dnsmasq
quiet_system_nats
