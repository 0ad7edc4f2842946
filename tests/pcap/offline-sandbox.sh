#!/bin/bash
# offline-sandbox.sh QUARANTINED CAPTURE
#
# quarantined -r reads a capture that may come from anywhere; once the
# file is open and detection is set up it runs in a sandbox (no
# capability, no_new_privs, a seccomp filter: quarantined(8), SECURITY).
# Checks, as a user would see them:
#   - while it reads a capture from a FIFO (the writer holds it half
#     written), /proc/PID/status shows Seccomp 2, NoNewPrivs 1 and no
#     effective capability, also when started as root;
#   - what it prints from the FIFO is what it prints from the file, and
#     it exits 0 (no SIGSYS on the way out);
#   - with --syslog (root: a mount namespace of its own with a private
#     /dev): with no /dev/log, glibc makes a new socket for each message
#     and the run still ends well; with a listener on /dev/log, the
#     listener gets the events.
# Makes nothing outside a temporary directory and its own mount
# namespace; sends no packet.
set -u

if [ $# -ne 2 ]; then
	echo "usage: $0 QUARANTINED CAPTURE" >&2
	exit 2
fi
q=$(realpath "$1")
cap=$(realpath "$2")

tmp=$(mktemp -d "${TMPDIR:-/tmp}/offline-sandbox.XXXXXX") || exit 2
writer=
cleanup() {
	[ -n "$writer" ] && kill "$writer" 2>/dev/null
	[ -n "${KEEP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fails=0
fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}

status_field() { # PID FIELD
	awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null
}

"$q" -r "$cap" -o json >"$tmp/file.json" 2>"$tmp/file.err"
rc=$?
[ $rc -eq 0 ] || fail "reading $cap: exit $rc ($(cat "$tmp/file.err"))"
[ -s "$tmp/file.json" ] || fail "no event from $cap (pick a capture with detections)"

# The FIFO's writer sends the first 64 KiB, then waits for the go.
mkfifo "$tmp/fifo" "$tmp/go"
size=$(stat -c %s "$cap")
{
	head -c 65536 "$cap"
	read -r _ <"$tmp/go"
	tail -c +65537 "$cap"
} >"$tmp/fifo" &
writer=$!
"$q" -r "$tmp/fifo" -o json >"$tmp/fifo.json" 2>"$tmp/fifo.err" &
pid=$!
# Sandboxed once the capture's first records are read and the tables made.
for _ in $(seq 100); do
	[ "$(status_field $pid Seccomp)" = 2 ] && break
	sleep 0.1
done
[ "$(status_field $pid Seccomp)" = 2 ] || fail "Seccomp of quarantined -r: '$(status_field $pid Seccomp)', not 2"
[ "$(status_field $pid NoNewPrivs)" = 1 ] || fail "NoNewPrivs: '$(status_field $pid NoNewPrivs)', not 1"
[ "$(status_field $pid CapEff)" = 0000000000000000 ] ||
	fail "CapEff: '$(status_field $pid CapEff)', not none"
[ "$(status_field $pid CapPrm)" = 0000000000000000 ] ||
	fail "CapPrm: '$(status_field $pid CapPrm)', not none"
echo go >"$tmp/go"
wait $pid
rc=$?
wait "$writer"
writer=
[ $rc -eq 0 ] || fail "reading the FIFO ($size bytes): exit $rc ($(cat "$tmp/fifo.err"))"
cmp -s "$tmp/file.json" "$tmp/fifo.json" || fail "events from the FIFO differ from the file's"

if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: --syslog checks need root (a mount namespace)"
	[ $fails -eq 0 ] || exit 1
	exit 77
fi

# In a mount namespace of its own: /dev a tmpfs with /dev/null only, so
# /dev/log is ours (absent, then a listener's).
cat >"$tmp/ns.sh" <<'EOF'
set -u
q=$1 cap=$2 tmp=$3
mount --make-rprivate / || exit 3
mkdir "$tmp/olddev"
mount --bind /dev "$tmp/olddev" || exit 3
mount -t tmpfs tmpfs /dev || exit 3
mknod -m 666 /dev/null c 1 3 || exit 3
"$q" -r "$cap" -o json --syslog >"$tmp/nolog.json" 2>"$tmp/nolog.err"
echo "nolog $?" >"$tmp/rc"
python3 - "$tmp" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log")
open(sys.argv[1] + "/ready", "w").close()
s.settimeout(20)
with open(sys.argv[1] + "/syslog", "wb") as out:
    try:
        while True:
            m = s.recv(65536)
            out.write(m + b"\n")
            out.flush()
            if b"quarantined-test-end" in m:
                break
    except socket.timeout:
        pass
PY
lpid=$!
for _ in $(seq 100); do [ -e "$tmp/ready" ] && break; sleep 0.1; done
"$q" -r "$cap" -o json --syslog >"$tmp/log.json" 2>"$tmp/log.err"
echo "log $?" >>"$tmp/rc"
logger -u /dev/log quarantined-test-end 2>/dev/null ||
	python3 -c 'import socket; s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.sendto(b"quarantined-test-end", "/dev/log")'
wait $lpid
EOF
unshare -m bash "$tmp/ns.sh" "$q" "$cap" "$tmp"
rc=$?
[ $rc -eq 0 ] || fail "the mount namespace's script: exit $rc"
grep -qx "nolog 0" "$tmp/rc" ||
	fail "--syslog with no /dev/log: $(grep nolog "$tmp/rc") ($(cat "$tmp/nolog.err" 2>/dev/null))"
grep -qx "log 0" "$tmp/rc" ||
	fail "--syslog with a listener: $(grep '^log' "$tmp/rc") ($(cat "$tmp/log.err" 2>/dev/null))"
cmp -s "$tmp/file.json" "$tmp/nolog.json" || fail "--syslog (no /dev/log) printed other events"
cmp -s "$tmp/file.json" "$tmp/log.json" || fail "--syslog (a listener) printed other events"
# Each event on stdout reached the listener (one message each).
want=$(grep -c . "$tmp/file.json")
got=$(grep -c 'quarantined\[[0-9]*\]: ' "$tmp/syslog" 2>/dev/null)
[ "${got:-0}" -ge "$want" ] || fail "the syslog listener got ${got:-0} events, stdout had $want"

if [ $fails -ne 0 ]; then
	echo "$fails check(s) failed"
	exit 1
fi
echo "OK: quarantined -r is sandboxed, prints the same, and logs through its sandbox"
