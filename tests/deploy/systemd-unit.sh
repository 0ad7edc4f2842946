#!/bin/bash
# systemd-unit.sh UNIT SYSUSERS QUARANTINED QUARANTINECTL WORM METRICS TIMER
#                 REPORT REPORT_MAIL REPORT_TIMER REPORT_SCRIPT MIMECHECK
#
# The unit as systemd runs it, hardening and all: systemd is started as
# PID 1 of private PID, mount, UTS, IPC and cgroup namespaces inside a
# network namespace of the test's own (no systemd needs to run on the
# machine, and none may: then the test is skipped), with the user and groups
# of the sysusers.d snippet (SYSUSERS) in a private /etc/passwd and
# /etc/group.  UNIT (the configured quarantined.service) is loaded as it
# is, plus a drop-in that runs the QUARANTINED just built with a test
# configuration (capture on v-h1, and on v-late, which does not exist yet)
# (copied into the private /run) and sends its output to a file.  Checks:
#
#   - the unit becomes active, which for Type=notify means READY=1 came;
#   - the daemon runs as quarantined, in group quarantine too, with
#     CapEff/CapPrm 0x3000 and nothing in CapInh/CapAmb, NoNewPrivs and
#     a seccomp filter;
#   - its sensor (its child, which reads the packets) runs, as the same
#     user, with no capability at all, NoNewPrivs, and one seccomp filter
#     more than the daemon: the unit lets it load its own (seccomp(2) is
#     not in @system-service);
#   - /run/quarantined/control.sock is quarantined:quarantine 0660: an
#     operator in group quarantine uses it, another user is refused;
#   - quarantinectl quarantine puts a host in iso4; a worm scan (WORM) is
#     detected and isolated, its evidence pcap written under the sandbox;
#   - v-late, created after the start, is captured (retried);
#   - the textfile collector example (METRICS, the configured
#     quarantined-metrics.service, run as the user prometheus with the
#     quarantinectl just built, and TIMER): it writes quarantined.prom in
#     /var/lib/prometheus/node-exporter, prometheus's, mode 0644, valid
#     (tests/ctl/promcheck.py), saying the host is isolated, no .tmp left;
#     the timer runs it at once and the file is replaced by a rename (a
#     new inode); with the daemon stopped the unit fails and the last
#     file stays as it was;
#   - the scheduled report (REPORT, REPORT_MAIL and REPORT_TIMER, the
#     configured units, running REPORT_SCRIPT and the quarantinectl just
#     built) with a real MTA, exim (exim4-daemon-light, installed by this
#     test when no MTA is: Debian's default MTA, delivering by itself with
#     no daemon to run here, and its sendmail is setuid root, the harder
#     case of the two set-id sendmails; local delivery only): with no
#     recipient, the report is written in /var/lib/quarantined-report
#     (quarantined-report's, 0750, files 0640), parses strictly
#     (python3-html5lib) and says the host is blocked, the mail unit runs
#     after it and logs one line (journal) saying why nothing was mailed,
#     and nothing is; with REPORT_MAILTO in /etc/default/quarantined-report
#     and the timer, under an operator's drop-in that makes it fire at
#     once, the message reaches the mailbox with our headers, the figures
#     and the page attached byte for byte (MIMECHECK), and the line says
#     to whom; the same sendmail under NoNewPrivileges=yes (the writing
#     unit's sandbox) fails and delivers nothing, which is why mailing is
#     a unit of its own; with the daemon stopped the report unit fails,
#     saying so, writes nothing and mails nothing;
#   - systemctl reload (SIGHUP) and quarantinectl reload work;
#   - systemctl restart restores the state; systemctl stop exits 0;
#   - started together with a stand-in for Debian's nftables.service
#     (which runs "flush ruleset" at start and at stop; ours waits 1 s
#     first), the daemon starts after it (After=nftables.service), so the
#     blocks it restores are not wiped;
#   - a usage error (exit status 2: no interface) is not restarted.
#
# Topology: namespace "qdu<pid>gw" (systemd, the daemon) with veth v-h1 to
# "qdu<pid>h1" (10.66.1.10); the gateway namespace owns the worm's targets
# (10.66.128.0/17, a local route), so every scanned address is one of our
# own.  Nothing is linked to the root namespace.
#
# Needs root; exit 77 (skipped) otherwise, when PID 1 is systemd, or when
# systemd cannot be started in namespaces here (its log is shown).
set -u
# The checks and waits of the end-to-end tests (qd_check, qd_wait).
. "$(dirname "$0")/../e2e/lib.sh"

if [ $# -ne 12 ]; then
	echo "usage: $0 UNIT SYSUSERS QUARANTINED QUARANTINECTL WORM METRICS TIMER" \
		"REPORT REPORT_MAIL REPORT_TIMER REPORT_SCRIPT MIMECHECK" >&2
	exit 2
fi
UNIT=$1
SYSUSERS=$2
Q=$3
CTL=$4
WORM=$5
METRICS=$6
TIMER=$7
REPORT=$8
REPORT_MAIL=$9
REPORT_TIMER=${10}
REPORT_SCRIPT=${11}
MIMECHECK=${12}
PY=$(command -v /usr/bin/python3 || command -v python3)
PROMCHECK="$(command -v /usr/bin/python3 || command -v python3) $(dirname "$0")/../ctl/promcheck.py"
PROMDIR=/var/lib/prometheus/node-exporter
H1=10.66.1.10
SYSTEMD=/lib/systemd/systemd
# Inside, the programs are copies in the private /run: the build directory
# may be where the daemon's user cannot go (under /root, which
# ProtectHome= hides anyway).
QIN=/run/qdtest/quarantined
CTLIN=/run/qdtest/quarantinectl
REPORTIN=/run/qdtest/quarantined-report
REPORTDIR=/var/lib/quarantined-report

if [ "$(id -u)" != 0 ]; then
	echo "SKIP: needs root (namespaces, systemd as PID 1 of them)"
	exit 77
fi
if [ -d /run/systemd/system ]; then
	echo "SKIP: systemd runs this machine; not starting a second one"
	exit 77
fi
for t in ip nft unshare nsenter setpriv systemd-sysusers "$SYSTEMD"; do
	if ! command -v "$t" >/dev/null; then
		echo "SKIP: $t is not installed"
		exit 77
	fi
done
# The MTA for the report's mail: exim, installed when no MTA is (another
# one is left alone, and the mail checks are skipped).  Installing it
# starts no daemon (policy-rc.d, made for the time of the install if
# there is none) and it is configured for local delivery only; here it
# delivers nothing outside the test's private /var.
MTA=""
if [ -x /usr/sbin/exim4 ]; then
	MTA=exim4
elif [ ! -e /usr/sbin/sendmail ] && command -v apt-get >/dev/null; then
	policy=""
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 0755 /usr/sbin/policy-rc.d
		policy=made
	fi
	printf '%s\n' \
		'exim4-config exim4/dc_eximconfig_configtype select local delivery only; not on a network' \
		'exim4-config exim4/dc_local_interfaces string 127.0.0.1 ; ::1' \
		'exim4-config exim4/dc_other_hostnames string localhost' \
		'exim4-config exim4/dc_postmaster string root' | debconf-set-selections
	if DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		exim4-daemon-light >/tmp/qd-exim-install.log 2>&1; then
		MTA=exim4
	else
		tail -n 20 /tmp/qd-exim-install.log
	fi
	[ -n "$policy" ] && rm -f /usr/sbin/policy-rc.d
fi
if [ -z "$MTA" ] && [ "${CI:-}" = true ]; then
	echo "FAIL: no exim (exim4-daemon-light) for the report's mail, and it cannot be installed"
	exit 1
fi

CG=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
if [ -z "$CG" ]; then
	echo "SKIP: no cgroup2 file system mounted"
	exit 77
fi

NS=qdu$$
NS_MADE=""
UPID=""
SDPID=""
TMP=$(mktemp -d "${TMPDIR:-/tmp}/qd-systemd.XXXXXX") || exit 1
CGDIR=$CG/$NS

cleanup() {
	local rc=$? p ns
	trap - EXIT HUP INT TERM
	trap '' PIPE
	if [ "$rc" != 0 ] && [ "$rc" != 77 ] && [ -n "$SDPID" ]; then
		echo "---- daemon output (tail) ----"
		nsenter -t "$SDPID" -m tail -n 30 /run/qdtest/daemon.log 2>/dev/null
	fi
	# PID 1 of the namespace: killing it ends every process in it.
	[ -n "$SDPID" ] && kill -KILL "$SDPID" 2>/dev/null
	[ -n "$UPID" ] && kill -KILL "$UPID" 2>/dev/null
	[ -n "$UPID" ] && wait "$UPID" 2>/dev/null
	for ns in $NS_MADE; do
		for p in $(ip netns pids "$ns" 2>/dev/null); do
			kill -KILL "$p" 2>/dev/null
		done
	done
	if [ -n "$NS_MADE" ]; then
		ip netns exec "${NS}gw" nft delete table inet quarantined 2>/dev/null
		for ns in $NS_MADE; do
			ip netns del "$ns" 2>/dev/null
		done
	fi
	# The cgroups systemd made under ours, deepest first.
	if [ -d "$CGDIR" ]; then
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			find "$CGDIR" -depth -type d -exec rmdir {} + 2>/dev/null
			[ -d "$CGDIR" ] || break
			sleep 0.2
		done
	fi
	rm -rf "$TMP"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 141' PIPE
trap 'exit 143' TERM

# quiet CMD...: CMD without its output (for qd_check).
quiet() {
	"$@" >/dev/null 2>&1
}


# in_sd CMD...: CMD in the mount and PID namespaces of the test's systemd
# (its /run, with the control socket, and its systemctl).
in_sd() {
	nsenter -t "$SDPID" -m -p "$@"
}
sdctl() {
	in_sd systemctl --no-pager "$@"
}
qctl() {
	in_sd "$CTLIN" "$@"
}
prop() {
	sdctl show -P "$1" quarantined.service
}

# ---- what systemd is given ------------------------------------------------

mkdir "$TMP/etc" "$TMP/sysroot" "$TMP/sysroot/etc"
cp /etc/passwd /etc/group "$TMP/sysroot/etc/"
: >"$TMP/sysroot/etc/shadow"
: >"$TMP/sysroot/etc/gshadow"
if ! systemd-sysusers --root="$TMP/sysroot" "$SYSUSERS" >"$TMP/sysusers.log" 2>&1; then
	cat "$TMP/sysusers.log"
	echo "FAIL: systemd-sysusers $SYSUSERS"
	exit 1
fi
QUID=$(awk -F: '$1 == "quarantined" { print $3 }' "$TMP/sysroot/etc/passwd")
QGID=$(awk -F: '$1 == "quarantined" { print $3 }' "$TMP/sysroot/etc/group")
OPGID=$(awk -F: '$1 == "quarantine" { print $3 }' "$TMP/sysroot/etc/group")
# The user of Debian's prometheus-node-exporter, who owns its textfile
# directory and runs the metrics unit.
if ! grep -q '^prometheus:' "$TMP/sysroot/etc/passwd"; then
	echo 'prometheus:x:4712:4712:prometheus:/var/lib/prometheus:/usr/sbin/nologin' \
		>>"$TMP/sysroot/etc/passwd"
	grep -q '^prometheus:' "$TMP/sysroot/etc/group" ||
		echo 'prometheus:x:4712:' >>"$TMP/sysroot/etc/group"
fi
# The mailbox the report is sent to.
echo 'qdops:x:4713:4713:report recipient:/:/usr/sbin/nologin' >>"$TMP/sysroot/etc/passwd"
echo 'qdops:x:4713:' >>"$TMP/sysroot/etc/group"
cp "$UNIT" "$TMP/quarantined.service"
# The report's units and script as they are, but for the programs they
# run: the ones just built.
for f in "$REPORT" "$REPORT_MAIL"; do
	sed "s|^ExecStart=[^ ]*/quarantined-report |ExecStart=$REPORTIN |" "$f" >"$TMP/$(basename "$f")"
done
cp "$REPORT_TIMER" "$TMP/quarantined-report.timer"
sed "s|^CTL=\${QUARANTINECTL:-.*|CTL=$CTLIN|" "$REPORT_SCRIPT" >"$TMP/quarantined-report"
# The metrics unit as it is, but for the quarantinectl it runs: the one
# just built.
sed "s|[^ ']*/quarantinectl metrics |$CTLIN metrics |" "$METRICS" >"$TMP/quarantined-metrics.service"
cp "$TIMER" "$TMP/quarantined-metrics.timer"
# Their default dependencies (sysinit.target, basic.target) are met on a
# booted machine; here they would start the machine's boot services
# (tmpfiles, sysctl, remount) against the real kernel and file systems.
printf '[Unit]\nDefaultDependencies=no\n' >"$TMP/nodeps.conf"
cat >"$TMP/qdtest.target" <<-EOF
	[Unit]
	Description=quarantined unit test
	DefaultDependencies=no
	Wants=nftables.service quarantined.service systemd-journald.socket
EOF
# Debian's nftables.service, with a slow start: were the daemon not ordered
# after it, it would be ready (table restored) before the flush.
cat >"$TMP/nftables.service" <<-EOF
	[Unit]
	Description=stand-in for Debian's nftables.service
	DefaultDependencies=no
	Wants=network-pre.target
	Before=network-pre.target shutdown.target
	Conflicts=shutdown.target

	[Service]
	Type=oneshot
	RemainAfterExit=yes
	ExecStart=/bin/sh -c 'sleep 1; exec $(command -v nft) flush ruleset'
	ExecStop=$(command -v nft) flush ruleset
EOF
cat >"$TMP/test.conf" <<-EOF
	[Service]
	ExecStart=
	ExecStart=$QIN -c /run/qdtest/quarantined.conf
	StandardOutput=append:/run/qdtest/daemon.log
	StandardError=append:/run/qdtest/daemon.log
EOF
cat >"$TMP/quarantined.conf" <<-EOF
	capture: { interfaces = [ "v-h1", "v-late" ]; };
	networks: { protected = [ "10.66.1.0/24" ]; };
EOF
# Run by unshare as the parent of systemd: private /run, /tmp, /var
# parts, users and cgroup tree, then systemd as PID 1.
cat >"$TMP/boot.sh" <<-EOF
	#!/bin/sh
	set -eu
	mount -t tmpfs -o mode=0755 tmpfs /run
	mkdir -p /run/systemd/system/quarantined.service.d /run/qdtest
	cp "$TMP/quarantined.service" "$TMP/nftables.service" "$TMP/qdtest.target" \\
		"$TMP/quarantined-metrics.service" "$TMP/quarantined-metrics.timer" \\
		"$TMP/quarantined-report.service" "$TMP/quarantined-report-mail.service" \\
		"$TMP/quarantined-report.timer" /run/systemd/system/
	cp "$TMP/test.conf" /run/systemd/system/quarantined.service.d/
	for u in quarantined-metrics.service quarantined-metrics.timer quarantined-report.service \\
		quarantined-report-mail.service quarantined-report.timer; do
		mkdir /run/systemd/system/\$u.d
		cp "$TMP/nodeps.conf" /run/systemd/system/\$u.d/
	done
	cp "$TMP/quarantined.conf" "$TMP/sysroot/etc/passwd" "$TMP/sysroot/etc/group" /run/qdtest/
	cp "$Q" "$QIN"
	cp "$CTL" "$CTLIN"
	cp "$TMP/quarantined-report" "$REPORTIN"
	chmod 0755 "$QIN" "$CTLIN" "$REPORTIN"
	# exim's configuration (Debian generates it into /var/lib/exim4),
	# before /var/lib is made private.
	[ -z "$MTA" ] || cp -a /var/lib/exim4 /run/qdtest/exim4-lib
	# /etc/default for the report's configuration.
	cp -a /etc/default /run/qdtest/etc-default
	mount --bind /run/qdtest/etc-default /etc/default
	mount --bind /run/qdtest/passwd /etc/passwd
	mount --bind /run/qdtest/group /etc/group
	for d in /tmp /var/tmp /var/lib /var/log /var/cache /var/spool /var/mail; do
		mount -t tmpfs -o mode=0755 tmpfs "\$d"
	done
	chmod 1777 /tmp /var/tmp
	chgrp mail /var/mail
	chmod 2775 /var/mail
	if [ -n "$MTA" ]; then
		cp -a /run/qdtest/exim4-lib /var/lib/exim4
		mkdir -p /var/spool/exim4/input /var/spool/exim4/msglog /var/spool/exim4/db /var/log/exim4
		chown -R Debian-exim:Debian-exim /var/spool/exim4
		chmod 0750 /var/spool/exim4 /var/spool/exim4/input /var/spool/exim4/msglog /var/spool/exim4/db
		chown Debian-exim:adm /var/log/exim4
		chmod 2750 /var/log/exim4
	fi
	mkdir -p $PROMDIR
	chown prometheus:prometheus $PROMDIR
	mount -t cgroup2 cgroup2 /sys/fs/cgroup
	hostname qdtest
	exec env -i container=qdtest PATH=/usr/sbin:/usr/bin:/sbin:/bin \\
		$SYSTEMD --system --unit=qdtest.target --log-target=console --log-level=notice
EOF
chmod 0755 "$TMP/boot.sh"

# ---- namespaces and systemd -----------------------------------------------

if ! ip netns add "${NS}gw" 2>"$TMP/netns.err"; then
	echo "SKIP: cannot create a network namespace: $(cat "$TMP/netns.err")"
	exit 77
fi
NS_MADE="${NS}gw"
ip netns add "${NS}h1" || exit 1
NS_MADE="$NS_MADE ${NS}h1"
for n in gw h1; do
	ip netns exec "$NS$n" sh -c 'echo 1 >/proc/sys/net/ipv6/conf/all/disable_ipv6;
		echo 1 >/proc/sys/net/ipv6/conf/default/disable_ipv6'
	ip -n "$NS$n" link set lo up
done
ip netns exec "${NS}gw" ip link add v-h1 type veth peer name eth0 netns "${NS}h1" || exit 1
ip -n "${NS}gw" addr add 10.66.1.1/24 dev v-h1
ip -n "${NS}gw" link set v-h1 up
ip -n "${NS}h1" addr add $H1/24 dev eth0
ip -n "${NS}h1" link set eth0 up
ip -n "${NS}h1" route add default via 10.66.1.1
ip -n "${NS}gw" route add local 10.66.128.0/17 dev lo

if ! mkdir "$CGDIR" 2>"$TMP/cg.err"; then
	echo "SKIP: cannot make a cgroup in $CG: $(cat "$TMP/cg.err")"
	exit 77
fi
# Into our cgroup first, so that it is the root of the new cgroup namespace.
sh -c 'echo $$ >"$1/cgroup.procs" && exec ip netns exec "$2" unshare --pid --fork --mount \
	--uts --ipc --cgroup --propagation private --mount-proc "$3"' \
	sh "$CGDIR" "${NS}gw" "$TMP/boot.sh" >"$TMP/systemd.log" 2>&1 &
UPID=$!

sd_up() {
	kill -0 "$UPID" 2>/dev/null || return 2
	[ -n "$SDPID" ] || SDPID=$(ps -o pid= --ppid "$UPID" | tr -d ' ')
	[ -n "$SDPID" ] && in_sd test -S /run/systemd/private 2>/dev/null
}
if ! qd_wait 15 "systemd starts in the namespaces" sd_up; then
	echo "---- systemd ----"
	cat "$TMP/systemd.log"
	echo "SKIP: systemd does not start as PID 1 of namespaces here"
	exit 77
fi
echo "== systemd $("$SYSTEMD" --version | awk 'NR == 1 { print $2 }') is PID 1 of the test's namespaces (pid $SDPID here)"

# ---- start ----------------------------------------------------------------

settled() {
	# A start job waiting for nftables.service leaves the unit inactive.
	sdctl list-jobs --no-legend 2>/dev/null | grep -q quarantined.service && return 1
	case $(prop ActiveState) in
	activating | deactivating | reloading | "") return 1 ;;
	esac
}
qd_wait 30 "quarantined.service settles" settled
state=$(prop ActiveState)
qd_check "quarantined.service is active: READY=1 came (ActiveState=$state)" test "$state" = active
if [ "$state" != active ]; then
	sdctl status quarantined.service
	nsenter -t "$SDPID" -m cat /run/qdtest/daemon.log
	exit 1
fi
# The daemon's pid as seen from here: a child of systemd whose pid in
# systemd's namespace (the last NSpid column) is the unit's MainPID.
main=$(prop MainPID)
MPID=""
for p in $(ps -o pid= --ppid "$SDPID"); do
	if [ "$(awk '$1 == "NSpid:" { print $NF }' "/proc/$p/status" 2>/dev/null)" = "$main" ]; then
		MPID=$p
	fi
done
if [ -z "$MPID" ]; then
	echo "FAIL: no process for MainPID $main"
	exit 1
fi
status_of() {
	awk -v k="$1:" '$1 == k { $1 = ""; sub(/^ /, ""); print }' "/proc/$MPID/status"
}
qd_check "the main process is quarantined ($(cat "/proc/$MPID/comm" 2>/dev/null))" \
	test "$(cat "/proc/$MPID/comm" 2>/dev/null)" = quarantined
qd_check "uid $QUID (quarantined): $(status_of Uid)" test "$(status_of Uid)" = "$QUID $QUID $QUID $QUID"
qd_check "gid $QGID (quarantined): $(status_of Gid)" test "$(status_of Gid)" = "$QGID $QGID $QGID $QGID"
qd_check "supplementary group $OPGID (quarantine): $(status_of Groups)" \
	sh -c "echo ' $(status_of Groups) ' | grep -q ' $OPGID '"
qd_check "CapEff 0000000000003000: $(status_of CapEff)" test "$(status_of CapEff)" = 0000000000003000
qd_check "CapPrm 0000000000003000: $(status_of CapPrm)" test "$(status_of CapPrm)" = 0000000000003000
qd_check "CapInh empty: $(status_of CapInh)" test "$(status_of CapInh)" = 0000000000000000
qd_check "CapAmb empty: $(status_of CapAmb)" test "$(status_of CapAmb)" = 0000000000000000
qd_check "CapBnd 0000000000003000: $(status_of CapBnd)" test "$(status_of CapBnd)" = 0000000000003000
qd_check "NoNewPrivs: $(status_of NoNewPrivs)" test "$(status_of NoNewPrivs)" = 1
qd_check "a seccomp filter (Seccomp: $(status_of Seccomp))" test "$(status_of Seccomp)" = 2

# The sensor: the main process's child, which drops everything and loads
# its own filter on top of the unit's (quarantined(8), PROCESS MODEL).
SPID=""
sensor_up() {
	SPID=$(ps -o pid= --ppid "$MPID" | tr -d ' ' | head -n 1)
	[ -n "$SPID" ] && [ -r "/proc/$SPID/status" ]
}
sstatus_of() {
	awk -v k="$1:" '$1 == k { $1 = ""; sub(/^ /, ""); print }' "/proc/$SPID/status"
}
if qd_wait 10 "the sensor" sensor_up; then
	qd_check "the sensor runs (pid $SPID here), a child of the main process" true
	qd_check "the sensor's uid is $QUID: $(sstatus_of Uid)" \
		test "$(sstatus_of Uid)" = "$QUID $QUID $QUID $QUID"
	for k in CapEff CapPrm CapInh CapAmb; do
		qd_check "the sensor's $k is empty: $(sstatus_of $k)" \
			test "$(sstatus_of $k)" = 0000000000000000
	done
	qd_check "the sensor's NoNewPrivs: $(sstatus_of NoNewPrivs)" test "$(sstatus_of NoNewPrivs)" = 1
	qd_check "the sensor has one seccomp filter more than the daemon (Seccomp_filters $(sstatus_of Seccomp_filters), the daemon's $(status_of Seccomp_filters))" \
		test "$(sstatus_of Seccomp_filters)" = "$(($(status_of Seccomp_filters) + 1))"
else
	qd_check "the sensor runs, a child of the main process" false
fi

sock=/run/quarantined/control.sock
qd_check "$sock is quarantined:quarantine 0660 ($(in_sd stat -c '%U:%G %a' $sock))" \
	test "$(in_sd stat -c '%U:%G %a' $sock)" = "quarantined:quarantine 660"
qd_check "the state directory is quarantined 0750 ($(in_sd stat -c '%U %a' /var/lib/quarantined))" \
	test "$(in_sd stat -c '%U %a' /var/lib/quarantined)" = "quarantined 750"
db=/var/lib/quarantined/state.db
qd_check "the state database is quarantined 0600, root only ($(in_sd stat -c '%U %a' $db))" \
	test "$(in_sd stat -c '%U %a' $db)" = "quarantined 600"
qd_check "an operator in group quarantine runs quarantinectl status" \
	quiet in_sd setpriv --reuid=4711 --regid=4711 --groups="$OPGID" "$CTLIN" status
qd_check "a user outside the group is refused" \
	eval "! quiet in_sd setpriv --reuid=4711 --regid=4711 --clear-groups '$CTLIN' status"

# ---- enforce, detect, capture ---------------------------------------------

in_iso4() {
	ip netns exec "${NS}gw" nft list set inet quarantined iso4 2>/dev/null | grep -qwF -- "$H1"
}
qd_check "quarantinectl quarantine $H1" quiet qctl quarantine $H1 --reason systemd-unit
qd_check "iso4 holds $H1" in_iso4
qd_check "quarantinectl release $H1" quiet qctl release $H1
qd_check "released: iso4 no longer holds $H1" eval '! in_iso4'

ip netns exec "${NS}h1" "$WORM" -n 10.66.128.0/18 -p 445 -r 50 -d 3 >"$TMP/worm.json"
qd_check "the worm's scan is detected and isolated" qd_wait 5 "$H1 in iso4" in_iso4
evidence() {
	in_sd sh -c "ls /var/lib/quarantined/evidence/$H1-*.pcap" >/dev/null 2>&1
}
qd_check "its evidence pcap is written" qd_wait 5 "evidence of $H1" evidence

ip netns exec "${NS}gw" ip link add v-late type veth peer name v-late-p
ip -n "${NS}gw" link set v-late up
ip -n "${NS}gw" link set v-late-p up
late() {
	qctl status 2>/dev/null | grep -q '^interface v-late .* packets'
}
qd_check "v-late, made after the start, is captured (retried)" qd_wait 10 "capture on v-late" late

# ---- the textfile collector example ---------------------------------------

prom=$PROMDIR/quarantined.prom
mprop() {
	sdctl show -P "$1" quarantined-metrics.service
}
inode() {
	in_sd stat -c %i "$prom" 2>/dev/null
}
qd_check "systemctl start quarantined-metrics.service" sdctl start quarantined-metrics.service
qd_check "it succeeded (Result=$(mprop Result), status $(mprop ExecMainStatus))" \
	test "$(mprop Result) $(mprop ExecMainStatus)" = "success 0"
qd_check "$prom is prometheus's, mode 0644 ($(in_sd stat -c '%U %a' "$prom" 2>&1))" \
	test "$(in_sd stat -c '%U %a' "$prom" 2>&1)" = "prometheus 644"
in_sd cat "$prom" >"$TMP/m1" 2>/dev/null
qd_check "it passes the strict format check" $PROMCHECK --prefix quarantined_ "$TMP/m1"
qd_check "it says $H1 is isolated (quarantined_hosts{state=\"isolated\"} 1)" \
	grep -qx 'quarantined_hosts{state="isolated"} 1' "$TMP/m1"
qd_check "no quarantined.prom.tmp is left" eval '! in_sd test -e "$prom.tmp"'
before=$(inode)
replaced() {
	[ -n "$(inode)" ] && [ "$(inode)" != "$before" ]
}
qd_check "systemctl start quarantined-metrics.timer" sdctl start quarantined-metrics.timer
qd_check "the timer triggers the unit ($(sdctl show -P Triggers quarantined-metrics.timer))" \
	test "$(sdctl show -P Triggers quarantined-metrics.timer)" = quarantined-metrics.service
qd_check "the timer runs it at once: the file is replaced by a rename (a new inode)" \
	qd_wait 10 "a new $prom" replaced
echo "inode $before, then $(inode)"
qd_check "systemctl stop quarantined-metrics.timer" sdctl stop quarantined-metrics.timer

# ---- the scheduled report --------------------------------------------------

rprop() {
	sdctl show -P "$2" "$1"
}
# The lines the report's units logged (SyslogIdentifier=quarantined-report).
rlog() {
	in_sd journalctl --no-pager -q -o cat -t quarantined-report 2>/dev/null
}
reports() {
	in_sd sh -c "ls $REPORTDIR | grep -c '^report-.*\.$1\$'" 2>/dev/null
}
mails() {
	in_sd sh -c 'grep -c "^From " /var/mail/qdops' 2>/dev/null || echo 0
}
# The mail unit ran to its end n times (its start is queued by the report
# unit's OnSuccess= and runs after it).
mail_runs() {
	[ "$(rlog | grep -c '^report period=')" -ge "$1" ] &&
		[ "$(rprop quarantined-report-mail.service ActiveState)" = inactive ]
}
qd_check "systemctl start quarantined-report.service (no recipient configured)" \
	sdctl start quarantined-report.service
qd_check "it succeeded (Result=$(rprop quarantined-report.service Result))" \
	test "$(rprop quarantined-report.service Result)" = success
qd_check "$REPORTDIR is quarantined-report's, 0750 ($(in_sd stat -c '%U %a' $REPORTDIR 2>&1))" \
	test "$(in_sd stat -c '%U %a' $REPORTDIR 2>&1)" = "quarantined-report 750"
qd_check "one page, one text, one summary in it" \
	test "$(reports html) $(reports txt) $(reports summary)" = "1 1 1"
page=$(in_sd sh -c "ls $REPORTDIR/report-*.html" 2>/dev/null | tail -n 1)
qd_check "the page is quarantined-report's, 0640 ($(in_sd stat -c '%U %a' "$page" 2>&1))" \
	test "$(in_sd stat -c '%U %a' "$page" 2>&1)" = "quarantined-report 640"
in_sd cat "$page" >"$TMP/report1.html"
qd_check "the page parses strictly (html5lib)" "$PY" -c \
	'import html5lib, sys; html5lib.HTMLParser(strict=True).parse(open(sys.argv[1], "rb").read())' \
	"$TMP/report1.html"
qd_check "and says one host is blocked (data-blocked=\"1\")" \
	grep -q '^<div id="summary" data-hosts="[0-9]*" data-blocked="1" ' "$TMP/report1.html"
qd_check "the mail unit runs after it" qd_wait 10 "quarantined-report-mail.service" mail_runs 1
qd_check "and succeeds (Result=$(rprop quarantined-report-mail.service Result))" \
	test "$(rprop quarantined-report-mail.service Result)" = success
rlog | tail -n 3
qd_check "its one line says the period's figures and why nothing was mailed" \
	eval 'rlog | grep -q "^report period=start/[0-9T:-]*Z detected=1 blocked=[1-9][0-9]* released=1 incidents_open=[0-9]* blocked_now=1 hosts=1 file=$page mailed=no why=\"no recipient: REPORT_MAILTO is not set in /etc/default/quarantined-report\"\$"'
qd_check "nothing was mailed" test "$(mails)" = 0

if [ -n "$MTA" ]; then
	echo "REPORT_MAILTO=qdops@localhost" | in_sd sh -c 'cat >/etc/default/quarantined-report'
	# As an operator would change the schedule: a drop-in.
	in_sd sh -c 'mkdir -p /run/systemd/system/quarantined-report.timer.d &&
		printf "[Timer]\nOnCalendar=\nOnActiveSec=1s\nAccuracySec=1s\n" \
		>/run/systemd/system/quarantined-report.timer.d/now.conf'
	sdctl daemon-reload
	qd_check "the timer triggers quarantined-report.service ($(rprop quarantined-report.timer Triggers))" \
		test "$(rprop quarantined-report.timer Triggers)" = quarantined-report.service
	qd_check "systemctl start quarantined-report.timer (a drop-in: OnActiveSec=1s)" \
		sdctl start quarantined-report.timer
	mailed() {
		[ "$(mails)" = 1 ] && mail_runs 2
	}
	qd_check "the report is written and reaches qdops's mailbox" qd_wait 20 "the mail" mailed
	rlog | tail -n 1
	qd_check "the line says to whom" \
		eval 'rlog | tail -n 1 | grep -q "^report period=[0-9T:-]*Z/[0-9T:-]*Z .* mailed=qdops@localhost\$"'
	sdctl stop quarantined-report.timer
	in_sd cat /var/mail/qdops >"$TMP/mbox"
	page=$(in_sd sh -c "ls $REPORTDIR/report-*.html" 2>/dev/null | tail -n 1)
	in_sd cat "$page" >"$TMP/report2.html"
	in_sd cat "${page%.html}.txt" >"$TMP/report2.txt"
	in_sd cat "${page%.html}.summary" >"$TMP/report2.summary"
	sum() {
		sed -n "s/^$1=//p" "$TMP/report2.summary"
	}
	"$PY" -c 'import mailbox, sys; m = list(mailbox.mbox(sys.argv[1])); sys.stdout.buffer.write(m[-1].as_bytes())' \
		"$TMP/mbox" >"$TMP/mail.eml"
	qd_check "the message: our headers, the figures, the page attached byte for byte" \
		"$PY" "$MIMECHECK" "$TMP/mail.eml" "$TMP/report2.html" "$TMP/report2.txt" qdops@localhost \
		"quarantined report on $(in_sd uname -n): $(sum detected) detected, $(sum blocked) blocked, $(sum incidents_open) open incidents" \
		"" --delivered

	# The trap: the same sendmail, the same user, NoNewPrivileges=yes.
	in_sd sh -c 'cat >/run/qdtest/trap.eml' <"$TMP/mail.eml"
	in_sd sh -c 'cat >/run/systemd/system/qdtrap.service' <<-EOF
		[Unit]
		DefaultDependencies=no
		[Service]
		Type=oneshot
		User=quarantined-report
		NoNewPrivileges=yes
		StandardInput=file:/run/qdtest/trap.eml
		ExecStart=/usr/sbin/sendmail -t -oi -odi
	EOF
	sdctl daemon-reload
	sdctl start qdtrap.service 2>/dev/null
	qd_check "sendmail under NoNewPrivileges=yes fails (Result=$(rprop qdtrap.service Result), status $(rprop qdtrap.service ExecMainStatus))" \
		test "$(rprop qdtrap.service Result)" = exit-code
	in_sd journalctl --no-pager -q -o cat -u qdtrap.service | grep -v '^qdtrap.service' | head -n 2
	qd_check "and delivers nothing" test "$(mails)" = 1
else
	echo "SKIP: the report's mail (no exim, and another MTA is installed or apt-get is missing)"
fi

# ---- reload, restart, stop ------------------------------------------------

qd_check "systemctl reload quarantined" sdctl reload quarantined.service
sleep 0.5
qd_check "still active after SIGHUP" test "$(prop ActiveState)" = active
qd_check "quarantinectl reload" quiet qctl reload
qd_check "systemctl restart quarantined" sdctl restart quarantined.service
listed() {
	qctl list 2>/dev/null | grep -qE "^$H1 +isolated"
}
qd_check "after the restart, $H1 is still isolated (state restored)" qd_wait 10 "$H1 listed" listed
# As at boot: the firewall's service and ours started in one transaction.
qd_check "systemctl stop quarantined nftables (flush ruleset)" \
	sdctl stop quarantined.service nftables.service
qd_check "the flush at stop took the table" eval '! in_iso4'
qd_check "systemctl start nftables quarantined, together" \
	sdctl start nftables.service quarantined.service
qd_check "started after nftables.service: $H1 is back in iso4 and stays (the flush came first)" \
	eval 'in_iso4 && sleep 1.5 && in_iso4'
qd_check "and is listed isolated" qd_wait 10 "$H1 listed" listed
qd_check "systemctl stop quarantined" sdctl stop quarantined.service
qd_check "stopped with exit status 0 (Result=$(prop Result), status $(prop ExecMainStatus))" \
	test "$(prop Result) $(prop ExecMainStatus)" = "success 0"
qd_check "the runtime directory is gone" eval '! in_sd test -e /run/quarantined'
in_sd cat "$prom" >"$TMP/m2" 2>/dev/null
before=$(inode)
sdctl start quarantined-metrics.service 2>/dev/null
qd_check "with the daemon stopped, quarantined-metrics.service fails (Result=$(mprop Result))" \
	test "$(mprop Result)" = exit-code
qd_check "and the last $prom stays as it was" \
	eval 'test "$(inode)" = "$before" && in_sd cat "$prom" | cmp -s - "$TMP/m2"'
qd_check "no quarantined.prom.tmp is left" eval '! in_sd test -e "$prom.tmp"'
nreports=$(reports summary)
nmails=$(mails)
sdctl start quarantined-report.service 2>/dev/null
qd_check "with the daemon stopped, quarantined-report.service fails (Result=$(rprop quarantined-report.service Result))" \
	test "$(rprop quarantined-report.service Result)" = exit-code
qd_check "saying so" eval 'rlog | grep -q "^quarantined-report: no report: quarantinectl did not get one from the daemon: "'
sleep 1
qd_check "nothing is written ($(reports summary) reports) and nothing mailed ($(mails) mails)" \
	test "$(reports summary) $(mails)" = "$nreports $nmails"
qd_check "the table stays" quiet ip netns exec "${NS}gw" nft list table inet quarantined

# No interface at all: exit status 2, and no restart (RestartPreventExitStatus).
# shellcheck disable=SC2016 # $1 is for the inner sh
in_sd sh -c 'printf "[Service]\nExecStart=\nExecStart=%s -c /dev/null\n" "$1" \
	>/run/systemd/system/quarantined.service.d/zz-usage.conf' sh "$QIN"
sdctl daemon-reload
sdctl start quarantined.service 2>/dev/null
sleep 2
qd_check "a usage error fails the unit (status $(prop ExecMainStatus)) without restarts ($(prop NRestarts))" \
	test "$(prop ActiveState) $(prop ExecMainStatus) $(prop NRestarts)" = "failed 2 0"

if [ "$QD_FAILS" != 0 ]; then
	echo "---- daemon output ----"
	nsenter -t "$SDPID" -m cat /run/qdtest/daemon.log
	echo "---- quarantined-report's journal ----"
	rlog
	if [ -n "$MTA" ]; then
		echo "---- exim's logs ----"
		in_sd sh -c 'tail -n 20 /var/log/exim4/*'
	fi
	echo "$QD_FAILS check(s) failed"
	exit 1
fi
echo "all checks passed"
