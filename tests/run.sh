#!/bin/sh
# Sets up and runs every test: the build with -Werror, the unit, capture
# and namespace tests, the same tests under AddressSanitizer and
# UndefinedBehaviorSanitizer, the man page lint and the format check.
# Run as root on Debian 12 (the namespace tests need it).
set -eu
cd "$(dirname "$0")/.."

tools/deps.sh

setup() {
	dir=$1
	shift
	if [ -d "$dir" ]; then
		meson setup --reconfigure "$dir" "$@" >/dev/null
	else
		meson setup "$dir" "$@" >/dev/null
	fi
}

echo "== build (-Werror)"
setup build-test -Dwerror=true -Dbuildtype=debugoptimized
ninja -C build-test
echo "== tests"
meson test -C build-test --print-errorlogs

echo "== tests under AddressSanitizer + UndefinedBehaviorSanitizer"
setup build-asan -Dwerror=true -Dbuildtype=debug -Db_sanitize=address,undefined \
	-Db_lundef=false
ninja -C build-asan
meson test -C build-asan --print-errorlogs --suite unit --suite pcap

echo "== man pages (mandoc -Tlint)"
mandoc -Tlint -Wwarning man/*.[0-9]

echo "== format (clang-format)"
clang-format --dry-run --Werror src/*.c include/*.h bench/*.c bench/*.h tests/unit/*.c tests/tracegen/*.c tests/e2e/*.c \
	fuzz/*.c

echo "== all tests passed"
