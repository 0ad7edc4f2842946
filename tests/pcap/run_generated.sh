#!/bin/sh
# run_generated.sh TRACEGEN QUARANTINED TRACES_DIR CHECK_GENERATED [NAME...]
#
# Writes the tracegen scenarios (all, or the NAMEs given) to TRACES_DIR and
# checks quarantined against their ground truth with check_generated.py.
# Exit status: check_generated.py's (0 all passed, 1 a check failed), or 2
# when the traces cannot be written.
set -u

if [ $# -lt 4 ]; then
	echo "usage: $0 TRACEGEN QUARANTINED TRACES_DIR CHECK_GENERATED [NAME...]" >&2
	exit 2
fi
tracegen=$1
q=$2
dir=$3
check=$4
shift 4

mkdir -p "$dir" || exit 2
# Stale files of scenarios that no longer exist would be checked too.
rm -f "$dir"/*.pcap "$dir"/*.json "$dir"/*.conf
"$tracegen" "$dir" "$@" || exit 2
exec python3 "$check" "$q" "$dir" "$@"
