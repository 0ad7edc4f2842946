#!/bin/sh
# Installs the Debian 12 packages quarantined needs to build, test and run
# its demo.  Run as root.  Skips apt when everything is already there,
# unless QD_DEPS_FORCE_UPDATE=1 (CI always refreshes the package lists).
set -eu

PKGS="build-essential meson ninja-build pkg-config
libpcap-dev libconfig-dev libnftnl-dev libmnl-dev libcmocka-dev
nftables iproute2 tcpdump nmap mandoc python3 libcap2-bin systemd clang clang-format
bash-completion procps util-linux"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done

if [ -z "$missing" ] && [ "${QD_DEPS_FORCE_UPDATE:-0}" != 1 ]; then
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "deps.sh: missing packages:$missing; run as root" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update
# shellcheck disable=SC2086
apt-get install -y --no-install-recommends $PKGS
