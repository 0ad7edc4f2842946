#!/bin/sh
# test_quarantinectl.sh QUARANTINECTL FAKE_DAEMON
#
# Runs quarantinectl against fake_daemon (the real control server with a
# handler that echoes each request as key=value lines, then "body:" and the
# body) and checks the request every command line maps to, the exit
# statuses 0/1/2/3, and the usage errors caught before any connection.
#
# Exit status: 0 when every check passed, 1 otherwise, 2 on usage errors.
set -eu

if [ $# -ne 2 ]; then
	echo "usage: $0 QUARANTINECTL FAKE_DAEMON" >&2
	exit 2
fi
ctl=$1
fake=$2

tmp=$(mktemp -d "${TMPDIR:-/tmp}/qctl.XXXXXX")
pids=
cleanup() {
	for p in $pids; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# What sudo left in the environment would be sent along (a claim of the
# invoking user): the requests checked here are without it.
unset SUDO_USER SUDO_UID

checks=0
failures=0
fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}

# start_fake NAME [--hangup]: a fake daemon on $tmp/NAME.sock.
start_fake() {
	"$fake" "$tmp/$1.sock" ${2:+"$2"} >"$tmp/$1.log" 2>&1 &
	last_pid=$!
	pids="$pids $last_pid"
	n=0
	until grep -qx ready "$tmp/$1.log" 2>/dev/null; do
		n=$((n + 1))
		if [ $n -gt 200 ]; then
			echo "fake daemon $1 did not start:" >&2
			cat "$tmp/$1.log" >&2
			exit 1
		fi
		sleep 0.05
	done
}

# run WANT_STATUS ARGS...: quarantinectl ARGS, stdin from $stdin (default
# /dev/null), stdout and stderr kept in $tmp/out and $tmp/err.
stdin=/dev/null
run() {
	want=$1
	shift
	checks=$((checks + 1))
	rc=0
	"$ctl" "$@" <"$stdin" >"$tmp/out" 2>"$tmp/err" || rc=$?
	last="quarantinectl $*"
	if [ "$rc" != "$want" ]; then
		fail "$last: exit status $rc, want $want"
		sed 's/^/    stderr: /' "$tmp/err" >&2
	fi
}

# out_is LINE...: stdout is exactly these lines.
out_is() {
	printf '%s\n' "$@" >"$tmp/want"
	if ! cmp -s "$tmp/want" "$tmp/out"; then
		fail "$last: unexpected stdout"
		diff -u "$tmp/want" "$tmp/out" | sed 's/^/    /' >&2 || true
	fi
}

out_empty() {
	if [ -s "$tmp/out" ]; then
		fail "$last: stdout not empty"
		sed 's/^/    stdout: /' "$tmp/out" >&2
	fi
}

# err_has TEXT: stderr contains TEXT.
err_has() {
	if ! grep -qF -- "$1" "$tmp/err"; then
		fail "$last: stderr lacks '$1'"
		sed 's/^/    stderr: /' "$tmp/err" >&2
	fi
}

err_empty() {
	if [ -s "$tmp/err" ]; then
		fail "$last: stderr not empty"
		sed 's/^/    stderr: /' "$tmp/err" >&2
	fi
}

start_fake d
S=$tmp/d.sock

# ---- the request each command maps to ----

run 0 -S "$S" status
out_is cmd=status
err_empty

# --json before or after the command; options before or after arguments.
run 0 -S "$S" --json status
out_is cmd=status json=1
run 0 status --json -S "$S"
out_is cmd=status json=1
run 0 "-S$S" --socket="$S" list --json
out_is cmd=list json=1

run 0 -S "$S" list --state isolated --level contain
out_is cmd=list state=isolated level=contain
run 0 -S "$S" list --level=watch
out_is cmd=list level=watch
# The filters and --wide; a rule's, a department's and a floor's names
# are the daemon's to check.  --since goes as UTC: a local time is read
# in the operator's zone, a duration is that long before now.
run 0 -S "$S" list --wide --rule smb-propagation --department 'Finance Dept' --floor 3
out_is cmd=list wide=1 rule=smb-propagation 'department=Finance Dept' floor=3
run 0 -S "$S" list --since 2026-01-15T09:00:05Z
out_is cmd=list since=2026-01-15T09:00:05.000000Z
TZ=CET-1
export TZ
run 0 -S "$S" list --since '2026-01-15 10:00'
out_is cmd=list since=2026-01-15T09:00:00.000000Z
unset TZ
run 0 -S "$S" list --since 2026-01-15T04:00-05:00
out_is cmd=list since=2026-01-15T09:00:00.000000Z
run 0 -S "$S" list --since 2h --json
since=$(sed -n 's/^since=//p' "$tmp/out")
want=$(date -u -d '2 hours ago' +%s)
have=$(date -u -d "$since" +%s 2>/dev/null || echo 0)
[ $((have - want)) -le 5 ] && [ $((want - have)) -le 5 ] ||
	fail "list --since 2h sent $since, not about $(date -u -d @"$want" +%FT%TZ)"

# import: the client parses the console's export (avcsv.h) and sends
# typed rows, TAB-separated: "r LINE HOST ADDR MAC THREAT TS_US EVIDENCE",
# and each line it refused as "b LINE REASON".
printf '\357\273\277Computer Name;IP Address;Threat Name;Detected at\r\n' >"$tmp/av.csv"
printf 'pc-1;10.1.0.5;Troj/X;\r\n;10.1.0.6;"W32 ""Y""";\r\npc-3;bad;Z;\r\n' >>"$tmp/av.csv"
T=$(printf '\t')
run 0 -S "$S" import --format csv --source-name sophos "$tmp/av.csv"
out_is cmd=import source_name=sophos body: "r${T}2${T}pc-1${T}10.1.0.5${T}${T}Troj/X${T}0${T}pc-1;10.1.0.5;Troj/X;" \
	"r${T}3${T}${T}10.1.0.6${T}${T}W32 \"Y\"${T}0${T};10.1.0.6;\"W32 \"\"Y\"\"\";" \
	"b${T}4${T}not an IP address in the address column"
stdin=$tmp/av.csv
run 0 -S "$S" --json import --format=csv --column threat='threat name' --column host=computername -
stdin=/dev/null
out_is cmd=import json=1 body: "r${T}2${T}pc-1${T}10.1.0.5${T}${T}Troj/X${T}0${T}pc-1;10.1.0.5;Troj/X;" \
	"r${T}3${T}${T}10.1.0.6${T}${T}W32 \"Y\"${T}0${T};10.1.0.6;\"W32 \"\"Y\"\"\";" \
	"b${T}4${T}not an IP address in the address column"

# A line of 1 GiB (quoted, as a console would write a huge field) from a
# pipe: refused by its number, never held, and the row after it sent.
checks=$((checks + 1))
{
	printf 'host,ip,threat\npc-1,10.1.0.1,"'
	head -c 1073741824 /dev/zero | tr '\0' x
	printf '"\npc-2,10.1.0.2,B\n'
} | "$ctl" -S "$S" import --format csv - >"$tmp/out" 2>"$tmp/err" || fail "import of a 1 GiB line: exit status $?"
last="import of a 1 GiB line"
out_is cmd=import body: "b${T}2${T}longer than 8192 bytes" "r${T}3${T}pc-2${T}10.1.0.2${T}${T}B${T}0${T}pc-2,10.1.0.2,B"

run 0 -S "$S" purge --older-than 30d
out_is cmd=purge older_than=2592000
run 0 -S "$S" purge --older-than=0 --json
out_is cmd=purge older_than=0 json=1

run 0 -S "$S" show 10.1.0.5
out_is cmd=show host=10.1.0.5
run 0 -S "$S" show 2001:db8::17 --json
out_is cmd=show host=2001:db8::17 json=1
# A machine by its MAC, or by its name in the inventory (the daemon knows
# the names: the client passes them on).
run 0 -S "$S" show 02:00:0A:01:00:17
out_is cmd=show host=02:00:0A:01:00:17
run 0 -S "$S" quarantine fileserver-2.finance
out_is cmd=quarantine host=fileserver-2.finance

run 0 -S "$S" quarantine 10.1.0.5
out_is cmd=quarantine host=10.1.0.5
run 0 -S "$S" quarantine 10.1.0.5 --level contain --proto tcp --ports 445,0139 \
	--ttl 12h --reason 'worm on SMB'
out_is cmd=quarantine host=10.1.0.5 level=contain proto=tcp ports=445,139 ttl=43200 \
	'reason=worm on SMB'
run 0 -S "$S" quarantine 10.1.0.5 --level contain --proto tcp --ports 22 --to 10.1.2.3
out_is cmd=quarantine host=10.1.0.5 level=contain proto=tcp ports=22 to=10.1.2.3
run 0 -S "$S" quarantine 02:00:0a:01:00:17 --to=fd00::2:3 --level=contain --proto udp --ports 161
out_is cmd=quarantine host=02:00:0a:01:00:17 level=contain proto=udp ports=161 to=fd00::2:3
run 0 -S "$S" quarantine --ttl 90s --level watch --proto udp --ports 1434 fd00::5 --json
out_is cmd=quarantine host=fd00::5 level=watch proto=udp ports=1434 ttl=90 json=1
run 0 -S "$S" quarantine 10.1.0.5 --ttl 30m
out_is cmd=quarantine host=10.1.0.5 ttl=1800
run 0 -S "$S" quarantine 10.1.0.5 --ttl 7d --level=isolate
out_is cmd=quarantine host=10.1.0.5 level=isolate ttl=604800
# The maximum, 365 days, and 0 (until released).
run 0 -S "$S" quarantine 10.1.0.5 --ttl 365d
out_is cmd=quarantine host=10.1.0.5 ttl=31536000
run 0 -S "$S" quarantine 10.1.0.5 --ttl 0
out_is cmd=quarantine host=10.1.0.5 ttl=0
# Values travel intact: %, =, tabs.
run 0 -S "$S" quarantine 10.1.0.5 --reason 'a%25b=c	d 100%'
out_is cmd=quarantine host=10.1.0.5 'reason=a%25b=c	d 100%'

# Bulk: a file, and standard input.
printf '10.1.0.5\n# from the AV console\n10.1.0.6\n' >"$tmp/list"
run 0 -S "$S" quarantine --from "$tmp/list" --level contain --reason av
out_is cmd=quarantine level=contain reason=av from=1 body: 10.1.0.5 '# from the AV console' \
	10.1.0.6
stdin=$tmp/list
run 0 -S "$S" --json quarantine --ttl 1d --from -
stdin=/dev/null
out_is cmd=quarantine ttl=86400 from=1 json=1 body: 10.1.0.5 '# from the AV console' 10.1.0.6
run 0 -S "$S" quarantine --from "$tmp/list" --force --level watch
out_is cmd=quarantine level=watch force=1 from=1 body: 10.1.0.5 '# from the AV console' 10.1.0.6
# A larger list goes through whole.
i=0
: >"$tmp/big"
while [ $i -lt 2000 ]; do
	echo "10.2.$((i / 250)).$((i % 250 + 1))"
	i=$((i + 1))
done >"$tmp/big"
run 0 -S "$S" release --from "$tmp/big"
{ printf 'cmd=release\nfrom=1\nbody:\n'; cat "$tmp/big"; } >"$tmp/want"
cmp -s "$tmp/want" "$tmp/out" || fail "$last: body not echoed intact"

run 0 -S "$S" escalate 10.1.0.5
out_is cmd=escalate host=10.1.0.5
run 0 -S "$S" deescalate 10.1.0.5
out_is cmd=deescalate host=10.1.0.5

run 0 -S "$S" release 10.1.0.5 --reason cleaned
out_is cmd=release host=10.1.0.5 reason=cleaned
run 0 -S "$S" release --all
out_is cmd=release all=1
run 0 -S "$S" release --incident 7 --reason 'false positive'
out_is cmd=release incident=7 'reason=false positive'
run 0 -S "$S" release --all --include-uncleanable
out_is cmd=release all=1 include_uncleanable=1
stdin=$tmp/list
run 0 -S "$S" release --from -
stdin=/dev/null
out_is cmd=release from=1 body: 10.1.0.5 '# from the AV console' 10.1.0.6

run 0 -S "$S" mark 10.1.0.5 cleaned --reason reimaged
out_is cmd=mark host=10.1.0.5 state=cleaned reason=reimaged
run 0 -S "$S" mark --reason 'no vendor patch' 10.1.0.6 uncleanable
out_is cmd=mark host=10.1.0.6 state=uncleanable 'reason=no vendor patch'
run 0 -S "$S" mark 10.1.0.6 cleaning
out_is cmd=mark host=10.1.0.6 state=cleaning

run 0 -S "$S" incidents --json
out_is cmd=incidents json=1
run 0 -S "$S" incident 3
out_is cmd=incident incident=3

run 0 -S "$S" report
out_is cmd=report
run 0 -S "$S" report --by department
out_is cmd=report by=department
run 0 -S "$S" report --by rule --json
out_is cmd=report by=rule json=1
run 0 -S "$S" report --format html
out_is cmd=report format=html
run 0 -S "$S" report --by floor --format csv
out_is cmd=report by=floor format=csv
run 2 -S "$S" report --format xml
err_has "invalid format 'xml'"
run 2 -S "$S" report --json --format html
err_has "disagree"
run 2 -S "$S" status --format html
run 2 -S "$S" report -o
# -o FILE: the answer in FILE, through FILE.tmp; a failed exchange leaves
# the last good FILE as it was and no temporary file.
run 0 -S "$S" report --format html -o "$tmp/r.html"
out_empty
printf 'cmd=report\nformat=html\n' >"$tmp/want"
cmp -s "$tmp/want" "$tmp/r.html" || fail "report -o: unexpected file"
[ ! -e "$tmp/r.html.tmp" ] || fail "report -o: temporary file left"
run 3 -S "$tmp/none.sock" report --format csv -o"$tmp/r.html"
cmp -s "$tmp/want" "$tmp/r.html" || fail "report -o to no daemon: the file changed"
[ ! -e "$tmp/r.html.tmp" ] || fail "report -o to no daemon: temporary file left"

# events: --since travels in UTC to the microsecond, turned so by
# the client in its own time zone.
run 0 -S "$S" events
out_is cmd=events
run 0 -S "$S" events --json
out_is cmd=events json=1
run 0 -S "$S" events --since 2026-01-15T09:00:05Z
out_is cmd=events since=2026-01-15T09:00:05.000000Z
run 0 -S "$S" events --since='2026-01-15 10:00:05.5+01:00'
out_is cmd=events since=2026-01-15T09:00:05.500000Z
checks=$((checks + 1))
rc=0
TZ=UTC "$ctl" -S "$S" events --since '2026-01-15 09:00' >"$tmp/out" 2>"$tmp/err" || rc=$?
last="TZ=UTC quarantinectl events --since '2026-01-15 09:00'"
[ $rc = 0 ] || fail "$last: exit status $rc"
out_is cmd=events since=2026-01-15T09:00:00.000000Z
checks=$((checks + 1))
rc=0
TZ=CET-1 "$ctl" -S "$S" events --since '2026-01-15 10:00' >"$tmp/out" 2>"$tmp/err" || rc=$?
last="TZ=CET-1 quarantinectl events --since '2026-01-15 10:00'"
[ $rc = 0 ] || fail "$last: exit status $rc"
out_is cmd=events since=2026-01-15T09:00:00.000000Z
# A duration: that long before now.
before=$(date +%s)
run 0 -S "$S" events --since 1h
after=$(date +%s)
checks=$((checks + 1))
since=$(sed -n 's/^since=//p' "$tmp/out")
have=$(date -u -d "$since" +%s 2>/dev/null || echo 0)
if [ "$have" -lt $((before - 3600)) ] || [ "$have" -gt $((after - 3600)) ]; then
	fail "$last: since=$since, want about $(date -u -d @$((before - 3600)) +%FT%TZ)"
fi
# --follow: the answer, then the stream; the fake daemon closes after its
# answer, which for a follower means the daemon went away: 3.
run 3 -S "$S" events --follow --since 10m --json
checks=$((checks + 1))
grep -qx 'follow=1' "$tmp/out" && grep -qx 'json=1' "$tmp/out" && grep -qx 'cmd=events' "$tmp/out" ||
	fail "$last: request not as expected: $(cat "$tmp/out")"
err_has "quarantined at $S closed the event stream"
run 0 -S "$S" metrics
out_is cmd=metrics
run 2 -S "$S" metrics extra
run 2 -S "$S" metrics --by rule

for c in pause resume reload allowlist; do
	run 0 -S "$S" $c
	out_is cmd=$c
done

run 0 -S "$S" outbreak on --by floor --reason "worm on campus"
out_is cmd=outbreak action=on by=floor "reason=worm on campus"
run 0 -S "$S" outbreak on
out_is cmd=outbreak action=on
run 0 -S "$S" outbreak off --reason "all clear"
out_is cmd=outbreak action=off "reason=all clear"
run 0 -S "$S" --json outbreak status
out_is cmd=outbreak action=status json=1

run 0 -S "$S" allow 10.1.0.0/24
out_is cmd=allow host=10.1.0.0/24
run 0 -S "$S" allow 10.1.0.9
out_is cmd=allow host=10.1.0.9
run 0 -S "$S" disallow fc00::/7
out_is cmd=disallow host=fc00::/7

# ---- the socket: $QUARANTINED_SOCKET, and -S over it ----

checks=$((checks + 1))
rc=0
QUARANTINED_SOCKET=$S "$ctl" status >"$tmp/out" 2>"$tmp/err" || rc=$?
last="QUARANTINED_SOCKET=... quarantinectl status"
[ $rc = 0 ] || fail "$last: exit status $rc"
out_is cmd=status
checks=$((checks + 1))
rc=0
QUARANTINED_SOCKET=$tmp/nowhere.sock "$ctl" -S "$S" status >"$tmp/out" 2>"$tmp/err" || rc=$?
last="QUARANTINED_SOCKET=nowhere quarantinectl -S ... status"
[ $rc = 0 ] || fail "$last: exit status $rc"
checks=$((checks + 1))
rc=0
QUARANTINED_SOCKET=$tmp/nowhere.sock "$ctl" status >"$tmp/out" 2>"$tmp/err" || rc=$?
last="QUARANTINED_SOCKET=nowhere quarantinectl status"
[ $rc = 3 ] || fail "$last: exit status $rc, want 3"
err_has "cannot reach quarantined at $tmp/nowhere.sock"

# ---- the daemon's answer ----

# Refused: the message on stderr, the status as exit status.
run 1 -S "$S" quarantine 10.1.0.5 --reason status=1
err_has 'quarantinectl: fake refusal 1'
out_is cmd=quarantine host=10.1.0.5 reason=status=1
run 2 -S "$S" release 10.1.0.5 --reason status=2
err_has 'quarantinectl: fake refusal 2'

# An empty body: the message goes to stdout.
run 0 -S "$S" release 10.1.0.5 --reason quiet
out_is 'release done 10.1.0.5'
err_empty

# ---- under sudo: the invoking user, sent for the daemon to record as claimed ----

# sudo_run STATUS VAR=VALUE... -- ARGS...: run with that environment.
sudo_run() {
	want=$1
	shift
	envs=
	while [ "$1" != -- ]; do
		envs="$envs $1"
		shift
	done
	shift
	checks=$((checks + 1))
	rc=0
	# shellcheck disable=SC2086
	env $envs "$ctl" "$@" </dev/null >"$tmp/out" 2>"$tmp/err" || rc=$?
	last="$envs quarantinectl $*"
	[ "$rc" = "$want" ] || fail "$last: exit status $rc, want $want"
}
me=$(id -u)
other=$((me + 1000))
sudo_run 0 SUDO_USER=alice SUDO_UID=$other -- -S "$S" release 10.1.0.5
out_is cmd=release host=10.1.0.5 sudo_user=alice sudo_uid=$other
# Both or neither, well-formed, someone else: otherwise left out, and the
# command goes on.
sudo_run 0 SUDO_USER=alice -- -S "$S" release 10.1.0.5
out_is cmd=release host=10.1.0.5
sudo_run 0 SUDO_UID=$other -- -S "$S" release 10.1.0.5
out_is cmd=release host=10.1.0.5
sudo_run 0 'SUDO_USER=al;ice' SUDO_UID=$other -- -S "$S" release 10.1.0.5
out_is cmd=release host=10.1.0.5
sudo_run 0 SUDO_USER=alice SUDO_UID=-5 -- -S "$S" release 10.1.0.5
out_is cmd=release host=10.1.0.5
sudo_run 0 SUDO_USER=alice SUDO_UID=$me -- -S "$S" release 10.1.0.5
out_is cmd=release host=10.1.0.5

# ---- --json: errors as one JSON object on stderr, exit codes unchanged ----

# err_json STATUS TEXT: stderr is one line, a JSON object whose "error"
# holds TEXT and whose "exit" is STATUS (the exit status itself).
err_json() {
	if ! python3 - "$1" "$2" "$tmp/err" <<-'EOF'; then
		import json, sys
		want_exit, text, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
		lines = open(path).read().splitlines()
		assert len(lines) == 1, f"{len(lines)} lines"
		d = json.loads(lines[0])
		assert set(d) == {"error", "exit"}, sorted(d)
		assert isinstance(d["error"], str) and text in d["error"], d["error"]
		assert d["exit"] == want_exit, d["exit"]
	EOF
		fail "$last: stderr is not {\"error\":\"...$2...\",\"exit\":$1}"
		sed 's/^/    stderr: /' "$tmp/err" >&2
	fi
}

# Usage errors, wherever --json is (before or after what is wrong).
N=$tmp/nowhere.sock
run 2 --json frobnicate
err_json 2 "unknown command 'frobnicate'"
out_empty
run 2 -S "$N" relase 10.1.0.5 --json
err_json 2 "unknown command 'relase' (did you mean 'release'?)"
run 2 -S "$N" quarantine --level bogus 10.1.0.5 --json
err_json 2 "invalid level 'bogus' (want watch|contain|isolate)"
run 2 -S "$N" show 'a "quoted"\name' --json
err_json 2 'invalid HOST '\''a "quoted"\name'\'''
run 2 -S "$N" --json
err_json 2 'no command given'
# metrics is the Prometheus text format, with no JSON form: a usage
# error, before any connection (the socket here answers nothing).
run 2 -S "$N" metrics --json
err_json 2 'metrics has no JSON form'
# Refused by the daemon: 1 and 2 as it says, and a status it does not
# know is 1, in the object as in the exit status.
run 1 -S "$S" --json quarantine 10.1.0.5 --reason status=1
err_json 1 'fake refusal 1'
run 2 -S "$S" --json release 10.1.0.5 --reason status=2
err_json 2 'fake refusal 2'
run 1 -S "$S" --json release 10.1.0.5 --reason status=7
err_json 1 'fake refusal 7'
# Unreachable: 3.
run 3 -S "$tmp/nowhere.sock" --json status
err_json 3 "cannot reach quarantined at $tmp/nowhere.sock"
out_empty
# A sentence alone is an object under --json; the text as before without.
run 0 -S "$S" --json release 10.1.0.5 --reason quiet
out_is '{"ok":true,"message":"release done 10.1.0.5"}'
err_empty
# Every command of -h, with --json, against a daemon that is not there:
# the same one-line error object and exit status 3 for each.
"$ctl" -h | sed -n '/^commands:/,/^$/p' | awk 'NF && $1 != "commands:" && $1 !~ /^\[/ { print $1 }' |
	sort -u >"$tmp/commands"
[ "$(wc -l <"$tmp/commands")" -ge 19 ] || fail "-h lists $(wc -l <"$tmp/commands") commands"
while read -r cmd; do
	case $cmd in
	show | escalate | deescalate | allow | disallow) args=10.1.0.5 ;;
	mark) args="10.1.0.5 cleaning" ;;
	release) args=10.1.0.5 ;;
	quarantine) args=10.1.0.5 ;;
	incident) args=3 ;;
	purge) args="--older-than 30d" ;;
	outbreak) args=status ;;
	import) args="--format csv $tmp/av.csv" ;;
	*) args= ;;
	esac
	if [ "$cmd" = metrics ]; then
		run 2 -S "$tmp/nowhere.sock" --json metrics
		err_json 2 'metrics has no JSON form'
		continue
	fi
	# shellcheck disable=SC2086
	run 3 -S "$tmp/nowhere.sock" "$cmd" $args --json
	err_json 3 "cannot reach quarantined"
done <"$tmp/commands"

# ---- a full control socket never locks an operator out ----

# 200 silent peers, garbage, a 1 MiB line and a line that never ends, all
# held open: quarantinectl still gets its answer at once (2 s is a
# generous bound: timings belong to the benchmarks), the garbage and the
# long line get a usage error and a closed connection, and the peers
# dropped to make room are the longest silent ones, each told so.
start_fake full
full_pid=$last_pid
python3 "$(dirname "$0")/hold_peers.py" "$tmp/full.sock" 200 "$tmp/held" "$tmp/report" \
	2>"$tmp/hold.err" &
hold_pid=$!
pids="$pids $hold_pid"
n=0
until [ -s "$tmp/held" ]; do
	n=$((n + 1))
	if [ $n -gt 200 ] || ! kill -0 "$hold_pid" 2>/dev/null; then
		echo "hold_peers.py did not hold its peers:" >&2
		cat "$tmp/hold.err" >&2
		exit 1
	fi
	sleep 0.05
done
t0=$(date +%s%N)
run 0 -S "$tmp/full.sock" status
t1=$(date +%s%N)
out_is cmd=status
checks=$((checks + 1))
ms=$(((t1 - t0) / 1000000))
[ $ms -lt 2000 ] || fail "quarantinectl status with the socket full took $ms ms"
kill -USR1 "$hold_pid"
wait "$hold_pid" || fail "hold_peers.py: exit status $?"
checks=$((checks + 1))
# The unterminated line and the first 185 idle peers went, oldest first;
# the last 15 stay (16 slots, one taken by quarantinectl in its turn).
printf '%s\n' "garbage status=2 msg=field without '=' closed" \
	"long status=2 msg=request too large closed" \
	"unterminated status=1 msg=dropped: the control socket was full and this client had not sent its request closed" \
	"idle dropped=185 kept=15 prefix=yes other=0" >"$tmp/want"
if ! cmp -s "$tmp/want" "$tmp/report"; then
	fail "peers held on a full socket: unexpected report"
	diff -u "$tmp/want" "$tmp/report" | sed 's/^/    /' >&2 || true
fi
kill -0 "$full_pid" 2>/dev/null || fail "the fake daemon died under the peers"
run 0 -S "$tmp/full.sock" status
out_is cmd=status

# ---- unreachable: 3 ----

run 3 -S "$tmp/nowhere.sock" status
err_has "cannot reach quarantined at $tmp/nowhere.sock"
out_empty

# A socket file nobody listens on: a daemon killed with SIGKILL.
start_fake dead
kill -9 "$last_pid"
wait "$last_pid" 2>/dev/null || true
run 3 -S "$tmp/dead.sock" status
err_has "cannot reach quarantined at $tmp/dead.sock"

# Not a socket at all.
: >"$tmp/plain"
run 3 -S "$tmp/plain" status
err_has "cannot reach quarantined at $tmp/plain"

# A daemon that closes before it answers.
start_fake hup --hangup
run 3 -S "$tmp/hup.sock" status
err_has 'closed the connection without an answer'
run 3 -S "$tmp/hup.sock" release --from "$tmp/big"

# ---- usage errors: 2, before any connection ----

N=$tmp/nowhere.sock
usage() {
	msg=$1
	shift
	run 2 -S "$N" "$@"
	err_has "$msg"
	out_empty
}
usage 'no command given'
usage "unknown command 'frobnicate'" frobnicate
usage "unknown command 'relase' (did you mean 'release'?)" relase 10.1.0.5
usage "unknown option '--incidnet' (did you mean '--incident'?)" release --incidnet 3
usage "unknown option '--bogus'" status --bogus
usage "unknown option '-x'" -x status
usage "invalid HOST 'foo bar'" show 'foo bar'
usage "invalid HOST '02:00:00:00:00'" show 02:00:00:00:00
usage "invalid HOST '10.1.0.256'" show 10.1.0.256
usage "invalid HOST '10.1.0.0/24'" quarantine 10.1.0.0/24
usage "invalid HOST" escalate ''
usage 'show needs more arguments' show
usage 'too many arguments for show' show 10.1.0.5 10.1.0.6
usage 'status does not take --level' status --level watch
usage "invalid DURATION '5x'" quarantine 10.1.0.5 --ttl 5x
usage "invalid DURATION '12hours'" quarantine 10.1.0.5 --ttl 12hours
usage "invalid DURATION ''" quarantine 10.1.0.5 --ttl ''
# TTLs: no sign, no overflow, at most 365 days; caught before any
# connection, so nothing changes.
usage "invalid DURATION '-1'" quarantine 10.1.0.5 --ttl -1
usage "invalid DURATION '1y'" quarantine 10.1.0.5 --ttl 1y
for t in -1 1y '' 18446744073709551615 99999999999999999999 366d 31536001 8761h; do
	usage 'ttl must be between 0 and 365d' quarantine 10.1.0.5 --ttl "$t"
	usage 'ttl must be between 0 and 365d' quarantine --from "$tmp/list" --ttl="$t"
done
usage "invalid --ttl '366d'" quarantine 10.1.0.5 --ttl 366d
usage '--ports needs --proto' quarantine 10.1.0.5 --ports 445
usage '--proto needs --ports' quarantine 10.1.0.5 --proto tcp
usage '--to needs --proto and --ports' quarantine 10.1.0.5 --level contain --to 10.1.2.3
usage '--to goes with --level contain' quarantine 10.1.0.5 --proto tcp --ports 22 --to 10.1.2.3
usage '--to goes with --level contain' quarantine 10.1.0.5 --level isolate --proto tcp \
	--ports 22 --to 10.1.2.3
usage "invalid --to '10.1.2' (want one unicast IPv4 or IPv6 address)" quarantine 10.1.0.5 \
	--level contain --proto tcp --ports 22 --to 10.1.2
usage "invalid --to '224.0.0.1'" quarantine 10.1.0.5 --level contain --proto tcp --ports 22 \
	--to 224.0.0.1
usage "invalid --to 'ff02::1'" quarantine 10.1.0.5 --level contain --proto tcp --ports 22 \
	--to ff02::1
usage "invalid --to '02:00:00:00:00:01'" quarantine 10.1.0.5 --level contain --proto tcp \
	--ports 22 --to 02:00:00:00:00:01
usage 'not to --from (and so does --to)' quarantine --from "$tmp/list" \
	--level contain --to 10.1.2.3
usage 'release does not take --to' release 10.1.0.5 --to 10.1.2.3
usage "invalid protocol 'icmp'" quarantine 10.1.0.5 --proto icmp --ports 1
usage "invalid --ports '0'" quarantine 10.1.0.5 --proto tcp --ports 0
usage "invalid --ports '65536'" quarantine 10.1.0.5 --proto tcp --ports 65536
usage "invalid --ports '1,,2'" quarantine 10.1.0.5 --proto tcp --ports 1,,2
usage "invalid --ports '22,'" quarantine 10.1.0.5 --proto tcp --ports 22,
usage "invalid --ports 'ssh'" quarantine 10.1.0.5 --proto tcp --ports ssh
usage "invalid --ports '1-1024'" quarantine 10.1.0.5 --proto tcp --ports 1-1024
usage "invalid level 'block'" quarantine 10.1.0.5 --level block
usage "invalid state 'infected'" list --state infected
usage "invalid grouping 'building'" report --by building
usage "invalid TIME 'yesterday'" list --since yesterday
usage "invalid TIME '2026-02-30'" list --since 2026-02-30
usage "invalid TIME '15/01/2026'" list --since 15/01/2026
usage 'status does not take --wide' status --wide
usage 'show does not take --rule' show 10.1.0.5 --rule smb-propagation
usage "unknown option '--departement=x' (did you mean '--department'?)" list --departement=x
usage 'import needs --format csv' import "$tmp/av.csv"
usage "invalid import format 'json'" import --format json "$tmp/av.csv"
usage "invalid --column 'threat'" import --format csv --column threat "$tmp/av.csv"
usage "unknown --column role 'ip'" import --format csv --column ip=x "$tmp/av.csv"
usage '--column host given twice' import --format csv --column host=a --column host=b "$tmp/av.csv"
usage "no column named 'Rechner'" import --format csv --column host=Rechner "$tmp/av.csv"
usage "cannot read $tmp/missing" import --format csv "$tmp/missing"
printf 'Rechner,Bedrohung\nx,y\n' >"$tmp/de.csv"
usage 'no column of the header names the threat' import --format csv "$tmp/de.csv"
usage 'import does not take --level' import --format csv --level watch "$tmp/av.csv"
usage 'purge needs --older-than' purge
usage "invalid --older-than '1y'" purge --older-than 1y
usage "invalid --older-than '3651d'" purge --older-than 3651d
usage "invalid --older-than '-1'" purge --older-than=-1
usage 'list does not take --older-than' list --older-than 30d
usage 'too many arguments for purge' purge 10.1.0.5 --older-than 30d
usage "invalid certification state 'clean'" mark 10.1.0.5 clean
usage 'mark needs more arguments' mark 10.1.0.5
usage '--level given twice' quarantine 10.1.0.5 --level watch --level isolate
usage '--level needs a value' quarantine 10.1.0.5 --level
usage '--all takes no value' release --all=yes
usage 'quarantine takes either HOST or --from' quarantine
usage 'quarantine takes either HOST or --from' quarantine 10.1.0.5 --from "$tmp/list"
usage '--proto and --ports apply to a single HOST' quarantine --from "$tmp/list" \
	--proto tcp --ports 445
usage 'release takes exactly one of' release
usage 'release takes exactly one of' release 10.1.0.5 --all
usage 'release takes exactly one of' release --all --incident 3
usage 'release takes exactly one of' release --incident 3 --from "$tmp/list"
usage '--include-uncleanable goes with --all or --incident' release 10.1.0.5 --include-uncleanable
usage '--force goes with --from' quarantine 10.1.0.5 --force
usage 'show does not take --include-uncleanable' show 10.1.0.5 --include-uncleanable
usage "invalid incident ID 'x1'" release --incident x1
usage "invalid incident ID '0'" incident 0
usage "cannot read $tmp/missing" quarantine --from "$tmp/missing"
usage "cannot read $tmp" release --from "$tmp"
usage "did you mean 10.1.0.0/24?" allow 10.1.0.5/24
usage "invalid HOST or CIDR '10.1.0.0/33'" allow 10.1.0.0/33
usage "invalid TIME 'yesterday'" events --since yesterday
usage "invalid TIME '2026-02-30'" events --since 2026-02-30
usage "invalid TIME '2026-01-15T25:00'" events --since 2026-01-15T25:00
usage "invalid TIME '-1h'" events --since -1h
usage '--since needs a value' events --since
usage '--follow takes no value' events --follow=yes
usage 'status does not take --follow' status --follow
usage 'too many arguments for events' events 10.1.0.5
usage "invalid HOST or CIDR 'any'" disallow any
usage "invalid outbreak action 'start'" outbreak start
usage 'outbreak needs more arguments' outbreak
usage "invalid outbreak grouping 'owner'" outbreak on --by owner
usage '--by goes with outbreak on' outbreak off --by floor
usage 'outbreak status takes no --reason' outbreak status --reason x
usage 'outbreak does not take --level' outbreak on --level isolate
usage 'too many arguments for outbreak' outbreak on floor
usage 'argument of reason too long' release 10.1.0.5 \
	--reason "$(head -c 2000 /dev/zero | tr '\0' x)"
usage 'socket path too long' -S "/$(head -c 200 /dev/zero | tr '\0' x)" status
head -c 17000000 /dev/zero | tr '\0' '\n' >"$tmp/huge"
usage 'larger than the limit' quarantine --from "$tmp/huge"

# Help and version.
run 0 --help
grep -q '^usage: quarantinectl' "$tmp/out" || fail "--help: no usage line"
run 0 status -h
grep -q 'mark HOST cleaning|cleaned|uncleanable' "$tmp/out" || fail "-h: no mark synopsis"
run 0 -V
grep -qx 'quarantinectl [0-9][0-9.]*' "$tmp/out" || fail "-V: unexpected output"

# The fake daemon survived every client.
run 0 -S "$S" status
out_is cmd=status

echo "$checks commands checked, $failures failures"
[ $failures -eq 0 ]
