#!/bin/sh
# quarantined-report write|mail - the scheduled report of quarantined(8),
# run by quarantined-report.service (write) and, when that succeeded, by
# quarantined-report-mail.service (mail); see quarantinectl(8), SCHEDULED
# REPORT.  Two steps in two units because they need opposite sandboxes:
# writing talks to the control socket and needs nothing else, while
# handing a message to the local MTA runs its sendmail, which is setgid
# (Postfix's postdrop) or setuid root (exim), and neither works under
# NoNewPrivileges= or with /var/spool read-only.
#
# write: the report of the daemon's state now (quarantinectl report) as
# HTML and as text, and the period's figures from the events the daemon
# kept since the last report, into REPORT_DIR as
# report-YYYYMMDDTHHMMSSZ.{html,txt,summary}; the REPORT_KEEP newest are
# kept.  It fails (exit 1) when the daemon does not answer.
#
# mail: the newest report as a MIME message (a plain-text part with the
# figures and the text report, the HTML page attached) to REPORT_MAILTO
# through "sendmail -t -oi -odi", then one line for syslog that sums the
# period up and says to whom it was mailed, or why not.  No REPORT_MAILTO:
# no mail, the line only.
#
# Host names, reasons and inventory fields in the reports come from the
# network and from operators: they only ever travel inside files and
# base64-encoded MIME parts.  Every header is made of the configuration
# (checked against strict patterns below) and of figures.
set -uf
# Byte-wise character classes, ranges and order, whatever the locale.
LC_ALL=C
export LC_ALL

PROG=quarantined-report
DIR=${REPORT_DIR:-/var/lib/quarantined-report}
CTL=${QUARANTINECTL:-@BINDIR@/quarantinectl}
SENDMAIL=${SENDMAIL:-/usr/sbin/sendmail}
CONF=/etc/default/quarantined-report

# Under systemd, stdout goes to the journal, which takes a leading <N> as
# the line's syslog priority; run by hand, the lines stay plain.
log() {
	prio=$1
	shift
	if [ -n "${JOURNAL_STREAM:-}" ]; then
		printf '<%s>%s\n' "$prio" "$*"
	else
		printf '%s\n' "$*"
	fi
}
die() {
	log 3 "$PROG: $*"
	exit 1
}

# One word from the configuration: $2 must match the extended regular
# expression $3 as a whole (and so holds no newline: grep matches lines).
valid() {
	case $2 in
	*'
'*) return 1 ;;
	esac
	printf '%s\n' "$2" | grep -Eqx -- "$3"
}

by=${REPORT_BY:-department}
case $by in
department | floor | owner | rule) ;;
*) die "REPORT_BY in $CONF: '$by' is none of department, floor, owner, rule" ;;
esac
keep=${REPORT_KEEP:-28}
if ! valid keep "$keep" '[1-9][0-9]{0,3}'; then
	die "REPORT_KEEP in $CONF: '$keep' is not a number from 1 to 9999"
fi

# The reports in DIR, oldest first: the names are ours, fixed-format
# stamps, so that their order is their time.
stamps() {
	# shellcheck disable=SC2012 # the names that matter are ours
	ls "$DIR" 2>/dev/null | sed -n 's/^report-\([0-9]\{8\}T[0-9]\{6\}Z\)\.summary$/\1/p' | sort
}

# The period's figures: the hosts (counted once each) that events of kind
# $1 name, among the JSON events from $2 (inclusive) to $3 (exclusive),
# compared to the second.  The first three keys of an event are always
# ts, event and host (quarantined(8), EVENTS); anything further on, where
# reasons and names are, is not looked at.
count_hosts() {
	sed -n 's/^{"ts":"\([0-9T:-]\{19\}\)[^"]*","event":"\([a-z_]*\)","host":"\([^"]*\)".*/\1 \2 \3/p' "$4" |
		awk -v kind="$1" -v from="$2" -v to="$3" \
			'$2 == kind && (from == "" || $1 >= from) && $1 < to && !seen[$3]++ { n++ }
			END { print n + 0 }'
}

do_write() {
	umask 027
	[ -d "$DIR" ] || die "no directory $DIR"
	# One reading of the clock for both forms.
	# shellcheck disable=SC2046 # two words
	set -- $(date -u '+%Y-%m-%dT%H:%M:%S %Y%m%dT%H%M%SZ')
	until=$1
	stamp=$2
	base=$DIR/report-$stamp
	# The last period's end is this one's start: periods follow each
	# other without a gap or an overlap, whenever the timer ran.
	from=""
	if [ -r "$DIR/last" ]; then
		from=$(cat "$DIR/last")
		valid last "$from" '[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}' || from=""
	fi
	err=$DIR/.err
	if ! "$CTL" report --by "$by" --format html -o "$base.html" 2>"$err" ||
		! "$CTL" report --by "$by" -o "$base.txt" 2>>"$err" ||
		! "$CTL" --json events ${from:+--since "${from}Z"} >"$base.events" 2>>"$err"; then
		why=$(head -n 1 "$err")
		rm -f "$err" "$base.html" "$base.txt" "$base.events"
		die "no report: quarantinectl did not get one from the daemon: ${why:-no answer}"
	fi
	rm -f "$err"
	# The snapshot's own figures, from the page's summary element (the
	# page escapes every text, so no name can make up such a line).
	sum=$(sed -n 's/^<div id="summary" data-hosts="\([0-9]*\)" data-blocked="\([0-9]*\)" data-open-incidents="\([0-9]*\)".*/\1 \2 \3/p' "$base.html" | head -n 1)
	if [ -z "$sum" ]; then
		rm -f "$base.html" "$base.txt" "$base.events"
		die "no report: the page from quarantinectl has no summary"
	fi
	# shellcheck disable=SC2086 # three numbers
	set -- $sum
	{
		printf 'from=%s\n' "${from:+${from}Z}"
		printf 'until=%sZ\n' "$until"
		printf 'detected=%s\n' "$(count_hosts detect "$from" "$until" "$base.events")"
		printf 'blocked=%s\n' "$(count_hosts action "$from" "$until" "$base.events")"
		printf 'released=%s\n' "$(count_hosts release "$from" "$until" "$base.events")"
		printf 'hosts=%s\nblocked_now=%s\nincidents_open=%s\n' "$1" "$2" "$3"
	} >"$base.summary.tmp" || die "cannot write $base.summary.tmp"
	mv -f "$base.summary.tmp" "$base.summary" || die "cannot write $base.summary"
	rm -f "$base.events"
	printf '%s\n' "$until" >"$DIR/last.tmp" || die "cannot write $DIR/last.tmp"
	mv -f "$DIR/last.tmp" "$DIR/last" || die "cannot write $DIR/last"
	# Bounded: the REPORT_KEEP newest stay.
	n=$(stamps | wc -l)
	if [ "$n" -gt "$keep" ]; then
		stamps | head -n $((n - keep)) | while read -r s; do
			rm -f "$DIR/report-$s.html" "$DIR/report-$s.txt" "$DIR/report-$s.summary"
		done
	fi
}

# The summary's value for key $1 (digits, or a time for from and until).
get() {
	sed -n "s/^$1=\\([0-9TZ:-]*\\)\$/\\1/p" "$summary" | head -n 1
}

do_mail() {
	stamp=$(stamps | tail -n 1)
	[ -n "$stamp" ] || die "no report in $DIR to mail"
	base=$DIR/report-$stamp
	summary=$base.summary
	from=$(get from)
	until=$(get until)
	line="report period=${from:-start}/$until detected=$(get detected) blocked=$(get blocked)"
	line="$line released=$(get released) incidents_open=$(get incidents_open)"
	line="$line blocked_now=$(get blocked_now) hosts=$(get hosts) file=$base.html"

	rcpt=${REPORT_MAILTO:-}
	if [ -z "$rcpt" ]; then
		log 5 "$line mailed=no why=\"no recipient: REPORT_MAILTO is not set in $CONF\""
		return 0
	fi
	# Addresses (user@domain, or a local user), separated by commas or
	# blanks; nothing else, so that no header can be added or changed.
	if ! valid to "$rcpt" '[A-Za-z0-9._%+=@, 	-]+'; then
		log 3 "$line mailed=no why=\"REPORT_MAILTO in $CONF: not a list of addresses\""
		exit 1
	fi
	to=""
	for a in $(printf '%s\n' "$rcpt" | tr ',' ' '); do
		if ! valid to "$a" '[A-Za-z0-9._%+=-]{1,64}(@[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*)?'; then
			log 3 "$line mailed=no why=\"REPORT_MAILTO in $CONF: not an address\""
			exit 1
		fi
		to=${to:+$to, }$a
	done
	if [ -z "$to" ]; then
		log 3 "$line mailed=no why=\"REPORT_MAILTO in $CONF: not a list of addresses\""
		exit 1
	fi
	sender=${REPORT_MAILFROM:-}
	if [ -n "$sender" ] && ! valid from "$sender" '[A-Za-z0-9._%+=-]{1,64}(@[A-Za-z0-9.-]{1,253})?'; then
		log 3 "$line mailed=no why=\"REPORT_MAILFROM in $CONF: not an address\""
		exit 1
	fi
	prefix=${REPORT_SUBJECT:-quarantined report}
	if ! valid subject "$prefix" '[ -~]{1,100}'; then
		log 3 "$line mailed=no why=\"REPORT_SUBJECT in $CONF: not 1 to 100 printable ASCII characters\""
		exit 1
	fi
	host=$(uname -n)
	valid host "$host" '[A-Za-z0-9.-]{1,253}' || host=gateway

	msg=$(mktemp "${TMPDIR:-/tmp}/$PROG.XXXXXX") || die "cannot make a temporary file"
	trap 'rm -f "$msg"' EXIT
	# "=_" occurs in no base64 text: every part is base64, so the
	# boundary cannot occur in the parts whatever the reports hold.
	boundary="=_quarantined_report_$stamp"
	{
		[ -n "$sender" ] && printf 'From: %s\n' "$sender"
		printf 'To: %s\n' "$to"
		printf 'Subject: %s on %s: %s detected, %s blocked, %s open incidents\n' \
			"$prefix" "$host" "$(get detected)" "$(get blocked)" "$(get incidents_open)"
		printf 'Date: %s\n' "$(LC_ALL=C date -R)"
		printf 'Auto-Submitted: auto-generated\n'
		printf 'MIME-Version: 1.0\n'
		printf 'Content-Type: multipart/mixed; boundary="%s"\n\n' "$boundary"
		printf 'This is a MIME message: the report is attached as HTML.\n\n'
		printf -- '--%s\n' "$boundary"
		printf 'Content-Type: text/plain; charset=utf-8\n'
		printf 'Content-Transfer-Encoding: base64\n\n'
		{
			printf 'quarantined on %s, the period from %s to %s:\n\n' \
				"$host" "${from:-the daemon start}" "$until"
			printf '  hosts detected     %s\n' "$(get detected)"
			printf '  hosts blocked      %s\n' "$(get blocked)"
			printf '  hosts released     %s\n' "$(get released)"
			printf 'and now:\n'
			printf '  hosts known        %s\n' "$(get hosts)"
			printf '  hosts blocked      %s\n' "$(get blocked_now)"
			printf '  open incidents     %s\n\n' "$(get incidents_open)"
			printf 'The page attached is %s on %s.\n\n' "$base.html" "$host"
			cat "$base.txt"
		} | base64
		printf -- '--%s\n' "$boundary"
		printf 'Content-Type: text/html; charset=utf-8\n'
		printf 'Content-Transfer-Encoding: base64\n'
		printf 'Content-Disposition: attachment; filename="quarantined-report-%s-%s.html"\n\n' \
			"$host" "$stamp"
		base64 <"$base.html"
		printf -- '--%s--\n' "$boundary"
	} >"$msg" || die "cannot write the message"

	# -odi: deliver before returning.  exim would otherwise fork the
	# delivery and return, and systemd ends the unit's processes when
	# the main one exits; Postfix ignores it.
	if ! out=$("$SENDMAIL" -t -oi -odi <"$msg" 2>&1); then
		why=$(printf '%s\n' "$out" | head -n 1 | tr -c '[:print:]\n' '?' | tr '"' "'")
		log 3 "$line mailed=no why=\"$SENDMAIL failed: ${why:-no message}\""
		exit 1
	fi
	log 5 "$line mailed=$(printf '%s' "$to" | tr -d ' ')"
}

case ${1:-} in
write) do_write ;;
mail) do_mail ;;
*)
	echo "usage: $PROG write|mail" >&2
	exit 2
	;;
esac
