#!/bin/sh
# test_report_script.sh SCRIPT MIMECHECK
#
# The scheduled report's script (contrib/quarantined-report.sh, as
# configured) with a stand-in for quarantinectl and one for sendmail, so
# that what it writes and what it hands to sendmail can be checked
# without a daemon or an MTA (tests/deploy/systemd-unit.sh runs it for
# real, under systemd and with exim):
#
#   - write: the page, the text and the summary with the period's figures
#     (each host counted once, events outside the period and text in an
#     event's reason not counted), mode 0640; no --since the first time,
#     the end of the last period after; the REPORT_KEEP newest kept; a
#     daemon that does not answer fails it and leaves nothing behind;
#   - mail: without REPORT_MAILTO no sendmail, one line that says why;
#     with it "sendmail -t -oi -odi" gets a MIME message (MIMECHECK: the
#     headers, the parts, the page attached byte for byte, whatever
#     boundary-like, header-like or invalid UTF-8 text the reports hold);
#     recipients, sender and subject that would inject a header, and a
#     failing sendmail, fail the step with a line that says so and send
#     nothing.
#
# Exit status: 0 when every check passed, 1 otherwise, 2 on usage errors.
# shellcheck disable=SC2012 # ls of the report directory: the names are the script's
set -u

if [ $# -ne 2 ]; then
	echo "usage: $0 SCRIPT MIMECHECK" >&2
	exit 2
fi
script=$1
mimecheck=$2

tmp=$(mktemp -d "${TMPDIR:-/tmp}/qreport.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

checks=0
failures=0
check() {
	what=$1
	shift
	checks=$((checks + 1))
	if "$@"; then
		echo "ok   $what"
	else
		echo "FAIL $what"
		failures=$((failures + 1))
	fi
}

# The stand-in for quarantinectl: the reports hold what an attacker or a
# careless operator could put in a name or a reason (a line that looks
# like the MIME boundary, a header, a lone dot, invalid UTF-8).
cat >"$tmp/ctl" <<'EOF'
#!/bin/sh
printf '%s\n' "$*" >>"$FAKE/ctl.args"
if [ -e "$FAKE/down" ]; then
	echo "quarantinectl: cannot connect to /run/quarantined/control.sock: No such file or directory" >&2
	exit 3
fi
hostile=$(printf '%s\n' '--=_quarantined_report_20990101T000000Z' 'Bcc: victim@example.org' . \
	'<b>fin-ws-11</b>'; printf '\377\376')
case $* in
*"--format html -o "*)
	out=$(printf '%s\n' "$*" | sed 's/.* -o //')
	{
		printf '<!DOCTYPE html>\n<html><body>\n'
		printf '<div id="summary" data-hosts="6" data-blocked="2" data-open-incidents="1" data-cleaned="0" data-uncleanable="0">\n'
		printf '<p>%s</p>\n' "$hostile"
		printf '</body></html>\n'
	} >"$out"
	;;
"report --by "*" -o "*)
	out=$(printf '%s\n' "$*" | sed 's/.* -o //')
	printf 'Report by department at 2026-01-15T11:05:00.000000Z\n%s\n' "$hostile" >"$out"
	;;
"--json events"*)
	# Two hosts detected (one twice), one blocked (the reason's
	# "host" is text), one released, and a detection after the period;
	# at the start of the period asked for (--since), which is in it.
	since=$(printf '%s\n' "$*" | sed -n 's/.* --since \(.*\)Z$/\1/p')
	t=${since:-2000-01-01T00:00:00}
	sed "s/@T@/$t/" <<'EOJ'
{"ts":"@T@.000001Z","event":"detect","host":"10.1.0.77","rule":"smb"}
{"ts":"@T@.000002Z","event":"detect","host":"10.1.0.77","rule":"smb"}
{"ts":"@T@.000003Z","event":"detect","host":"10.1.0.78","rule":"smb"}
{"ts":"@T@.000004Z","event":"action","host":"10.1.0.77","level":"isolate","reason":"x\",\"event\":\"action\",\"host\":\"9.9.9.9\""}
{"ts":"@T@.000005Z","event":"release","host":"10.1.0.78","state":"released"}
{"ts":"2099-01-01T00:00:00.000001Z","event":"detect","host":"10.1.0.79","rule":"smb"}
EOJ
	;;
*) exit 2 ;;
esac
EOF
cat >"$tmp/sendmail" <<'EOF'
#!/bin/sh
printf '%s\n' "$*" >"$FAKE/sendmail.args"
cat >"$FAKE/sendmail.msg"
if [ -n "${FAKE_SENDMAIL_FAIL:-}" ]; then
	echo "sendmail: temporary failure \"$FAKE_SENDMAIL_FAIL\"" >&2
	exit 75
fi
EOF
chmod 0755 "$tmp/ctl" "$tmp/sendmail"
mkdir "$tmp/reports"
export FAKE="$tmp" REPORT_DIR="$tmp/reports" QUARANTINECTL="$tmp/ctl" SENDMAIL="$tmp/sendmail"
unset REPORT_MAILTO REPORT_MAILFROM REPORT_SUBJECT REPORT_BY REPORT_KEEP JOURNAL_STREAM

# run NAME ARGS...: the script, stdout and stderr in $tmp/NAME.out, its
# exit status in $rc.
run() {
	name=$1
	shift
	"$script" "$@" >"$tmp/$name.out" 2>&1
	rc=$?
}
# shellcheck disable=SC2010,SC2012 # the names are the script's, fixed-format
one() {
	ls "$tmp/reports" | grep -c "$1"
}
summary() {
	cat "$tmp/reports"/report-*.summary 2>/dev/null | tr '\n' ' '
}

# ---- write ------------------------------------------------------------------

run write1 write
check "write: exit 0 ($(cat "$tmp/write1.out"))" test "$rc" = 0
check "no --since the first time" grep -qx -- '--json events' "$tmp/ctl.args"
check "one page, one text, one summary" \
	test "$(one '\.html$') $(one '\.txt$') $(one '\.summary$')" = "1 1 1"
check "the page is quarantinectl's" grep -q '^<div id="summary"' "$tmp/reports"/report-*.html
s=$(summary)
check "the summary: $s" sh -c "printf '%s\n' '$s' | grep -Eq \
	'^from= until=[0-9-]{10}T[0-9:]{8}Z detected=2 blocked=1 released=1 hosts=6 blocked_now=2 incidents_open=1 \$'"
check "files are 0640 ($(stat -c %a "$tmp/reports"/report-*.html))" \
	test "$(stat -c %a "$tmp/reports"/report-*.html "$tmp/reports"/report-*.summary | sort -u)" = 640
check "the end of the period is kept" grep -Eqx '[0-9-]{10}T[0-9:]{8}' "$tmp/reports/last"
last=$(cat "$tmp/reports/last")
old=$(ls "$tmp/reports"/report-*.html)

# Two older reports: with REPORT_KEEP=2 the oldest goes.
for s in 20200101T000000Z 20200102T000000Z; do
	for x in html txt summary; do
		echo old >"$tmp/reports/report-$s.$x"
	done
done
sleep 1
: >"$tmp/ctl.args"
REPORT_KEEP=2 run write2 write
check "write again: exit 0 ($(cat "$tmp/write2.out"))" test "$rc" = 0
check "--since the end of the last period ($(tr '\n' ' ' <"$tmp/ctl.args"))" \
	grep -qx -- "--json events --since ${last}Z" "$tmp/ctl.args"
check "REPORT_KEEP=2: the two newest stay ($(ls "$tmp/reports" | tr '\n' ' '))" \
	test "$(one '\.html$') $(one '\.txt$') $(one '\.summary$') $(one '^report-2020')" = "2 2 2 0"
check "the first is one of them" test -e "$old"
s=$(tr '\n' ' ' <"$(ls "$tmp/reports"/report-*.summary | tail -n 1)")
check "the summary names the period's start: $s" sh -c "printf '%s\n' '$s' | grep -Eq \
	'^from=${last}Z until=[0-9-]{10}T[0-9:]{8}Z detected=2 blocked=1 released=1 hosts=6 blocked_now=2 incidents_open=1 \$'"
last=$(cat "$tmp/reports/last")
REPORT_KEEP=0 run keep0 write
check "REPORT_KEEP=0 is refused" sh -c "test $rc = 1 && grep -q REPORT_KEEP '$tmp/keep0.out'"
REPORT_BY='floor; rm -rf /' run by write
check "REPORT_BY other than a field is refused" sh -c "test $rc = 1 && grep -q REPORT_BY '$tmp/by.out'"

touch "$tmp/down"
before=$(ls "$tmp/reports" | tr '\n' ' ')
sleep 1
run down write
check "the daemon does not answer: exit 1 ($(cat "$tmp/down.out"))" test "$rc" = 1
check "and it says so" grep -q 'no report: .*cannot connect' "$tmp/down.out"
check "nothing new is left" test "$(ls "$tmp/reports" | tr '\n' ' ')" = "$before"
check "the period's end stays" test "$(cat "$tmp/reports/last")" = "$last"
rm -f "$tmp/down"

# ---- mail -------------------------------------------------------------------

newest=$(ls "$tmp/reports"/report-*.html | tail -n 1)
run nomail mail
check "mail without REPORT_MAILTO: exit 0" test "$rc" = 0
check "no sendmail" test ! -e "$tmp/sendmail.args"
check "one line, which says why ($(cat "$tmp/nomail.out"))" sh -c "test \$(wc -l <'$tmp/nomail.out') = 1 &&
	grep -q '^report period=[0-9T:Z-]*/[0-9T:Z-]* detected=2 blocked=1 released=1 incidents_open=1 blocked_now=2 hosts=6 file=$newest mailed=no why=\"no recipient' '$tmp/nomail.out'"
JOURNAL_STREAM=8:42 run journal mail
check "under systemd, the line has its priority (notice)" grep -q '^<5>report period=' "$tmp/journal.out"

REPORT_MAILTO="ops@example.org, root" REPORT_SUBJECT="Outbreak: floor 3" run mail mail
check "mail to two recipients: exit 0 ($(cat "$tmp/mail.out"))" test "$rc" = 0
check "sendmail -t -oi -odi ($(cat "$tmp/sendmail.args"))" grep -qx -- '-t -oi -odi' "$tmp/sendmail.args"
check "the line names them" grep -q ' mailed=ops@example.org,root$' "$tmp/mail.out"
check "the message: headers, parts, the page attached as it is" \
	python3 "$mimecheck" "$tmp/sendmail.msg" "$newest" "${newest%.html}.txt" \
	"ops@example.org, root" "Outbreak: floor 3 on $(uname -n): 2 detected, 1 blocked, 1 open incidents" ""

REPORT_MAILTO=ops@example.org REPORT_MAILFROM=quarantine@gw1.example.org run from mail
check "REPORT_MAILFROM is the From: header" \
	python3 "$mimecheck" "$tmp/sendmail.msg" "$newest" "${newest%.html}.txt" \
	"ops@example.org" "quarantined report on $(uname -n): 2 detected, 1 blocked, 1 open incidents" \
	"quarantine@gw1.example.org"

# Each must be refused, with nothing sent.
bad() {
	rm -f "$tmp/sendmail.args"
	env "$@" "$script" mail >"$tmp/bad.out" 2>&1
	rc=$?
	check "refused: $* (exit $rc: $(cat "$tmp/bad.out"))" \
		sh -c "test $rc = 1 && test ! -e '$tmp/sendmail.args' && grep -q 'mailed=no why=' '$tmp/bad.out'"
}
nl='
'
bad REPORT_MAILTO="ops@example.org${nl}Bcc: victim@example.org"
bad REPORT_MAILTO="ops@example.org${nl}victim@example.org"
bad REPORT_MAILTO="Ops <ops@example.org>"
bad REPORT_MAILTO="ops@example.org;victim@example.org"
bad REPORT_MAILTO="*"
bad REPORT_MAILTO=","
bad REPORT_MAILTO="ops@-example.org"
bad REPORT_MAILTO=ops@example.org REPORT_MAILFROM="x@example.org${nl}Bcc: victim@example.org"
bad REPORT_MAILTO=ops@example.org REPORT_SUBJECT="report${nl}Bcc: victim@example.org"
bad REPORT_MAILTO=ops@example.org REPORT_SUBJECT="$(printf 'r\303\251port')"

rm -f "$tmp/sendmail.args"
REPORT_MAILTO=ops@example.org FAKE_SENDMAIL_FAIL='x" y=1' run fail mail
check "sendmail fails: exit 1, and the line says so ($(cat "$tmp/fail.out"))" \
	sh -c "test $rc = 1 && grep -q 'mailed=no why=\"$tmp/sendmail failed: sendmail: temporary failure .x. y=1.\"\$' '$tmp/fail.out'"

rm -rf "$tmp/reports"/*
run none mail
check "no report to mail: exit 1" sh -c "test $rc = 1 && grep -q 'no report in' '$tmp/none.out'"

echo "$checks checks, $failures failed"
[ "$failures" = 0 ]
