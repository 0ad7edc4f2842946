#!/bin/sh
# install-layout.sh MESON BUILDDIR SRCDIR
#
# "meson install --destdir" of BUILDDIR into a staging directory, then
# checks the layout: every file we ship is where the build's options say
# (QD_PREFIX, QD_BINDIR, ... in the environment, set by tests/meson.build),
# with mode 0755 (programs) or 0644 (the rest), nothing else is installed,
# nothing under etc/ (an active /etc/quarantined/quarantined.conf would
# replace the built-in defaults), the unit's ExecStart is the installed
# daemon (and the metrics unit's the installed quarantinectl, the report
# units' the installed quarantined-report, which runs the installed
# quarantinectl), the example configuration is the one in conf/ and the installed
# daemon accepts it (quarantined -t), the completion is valid bash, and the
# sysusers.d and tmpfiles.d snippets do what they say on a scratch root
# (systemd-sysusers and systemd-tmpfiles with --root, when they are there).
#
# Exit status: 0 passed, 1 failed, 2 usage.
set -eu

if [ $# -ne 3 ]; then
	echo "usage: $0 MESON BUILDDIR SRCDIR" >&2
	exit 2
fi
meson=$1
builddir=$2
srcdir=$3
for v in QD_PREFIX QD_BINDIR QD_SBINDIR QD_LIBEXECDIR QD_DATADIR QD_MANDIR QD_UNITDIR \
	QD_SYSUSERSDIR QD_TMPFILESDIR QD_COMPLETIONDIR; do
	eval "[ -n \"\${$v:-}\" ]" || {
		echo "$0: $v is not set (run it from meson test)" >&2
		exit 2
	}
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/qd-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
dest=$tmp/root

fails=0
ok() { echo "ok:   $*"; }
fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}

# A directory option is relative to the prefix unless absolute.
abs() {
	case $1 in
	/*) echo "$1" ;;
	*) echo "$QD_PREFIX/$1" ;;
	esac
}
sbin=$(abs "$QD_SBINDIR")
bin=$(abs "$QD_BINDIR")
libexec=$(abs "$QD_LIBEXECDIR")
data=$(abs "$QD_DATADIR")
man=$(abs "$QD_MANDIR")
unitdir=$(abs "$QD_UNITDIR")
sysusers=$(abs "$QD_SYSUSERSDIR")
tmpfiles=$(abs "$QD_TMPFILESDIR")
completion=$(abs "$QD_COMPLETIONDIR")

if ! "$meson" install -C "$builddir" --no-rebuild --quiet --destdir "$dest" >"$tmp/install.log" 2>&1; then
	cat "$tmp/install.log"
	echo "FAIL: meson install --destdir failed"
	exit 1
fi
ok "meson install --destdir $dest"

# PATH MODE: what we expect, one per line.
cat >"$tmp/expected" <<-EOF
	$sbin/quarantined 755
	$bin/quarantinectl 755
	$libexec/quarantined-report 755
	$unitdir/quarantined.service 644
	$unitdir/quarantined-metrics.service 644
	$unitdir/quarantined-metrics.timer 644
	$unitdir/quarantined-report.service 644
	$unitdir/quarantined-report-mail.service 644
	$unitdir/quarantined-report.timer 644
	$sysusers/quarantined.conf 644
	$tmpfiles/quarantined.conf 644
	$data/doc/quarantined/quarantined.conf.example 644
	$completion/quarantinectl 644
	$man/man8/quarantined.8 644
	$man/man8/quarantinectl.8 644
	$man/man5/quarantined.conf.5 644
EOF
# The sync program, where it is built (meson -Dsync).
if [ "${QD_SYNC_BUILT:-0}" = 1 ]; then
	cat >>"$tmp/expected" <<-EOF
		$sbin/quarantine-sync 755
		$unitdir/quarantine-sync.service 644
		$data/doc/quarantined/sync.conf.example 644
		$data/doc/quarantined/quarantine-cluster.conf 644
		$man/man8/quarantine-sync.8 644
	EOF
fi
while read -r path mode; do
	f=$dest$path
	if [ ! -f "$f" ]; then
		fail "$path is not installed"
		continue
	fi
	m=$(stat -c %a "$f")
	if [ "$m" = "$mode" ]; then
		ok "$path ($m)"
	else
		fail "$path has mode $m, not $mode"
	fi
done <"$tmp/expected"

# Nothing else, no odd modes anywhere, nothing under etc/.
(cd "$dest" && find . -type f -o -type l) | sed 's|^\.||' | sort >"$tmp/installed"
cut -d' ' -f1 "$tmp/expected" | sort >"$tmp/wanted"
extra=$(comm -23 "$tmp/installed" "$tmp/wanted")
if [ -z "$extra" ]; then
	ok "nothing else is installed"
else
	fail "installed but not expected by this test (add them here if they belong):"
	echo "$extra" | sed 's/^/      /'
fi
etc=$(grep -E '(^|/)etc/' "$tmp/installed" || true)
if [ -z "$etc" ]; then
	ok "nothing is installed under etc/"
else
	fail "installed under etc/: $etc"
fi
odd=$(find "$dest" \( -perm -o+w -o -perm -4000 -o -perm -2000 \) ! -type l -printf '%m %P\n')
if [ -z "$odd" ]; then
	ok "nothing world-writable, setuid or setgid"
else
	fail "world-writable, setuid or setgid: $odd"
fi
baddirs=$(find "$dest" -mindepth 1 -type d ! -perm 755 -printf '%m %P\n')
if [ -z "$baddirs" ]; then
	ok "every directory is 0755"
else
	fail "directories not 0755: $baddirs"
fi

# The unit runs the installed daemon, and no placeholder is left.
unit=$dest$unitdir/quarantined.service
if [ -f "$unit" ]; then
	exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
	if [ "$exec_start" = "$sbin/quarantined" ]; then
		ok "ExecStart=$exec_start"
	else
		fail "ExecStart is '$exec_start', not $sbin/quarantined"
	fi
	if grep -n '@[A-Z_]*@' "$unit"; then
		fail "placeholders left in the unit"
	else
		ok "no placeholder left in the unit"
	fi
fi

# The metrics unit runs the installed quarantinectl, no placeholder left.
munit=$dest$unitdir/quarantined-metrics.service
if [ -f "$munit" ]; then
	if grep -q "^ExecStart=.* $bin/quarantinectl metrics " "$munit"; then
		ok "quarantined-metrics.service runs $bin/quarantinectl metrics"
	else
		fail "quarantined-metrics.service does not run $bin/quarantinectl metrics:"
		grep '^ExecStart=' "$munit"
	fi
	if grep -n '@[A-Z_]*@' "$munit"; then
		fail "placeholders left in quarantined-metrics.service"
	else
		ok "no placeholder left in quarantined-metrics.service"
	fi
fi

# The report units run the installed script, which runs the installed
# quarantinectl; no placeholder left.
for u in quarantined-report:write quarantined-report-mail:mail; do
	f=$dest$unitdir/${u%%:*}.service
	[ -f "$f" ] || continue
	if grep -qx "ExecStart=$libexec/quarantined-report ${u#*:}" "$f"; then
		ok "${u%%:*}.service runs $libexec/quarantined-report ${u#*:}"
	else
		fail "${u%%:*}.service does not run $libexec/quarantined-report ${u#*:}:"
		grep '^ExecStart=' "$f"
	fi
	if grep -n '@[A-Z_]*@' "$f"; then
		fail "placeholders left in ${u%%:*}.service"
	else
		ok "no placeholder left in ${u%%:*}.service"
	fi
done
script=$dest$libexec/quarantined-report
if [ -f "$script" ]; then
	if grep -q "^CTL=\${QUARANTINECTL:-$bin/quarantinectl}\$" "$script" &&
		! grep -n '@[A-Z_]*@' "$script"; then
		ok "quarantined-report runs $bin/quarantinectl"
	else
		fail "quarantined-report does not run $bin/quarantinectl:"
		grep '^CTL=' "$script"
	fi
fi

# The example is conf/quarantined.conf, and the installed daemon takes it.
example=$dest$data/doc/quarantined/quarantined.conf.example
if [ -f "$example" ]; then
	if cmp -s "$example" "$srcdir/conf/quarantined.conf"; then
		ok "the example is conf/quarantined.conf"
	else
		fail "the example differs from conf/quarantined.conf"
	fi
	if "$dest$sbin/quarantined" -t -c "$example" >"$tmp/check.out" 2>&1; then
		ok "installed quarantined -t accepts the example: $(cat "$tmp/check.out")"
	else
		fail "installed quarantined -t rejects the example:"
		cat "$tmp/check.out"
	fi
fi

comp=$dest$completion/quarantinectl
if [ -f "$comp" ]; then
	if bash -n "$comp"; then
		ok "the completion is valid bash"
	else
		fail "the completion has syntax errors"
	fi
fi

# The snippets on a scratch root: users, groups, membership, directories.
scratch=$tmp/sysroot
mkdir -p "$scratch/etc" "$scratch/run" "$scratch/var/lib"
: >"$scratch/etc/passwd"
: >"$scratch/etc/group"
: >"$scratch/etc/shadow"
: >"$scratch/etc/gshadow"
if ! command -v systemd-sysusers >/dev/null; then
	echo "note: no systemd-sysusers: the sysusers.d snippet is not tried"
elif systemd-sysusers --root="$scratch" "$dest$sysusers/quarantined.conf" >"$tmp/sysusers.out" 2>&1; then
	if grep -q '^quarantined:x:[0-9]*:[0-9]*:' "$scratch/etc/passwd" &&
		grep -q '^quarantined:x:' "$scratch/etc/group" &&
		grep -q '^quarantine:x:[0-9]*:quarantined$' "$scratch/etc/group"; then
		uid=$(awk -F: '$1 == "quarantined" { print $3 }' "$scratch/etc/passwd")
		gid=$(awk -F: '$1 == "quarantined" { print $4 }' "$scratch/etc/passwd")
		ggid=$(awk -F: '$1 == "quarantined" { print $3 }' "$scratch/etc/group")
		shell=$(awk -F: '$1 == "quarantined" { print $7 }' "$scratch/etc/passwd")
		if [ "$gid" = "$ggid" ] && [ "$uid" -lt 1000 ] && [ "$uid" -gt 0 ]; then
			ok "sysusers: system user quarantined ($uid:$gid, shell $shell), group quarantine with member quarantined"
		else
			fail "sysusers: user quarantined is $uid:$gid, its group $ggid"
		fi
	else
		fail "sysusers: missing user, group or membership:"
		cat "$scratch/etc/passwd" "$scratch/etc/group"
	fi
else
	fail "systemd-sysusers rejects the snippet:"
	cat "$tmp/sysusers.out"
fi
if ! command -v systemd-tmpfiles >/dev/null || ! grep -q '^quarantined:' "$scratch/etc/passwd" ||
	[ "$(id -u)" != 0 ]; then
	echo "note: the tmpfiles.d snippet is tried as root, with systemd-tmpfiles and the user from sysusers"
elif systemd-tmpfiles --root="$scratch" --create "$dest$tmpfiles/quarantined.conf" >"$tmp/tmpfiles.out" 2>&1; then
	for want in "run/quarantined 755" "var/lib/quarantined 750" "var/lib/quarantined/evidence 750"; do
		# shellcheck disable=SC2086 # PATH MODE
		set -- $want
		got=$(stat -c '%a %u' "$scratch/$1" 2>/dev/null || echo missing)
		if [ "$got" = "$2 $uid" ]; then
			ok "tmpfiles: /$1 mode $2, owned by quarantined"
		else
			fail "tmpfiles: /$1 is '$got', not mode $2 owned by uid $uid"
		fi
	done
else
	fail "systemd-tmpfiles rejects the snippet:"
	cat "$tmp/tmpfiles.out"
fi

if [ "$fails" != 0 ]; then
	echo "$fails check(s) failed"
	exit 1
fi
echo "all checks passed"
