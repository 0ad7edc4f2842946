#!/bin/sh
# malformed.sh QUARANTINED TRACEGEN_OUTDIR|TRACEGEN
#
# Feeds "quarantined -r" broken capture files built from a tracegen trace:
# the second argument is a directory tracegen wrote, or the tracegen
# program itself (then the two traces needed are generated here).
# Each must end with exit status 1 and a message on stderr, and never with
# a crash (a status of 128 or more).  Events printed before a read error
# are fine.  A config file named with -c that does not exist is a
# configuration error: exit status 2.
#
# Exit status: 0 when every check passed, 1 otherwise, 2 on usage errors.
set -u

if [ $# -ne 2 ]; then
	echo "usage: $0 QUARANTINED TRACEGEN_OUTDIR|TRACEGEN" >&2
	exit 2
fi
q=$1

tmp=$(mktemp -d "${TMPDIR:-/tmp}/malformed.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

if [ -d "$2" ]; then
	gen=$2
elif [ -f "$2" ] && [ -x "$2" ]; then
	gen=$tmp/traces
	"$2" "$gen" smb-worm unknown-linktype || exit 2
else
	echo "$0: $2 is neither a tracegen output directory nor tracegen" >&2
	exit 2
fi
src=$gen/smb-worm.pcap
if [ ! -r "$src" ]; then
	echo "$0: $src is missing (run tracegen first)" >&2
	exit 2
fi

checks=0
failures=0

# expect NAME STATUS COMMAND...: runs COMMAND, wants STATUS and a message.
expect() {
	name=$1
	want=$2
	shift 2
	checks=$((checks + 1))
	"$@" >"$tmp/stdout" 2>"$tmp/stderr"
	rc=$?
	if [ "$rc" -ge 128 ]; then
		echo "FAIL $name: killed by signal $((rc - 128))"
	elif [ "$rc" -ne "$want" ]; then
		echo "FAIL $name: exit status $rc, expected $want"
	elif [ ! -s "$tmp/stderr" ]; then
		echo "FAIL $name: exit status $rc but no message on stderr"
	else
		echo "ok   $name: exit status $rc: $(head -n 1 "$tmp/stderr")"
		return 0
	fi
	sed 's/^/       | /' "$tmp/stderr" | head -n 5
	failures=$((failures + 1))
}

# u32 FILE OFFSET: the 32-bit word at OFFSET in this machine's byte order,
# which is the file's: tracegen wrote it here, through libpcap.
u32() {
	od -An -t u4 -j "$2" -N 4 "$1" | tr -d ' \n'
}

# rec_off FILE N: byte offset of record N (0-based) of a pcap file.
rec_off() {
	off=24
	i=0
	while [ "$i" -lt "$2" ]; do
		len=$(u32 "$1" $((off + 8)))
		off=$((off + 16 + len))
		i=$((i + 1))
	done
	echo "$off"
}

if [ "$(u32 "$src" 0)" != 2712847316 ]; then # 0xa1b2c3d4
	echo "$0: $src is not a microsecond pcap in this machine's byte order" >&2
	exit 2
fi

# 1. zero-length file
: >"$tmp/empty.pcap"
expect "zero-length file" 1 "$q" -r "$tmp/empty.pcap" -o json

# 2. garbage bytes (no pcap or pcapng magic)
printf '\177ELF\002\001\001\000this is not a capture file\n' >"$tmp/garbage.pcap"
i=0
while [ $i -lt 20 ]; do
	printf 'garbage line %02d: 0123456789abcdef\n' $i >>"$tmp/garbage.pcap"
	i=$((i + 1))
done
expect "garbage bytes" 1 "$q" -r "$tmp/garbage.pcap" -o json

# 3. file cut inside the 24-byte global header
head -c 12 "$src" >"$tmp/short-header.pcap"
expect "truncated global header" 1 "$q" -r "$tmp/short-header.pcap" -o json

# 4. file cut inside a record header
off=$(rec_off "$src" 30)
head -c $((off + 7)) "$src" >"$tmp/short-rechdr.pcap"
expect "truncated record header" 1 "$q" -r "$tmp/short-rechdr.pcap" -o json

# 5. file cut in the middle of a packet's data
off=$(rec_off "$src" 50)
len=$(u32 "$src" $((off + 8)))
head -c $((off + 16 + len / 2)) "$src" >"$tmp/short-record.pcap"
expect "truncated packet record" 1 "$q" -r "$tmp/short-record.pcap" -o json

# 6. a record whose caplen and len are 0xffffffff
off=$(rec_off "$src" 10)
{
	head -c $((off + 8)) "$src"
	printf '\377\377\377\377\377\377\377\377'
	tail -c +$((off + 17)) "$src"
} >"$tmp/bad-caplen.pcap"
expect "record length 0xffffffff" 1 "$q" -r "$tmp/bad-caplen.pcap" -o json

# 7. a link type nobody decodes (DLT_USER0, 147)
unk=$gen/unknown-linktype.pcap
if [ ! -r "$unk" ]; then
	unk=$tmp/user0.pcap
	# little-endian header, snaplen 65535, link type 147, then one record
	{
		printf '\324\303\262\241\002\000\004\000\000\000\000\000\000\000\000\000'
		printf '\377\377\000\000\223\000\000\000'
		printf '\020\372\150\151\000\000\000\000\024\000\000\000\024\000\000\000'
		printf 'E\000\000\024\000\000\000\000\100\006\000\000\012\001\000\005\012\002\000\001'
	} >"$unk"
fi
if [ "$(u32 "$unk" 20)" != 147 ]; then
	echo "FAIL unknown link type: $unk does not have link type 147"
	checks=$((checks + 1))
	failures=$((failures + 1))
else
	expect "unknown link type 147" 1 "$q" -r "$unk" -o json
fi

# 8. a file that does not exist, and a directory
expect "nonexistent file" 1 "$q" -r "$tmp/does-not-exist.pcap" -o json
expect "directory instead of a file" 1 "$q" -r "$tmp" -o json

# 9. a config file named with -c that does not exist
expect "nonexistent config file" 2 "$q" -r "$src" -o json -c /nonexistent.conf

echo "$checks checks: $((checks - failures)) passed, $failures failed"
[ "$failures" -eq 0 ]
