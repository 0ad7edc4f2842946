#!/usr/bin/env python3
"""check_skips.py [--ci] ALLOWLIST TESTLOG...

Lists the tests that skipped in meson's test logs (meson-logs/testlog.json,
one JSON object a line): a test that exited 77 (meson's SKIP), and a cmocka
case that called skip() inside a test that passed (its "[  SKIPPED ] case"
line), named TEST/CASE.  Each is printed with the reason the test gave (its
last line starting with "SKIP" or "skipped").

With --ci, a skip that ALLOWLIST does not name fails: CI runs as root with
every package tools/deps.sh installs, so a test that skips there is a test
that did not run.  ALLOWLIST has one entry a line, "NAME  reason"; NAME is
the test's name as `meson test --list` shows it, without the project and
suite ("systemd-unit"), or TEST/CASE; the reason is required.  Blank lines
and lines starting with # are ignored.

Exit status: 0 nothing to fail on, 1 a skip not allowed (--ci), 2 usage
error (an unreadable or malformed allowlist or test log).

--self-test checks this script against test logs it writes itself.
"""

import json
import os
import re
import sys
import tempfile

CMOCKA_SKIP = re.compile(r"^\[  SKIPPED \] (\S+)\s*$")
REASON = re.compile(r"^(SKIP\b.*|.*\bskipped\b.*)$", re.IGNORECASE)


class Usage(Exception):
    pass


def load_allowlist(path):
    allowed = {}
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise Usage(f"{path}: {e.strerror}")
    for no, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(None, 1)
        if len(parts) < 2:
            raise Usage(f"{path}:{no}: {parts[0]}: no reason given")
        allowed[parts[0]] = parts[1]
    return allowed


def short_name(name):
    """'quarantined:deploy / systemd-unit' -> 'systemd-unit'."""
    return name.rsplit(" / ", 1)[-1]


def reason_of(entry):
    found = ""
    for key in ("stdout", "stderr"):
        for line in (entry.get(key) or "").splitlines():
            if REASON.match(line.strip()):
                found = line.strip()
    return found


def skips_in(path):
    """[(name, reason)] of the tests and cmocka cases that skipped."""
    out = []
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise Usage(f"{path}: {e.strerror}")
    for no, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            name = short_name(entry["name"])
            result = entry["result"]
        except (ValueError, KeyError, TypeError):
            raise Usage(f"{path}:{no}: not a meson test log entry")
        if result == "SKIP":
            out.append((name, reason_of(entry) or "exit status 77"))
            continue
        cases = []
        for key in ("stdout", "stderr"):
            for l in (entry.get(key) or "").splitlines():
                m = CMOCKA_SKIP.match(l)
                if m and m.group(1) not in cases:
                    cases.append(m.group(1))
        for case in cases:
            out.append((f"{name}/{case}", "cmocka skip()"))
    return out


def check(ci, allowlist, testlogs, out=sys.stdout):
    allowed = load_allowlist(allowlist)
    bad = 0
    for log in testlogs:
        for name, reason in skips_in(log):
            if name in allowed:
                print(f"skipped (allowed: {allowed[name]}): {name}: {reason}", file=out)
            else:
                bad += 1
                print(f"skipped: {name}: {reason}", file=out)
    if bad and ci:
        print(
            f"{bad} test(s) skipped under CI=true and not in {allowlist}: "
            "make them run, or list them there with the reason",
            file=out,
        )
        return 1
    return 0


def self_test():
    def entry(name, result, stdout="", stderr=None):
        e = {"name": name, "result": result, "returncode": 77 if result == "SKIP" else 0,
             "stdout": stdout}
        if stderr is not None:
            e["stderr"] = stderr
        return json.dumps(e)

    log = "\n".join([
        entry("quarantined:unit / nft", "OK",
              "[ RUN      ] test_a\n[  SKIPPED ] test_a\n[==========] 2 test(s) run.\n"
              "[  SKIPPED ] 1 test(s), listed below:\n[  SKIPPED ] test_a\n"),
        entry("quarantined:deploy / systemd-unit", "SKIP",
              "== something\nSKIP: systemd runs this machine; not starting a second one\n"),
        entry("quarantined:unit / conf", "OK", "[  PASSED  ] 3 test(s).\n", ""),
        entry("quarantined:unit / state", "FAIL", "boom\n"),
    ]) + "\n"
    failures = []
    checks = 0

    def expect(what, got, want):
        nonlocal checks
        checks += 1
        if got != want:
            failures.append(f"{what}: got {got!r}, want {want!r}")

    with tempfile.TemporaryDirectory() as d:
        tl = os.path.join(d, "testlog.json")
        with open(tl, "w", encoding="utf-8") as f:
            f.write(log)
        expect("skips", skips_in(tl), [
            ("nft/test_a", "cmocka skip()"),
            ("systemd-unit", "SKIP: systemd runs this machine; not starting a second one"),
        ])

        def run(ci, allow_text):
            al = os.path.join(d, "allowed")
            with open(al, "w", encoding="utf-8") as f:
                f.write(allow_text)
            with open(os.devnull, "w") as null:
                try:
                    return check(ci, al, [tl], null)
                except Usage:
                    return 2

        expect("ci, nothing allowed", run(True, "# none\n\n"), 1)
        expect("not ci", run(False, ""), 0)
        expect("ci, one of two allowed", run(True, "systemd-unit  PID 1 is systemd\n"), 1)
        expect("ci, both allowed",
               run(True, "systemd-unit  PID 1 is systemd\nnft/test_a  no bridge family\n"), 0)
        expect("the full name is not the name", run(
            True, "quarantined:deploy / systemd-unit  x\nnft/test_a  y\n"), 1)
        expect("an entry without its reason", run(True, "systemd-unit\n"), 2)
        with open(tl, "w", encoding="utf-8") as f:
            f.write("not json\n")
        expect("a broken test log", run(True, ""), 2)
        os.remove(tl)
        expect("a missing test log", run(True, ""), 2)
    for f in failures:
        print(f"FAIL {f}")
    print(f"{checks - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0


def main(argv):
    if argv[1:] == ["--self-test"]:
        return self_test()
    args = argv[1:]
    ci = bool(args) and args[0] == "--ci"
    if ci:
        args = args[1:]
    if len(args) < 2:
        print(__doc__.split("\n\n")[0], file=sys.stderr)
        return 2
    try:
        return check(ci, args[0], args[1:])
    except Usage as e:
        print(f"check_skips.py: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
