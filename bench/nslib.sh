# The harness the namespace benchmarks share (flood-live.sh,
# bulk-quarantine.sh, ctl-scale.sh): sourced, not run.
#
#   bench_setup NAME        NS=NAME<pid>, TMP (a fresh directory), MADE
#                           (the namespaces made so far, empty), and the
#                           traps: on exit, also after HUP, INT, PIPE and
#                           TERM, every process in a namespace of MADE is
#                           killed by pid, the namespaces deleted, TMP
#                           removed.  A script adds each namespace it makes
#                           to MADE at once.
#   bench_need PROG FILE... TOOL...
#                           exits with a message unless root, every FILE
#                           (a path) executable and every TOOL (a name)
#                           installed.
#   wait_for SECONDS CMD... polls CMD every 50 ms; 1 when it never succeeds.

bench_need() {
	local prog=$1 f
	shift
	if [ "$(id -u)" != 0 ]; then
		echo "$prog: needs root (network namespaces, nftables)" >&2
		exit 1
	fi
	for f in "$@"; do
		case $f in
		*/*)
			if [ ! -x "$f" ]; then
				echo "$prog: $f is missing (meson setup and ninja that build)" >&2
				exit 1
			fi
			;;
		*)
			if ! command -v "$f" >/dev/null; then
				echo "$prog: $f is not installed" >&2
				exit 1
			fi
			;;
		esac
	done
}

bench_cleanup() {
	local rc=$? ns p
	trap - EXIT HUP INT TERM
	trap '' PIPE
	for ns in $MADE; do
		for p in $(ip netns pids "$ns" 2>/dev/null); do
			kill -KILL "$p" 2>/dev/null
		done
	done
	for ns in $MADE; do
		ip netns del "$ns" 2>/dev/null
	done
	rm -rf "$TMP"
	exit "$rc"
}

bench_setup() {
	NS=$1$$
	MADE=""
	TMP=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX") || exit 1
	trap bench_cleanup EXIT
	trap 'exit 129' HUP
	trap 'exit 130' INT
	trap 'exit 141' PIPE
	trap 'exit 143' TERM
}

wait_for() {
	local n=$(($1 * 20))
	shift
	while ! "$@" >/dev/null 2>&1; do
		n=$((n - 1))
		[ $n -le 0 ] && return 1
		sleep 0.05
	done
}
