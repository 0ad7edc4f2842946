#!/bin/bash
# completion.sh QUARANTINECTL COMPLETION
#
# The bash completion of quarantinectl, run the way bash runs it (with
# bash-completion's helpers): every command and every option that
# "quarantinectl --help" lists is offered, each option only where the
# command takes it, and the values of --state, --level, --proto, --by,
# mark's certification states, --from (files and "-") and --ttl units.
# HOST and incident ID come from the daemon ("list", "incidents"): a stand-in
# quarantinectl prints those tables, so that parsing them (IPv6 addresses
# with their colons included) and passing -S on are checked without a
# daemon.
#
# Exit status: 0 passed, 1 failed, 2 usage, 77 skipped (no bash-completion).
set -u

if [ $# -ne 2 ]; then
	echo "usage: $0 QUARANTINECTL COMPLETION" >&2
	exit 2
fi
ctl=$1
comp=$2
bc=/usr/share/bash-completion/bash_completion
if [ ! -r "$bc" ]; then
	echo "SKIP: bash-completion is not installed ($bc)"
	exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/qd-comp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

# shellcheck disable=SC1090
. "$bc"
# shellcheck disable=SC1090
. "$comp"

fails=0
ok() { echo "ok:   $*"; }
fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}

# complete LINE: what TAB at the end of LINE offers, sorted, one per line.
# LINE is split into words at blanks, with "=" as a word of its own, as
# readline does (COMP_WORDBREAKS); colons, which readline splits at too,
# stay in the word: bash-completion joins them back all the same.
complete() {
	local line=$1 w
	local -a words=()
	COMP_LINE=$line
	COMP_POINT=${#line}
	for w in $line; do
		if [[ $w == *=* ]]; then
			words+=("${w%%=*}" "=")
			[[ -n ${w#*=} ]] && words+=("${w#*=}")
		else
			words+=("$w")
		fi
	done
	[[ $line == *" " ]] && words+=("")
	COMP_WORDS=("${words[@]}")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMPREPLY=()
	_quarantinectl "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" \
		"${COMP_WORDS[COMP_CWORD - 1]}"
	printf '%s\n' "${COMPREPLY[@]}" | sed '/^$/d' | sort
}

# expect LINE WORD...: TAB at the end of LINE offers exactly WORD...
expect() {
	local line=$1 got want
	shift
	got=$(complete "$line" | tr '\n' ' ')
	want=$(printf '%s\n' "$@" | sed '/^$/d' | sort | tr '\n' ' ')
	if [ "$got" = "$want" ]; then
		ok "'$line' -> ${got:-(nothing)}"
	else
		fail "'$line' -> '$got', want '$want'"
	fi
}

# includes LINE WORD...: TAB at the end of LINE offers at least WORD...
includes() {
	local line=$1 got w missing=""
	shift
	got=$(complete "$line")
	for w in "$@"; do
		grep -qxF -- "$w" <<<"$got" || missing="$missing $w"
	done
	if [ -z "$missing" ]; then
		ok "'$line' offers $*"
	else
		fail "'$line' does not offer$missing (offers: $(tr '\n' ' ' <<<"$got"))"
	fi
}

# ---- everything quarantinectl --help lists --------------------------------

help=$("$ctl" --help) || {
	fail "quarantinectl --help"
	exit 1
}
# The commands: the first word of each line of the "commands:" section.
cmds=$(sed -n '/^commands:/,/^$/p' <<<"$help" | awk 'NR > 1 && /^  [a-z]/ { print $1 }' | sort -u)
[ -n "$cmds" ] || fail "no commands found in quarantinectl --help"
# shellcheck disable=SC2086
expect "$ctl " $cmds

# Every --option in the help, offered somewhere; each command's own
# options where its usage line names them.
offered=$(for c in "" $cmds; do complete "$ctl $c${c:+ }-"; done | sort -u)
while read -r o; do
	if grep -qxF -- "$o" <<<"$offered"; then
		ok "$o is offered"
	else
		fail "$o (in quarantinectl --help) is never offered"
	fi
done < <(grep -oE -- '--[a-z]+(-[a-z]+)*' <<<"$help" | sort -u)
for c in $cmds; do
	# Options on the usage lines of this command (continuation lines too).
	opts=$(sed -n '/^commands:/,/^$/p' <<<"$help" |
		awk -v c="$c" '/^  [a-z]/ { cur = $1 } cur == c' |
		grep -oE -- '--[a-z]+(-[a-z]+)*' | sort -u)
	# shellcheck disable=SC2086
	[ -n "$opts" ] && includes "$ctl $c -" $opts
done
expect "$ctl status -" -S --socket --json -h --help -V --version
expect "$ctl show --" --socket --json --help --version

# ---- values ---------------------------------------------------------------

expect "$ctl list --state " detected watched contained isolated cleaning cleaned uncleanable released
expect "$ctl list --state=iso" isolated
expect "$ctl list --level " watch contain isolate
expect "$ctl quarantine 10.1.1.1 --level c" contain
expect "$ctl quarantine 10.1.1.1 --proto " tcp udp
expect "$ctl report --by " department floor owner rule
expect "$ctl report --format " text json html csv
expect "$ctl quarantine 10.1.1.1 --ttl 30" 30s 30m 30h 30d
expect "$ctl mark 10.1.1.1 " cleaning cleaned uncleanable
expect "$ctl mark 10.1.1.1 cleaned "
mkdir "$tmp/lists"
: >"$tmp/lists/hosts.txt"
expect "$ctl quarantine --from $tmp/lists/h" "$tmp/lists/hosts.txt"
expect "$ctl report -o $tmp/lists/h" "$tmp/lists/hosts.txt"
includes "$ctl release --from " -
includes "$ctl -S $tmp/l" "$tmp/lists"

# ---- hosts and incidents from the daemon ------------------------------------

# A stand-in quarantinectl: the tables the daemon prints, and its
# arguments logged.  The 80-column list gives a long address a line of its
# own (its row follows, indented): completion asks for --wide, where the
# first column is every host whole.
fake=$tmp/quarantinectl
cat >"$fake" <<-EOF
	#!/bin/sh
	echo "\$*" >>"$tmp/fake.log"
	for a; do cmd=\$a; done
	case \$cmd in
	--wide)
		printf '%-25s %-11s %s\n' HOST STATE LEVEL
		printf '%-25s %-11s %s\n' 10.1.1.23 isolated isolate
		printf '%-25s %-11s %s\n' 10.1.2.5 watched watch
		printf '%-25s %-11s %s\n' fd00:1::17 contained contain
		;;
	list)
		printf '%-15s %-11s %s\n' HOST STATE LEVEL
		printf '%-15s %-11s %s\n' 10.1.1.23 isolated isolate
		printf '%-15s %-11s %s\n' 10.1.2.5 watched watch
		printf '%s\n%-15s %-11s %s\n' fd00:1::17:0:0:0:1 "" contained contain
		;;
	incidents)
		printf '%-5s %-20s %s\n' ID RULE "PATIENT ZERO"
		printf '%-5s %-20s %s\n' 1 smb-propagation 10.1.1.23
		printf '%-5s %-20s %s\n' 12 ssh-propagation 10.1.2.5
		;;
	esac
EOF
chmod +x "$fake"
expect "$fake show " 10.1.1.23 10.1.2.5 fd00:1::17
expect "$fake release 10.1.1" 10.1.1.23
# Readline's word ends at the last colon (COMP_WORDBREAKS): the reply is
# what follows it, and "fd00:1:" + ":17" is the whole address.
expect "$fake escalate fd00:1:" :17
expect "$fake escalate fd" fd00:1::17
expect "$fake mark 10.1.2" 10.1.2.5
expect "$fake show 10.1.1.23 "
expect "$fake incident " 1 12
expect "$fake release --incident 1" 1 12
: >"$tmp/fake.log"
expect "$fake -S /tmp/x.sock show 10.1.2" 10.1.2.5
if grep -qxF -- "-S /tmp/x.sock list --wide" "$tmp/fake.log"; then
	ok "the daemon is asked on the socket given with -S"
else
	fail "the daemon is not asked on the socket given with -S: $(cat "$tmp/fake.log")"
fi
: >"$tmp/fake.log"
QUARANTINED_SOCKET=/tmp/y.sock expect "$fake show 10.1.2" 10.1.2.5
if grep -qxF -- "-S /tmp/y.sock list --wide" "$tmp/fake.log"; then
	ok "the daemon is asked on \$QUARANTINED_SOCKET"
else
	fail "the daemon is not asked on \$QUARANTINED_SOCKET: $(cat "$tmp/fake.log")"
fi

if [ "$fails" != 0 ]; then
	echo "$fails check(s) failed"
	exit 1
fi
echo "all checks passed"
