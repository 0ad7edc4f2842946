#!/bin/sh
# Sets up and runs every test: the build with -Werror, the unit, capture
# and namespace tests, the same tests under AddressSanitizer and
# UndefinedBehaviorSanitizer, the man page lint and the format check.
# Run as root on Debian 12 (the namespace tests need it).  With CI=true
# (as .ci/run sets it) a test that skips fails the run, unless
# tests/skip-allowed names it.
set -eu
cd "$(dirname "$0")/.."

tools/deps.sh

setup() {
	dir=$1
	shift
	if [ -d "$dir" ]; then
		# Not setup --reconfigure, which (meson 1.0) leaves c_args as
		# they were.
		meson configure "$dir" "$@" >/dev/null
	else
		meson setup "$dir" "$@" >/dev/null
	fi
}

# Lists what skipped in the last meson test run in $1.  Under CI=true
# (.ci/run), where every package is installed and we are root, a skip fails
# the run unless tests/skip-allowed names the test with its reason.
check_skips() {
	if [ "${CI:-}" = true ]; then
		python3 tests/check_skips.py --ci tests/skip-allowed "$1/meson-logs/testlog.json"
	else
		python3 tests/check_skips.py tests/skip-allowed "$1/meson-logs/testlog.json"
	fi
}

# Runs meson test in build directory $1 with the rest as arguments, then
# lists what skipped, also when a test failed.
run_tests() {
	dir=$1
	shift
	status=0
	meson test -C "$dir" --print-errorlogs "$@" || status=$?
	check_skips "$dir" || status=1
	return "$status"
}

echo "== build (-Werror)"
# -Dsync=enabled: the sync program and its tests are built and run, never
# skipped because libnats went missing (the feature is auto otherwise).
setup build-test -Dwerror=true -Dbuildtype=debugoptimized -Dsync=enabled
ninja -C build-test
echo "== tests"
run_tests build-test

echo "== release build (-O3, -Werror)"
# What the benchmarks and packagers build: -O3 finds other warnings
# (-Wnull-dereference after inlining) than the tests' -O2.
setup build-release -Dwerror=true -Dbuildtype=release -Dsync=enabled
ninja -C build-release

echo "== tests under AddressSanitizer + UndefinedBehaviorSanitizer"
# -fno-sanitize-recover=all: an undefined behaviour aborts the test that
# met it.  By default UBSan prints its report and goes on, and the test
# passed all the same.
setup build-asan -Dwerror=true -Dbuildtype=debug -Db_sanitize=address,undefined \
	-Db_lundef=false -Dsync=enabled -Dc_args=-fno-sanitize-recover=all
ninja -C build-asan
run_tests build-asan --suite unit --suite pcap

echo "== man pages (mandoc -Tlint)"
mandoc -Tlint -Wwarning man/*.[0-9]

echo "== format (clang-format)"
clang-format --dry-run --Werror src/*.c include/*.h bench/*.c bench/*.h tests/unit/*.c tests/unit/*.h \
	tests/tracegen/*.c tests/e2e/*.c fuzz/*.c

echo "== all tests passed"
