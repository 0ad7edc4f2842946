#!/usr/bin/env python3
"""Helpers of the end-to-end tests (tests/e2e/lib.sh runs them).

  qd.py serve [--ready FILE] ADDR:PORT...
      TCP service: answers "ok" to every connection on each ADDR:PORT
      ([ADDR]:PORT for IPv6) and closes it.  Touches FILE once every
      socket listens.
  qd.py connect ADDR PORT [--timeout S] [--from SRC]
      One connection (from source address SRC, one of the namespace's
      own); exit 0 when the service answered "ok", 1 otherwise.
  qd.py loop [--interval S] [--timeout S] ADDR:PORT...
      Connects every S seconds, to each ADDR:PORT in turn, until
      SIGTERM/SIGINT, then prints a JSON summary: attempts, ok, failed,
      failures (the first ten, with times).
  qd.py wait-event FILE TIMEOUT [--from N] KEY=VALUE...
      Waits until a JSON line of FILE (after its first N lines) has every
      KEY=VALUE (VALUE matches as JSON, e.g. true or 3, or as a string);
      prints the line; exit 1 on timeout.
  qd.py events FILE KEY=VALUE...
      Prints every JSON line of FILE that matches.
  qd.py json EXPR
      Reads one JSON document on stdin as d and prints EXPR (a Python
      expression; strings as they are, anything else as JSON).
  qd.py tsdiff TS1 TS2
      Prints TS2 - TS1 in milliseconds (RFC 3339 timestamps).
  qd.py legacy-state PATH NET NREL ADDR...
      Writes the text state file an earlier version saved (format 2,
      with its end line and CRC): each ADDR isolated, with a reason and
      two history lines, and NREL released hosts NET.x.y (NET: two
      octets, e.g. 10.67) with one line each.

Only the standard library; nothing here decides where traffic goes: the
addresses come from the tests, which keep them inside their namespaces.
"""
import datetime
import json
import zlib
import signal
import socket
import sys
import threading
import time


def serve(args):
    ready = None
    if args and args[0] == "--ready":
        ready, args = args[1], args[2:]
    socks = []
    for spec in args:
        addr, port = spec.rsplit(":", 1)
        # [IPv6]:PORT as well.
        fam = socket.AF_INET6 if addr.startswith("[") else socket.AF_INET
        addr = addr.strip("[]")
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((addr, int(port)))
        s.listen(128)
        socks.append(s)

    def accept_loop(s):
        while True:
            try:
                c, _ = s.accept()
            except OSError:
                return
            try:
                c.sendall(b"ok\n")
            except OSError:
                pass
            c.close()

    # Block the signals before the threads start, so that all of them
    # inherit the mask and sigwait() below receives them.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    threads = [threading.Thread(target=accept_loop, args=(s,), daemon=True) for s in socks]
    for t in threads:
        t.start()
    if ready:
        open(ready, "w").close()
    signal.sigwait({signal.SIGTERM, signal.SIGINT})


def try_connect(addr, port, timeout, source=None, sport=0):
    """Returns None on success, else the reason."""
    try:
        bind = (source or "", sport) if source or sport else None
        with socket.create_connection((addr, port), timeout=timeout,
                                      source_address=bind) as s:
            data = b""
            while not data.endswith(b"\n"):
                chunk = s.recv(16)
                if not chunk:
                    break
                data += chunk
            return None if data == b"ok\n" else "answer %r" % data
    except OSError as e:
        return type(e).__name__ if not e.strerror else e.strerror


def connect(args):
    timeout = 1.0
    source = None
    if "--timeout" in args:
        i = args.index("--timeout")
        timeout = float(args[i + 1])
        del args[i:i + 2]
    if "--from" in args:
        i = args.index("--from")
        source = args[i + 1]
        del args[i:i + 2]
    sport = 0
    if "--sport" in args:
        i = args.index("--sport")
        sport = int(args[i + 1])
        del args[i:i + 2]
    err = try_connect(args[0], int(args[1]), timeout, source, sport)
    if err:
        print("connect %s:%s: %s" % (args[0], args[1], err), file=sys.stderr)
        return 1
    return 0


def loop(args):
    opts = {"--interval": 0.2, "--timeout": 1.0}
    targets = []
    i = 0
    while i < len(args):
        if args[i] in opts:
            opts[args[i]] = float(args[i + 1])
            i += 2
        else:
            addr, port = args[i].rsplit(":", 1)
            targets.append((addr, int(port)))
            i += 1
    interval, timeout = opts["--interval"], opts["--timeout"]
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    attempts = ok = 0
    failures = []
    worst = 0.0
    nxt = time.monotonic()
    while not stop.is_set():
        addr, port = targets[attempts % len(targets)]
        t0 = time.monotonic()
        err = try_connect(addr, port, timeout)
        worst = max(worst, time.monotonic() - t0)
        attempts += 1
        if err:
            failures.append({"ts": now_ts(), "to": "%s:%d" % (addr, port), "error": err})
        else:
            ok += 1
        nxt += interval
        stop.wait(max(0.0, nxt - time.monotonic()))
    print(json.dumps({"attempts": attempts, "ok": ok, "failed": len(failures),
                      "servers": len(targets), "max_connect_ms": round(worst * 1000, 1),
                      "failures": failures[:10]}))
    return 0


def now_ts():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_kv(args):
    """KEY=VALUE pairs: each value as JSON (true, 3, ...) and as text."""
    want = {}
    for a in args:
        k, v = a.split("=", 1)
        try:
            want[k] = (json.loads(v), v)
        except ValueError:
            want[k] = (v, v)
    return want


def matches(line, want):
    try:
        ev = json.loads(line)
    except ValueError:
        return None
    if not isinstance(ev, dict):
        return None
    for k, (v, text) in want.items():
        if k not in ev or (ev[k] != v and ev[k] != text):
            return None
    return ev


def wait_event(args):
    skip = 0
    if len(args) > 3 and args[2] == "--from":
        skip = int(args[3])
        del args[2:4]
    path, timeout, want = args[0], float(args[1]), parse_kv(args[2:])
    deadline = time.monotonic() + timeout
    pos = 0
    partial = ""
    while True:
        try:
            with open(path) as f:
                f.seek(pos)
                data = f.read()
                pos = f.tell()
        except FileNotFoundError:
            data = ""
        partial += data
        lines = partial.split("\n")
        partial = lines.pop()
        for line in lines:
            if skip > 0:
                skip -= 1
                continue
            if matches(line, want) is not None:
                print(line)
                return 0
        if time.monotonic() >= deadline:
            print("timed out after %.1f s waiting for an event with %s" %
                  (timeout, " ".join(args[2:])), file=sys.stderr)
            return 1
        time.sleep(0.01)


def events(args):
    path, want = args[0], parse_kv(args[1:])
    with open(path) as f:
        for line in f:
            if matches(line, want) is not None:
                sys.stdout.write(line)
    return 0


def json_expr(args):
    text = sys.stdin.read()
    d = json.loads(text) if text.strip() else None
    r = eval(args[0], {"json": json}, {"d": d})
    print(r if isinstance(r, str) else json.dumps(r))
    return 0


def parse_ts(ts):
    return datetime.datetime.strptime(ts.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z")


def tsdiff(args):
    d = parse_ts(args[1]) - parse_ts(args[0])
    print("%.3f" % (d.total_seconds() * 1000))
    return 0


def legacy_state(args):
    path, net, nrel, blocked = args[0], args[1], int(args[2]), args[3:]
    now = int(time.time() * 1e6)
    lines = ["quarantined-state 2", "meta next_incident=1 paused=0"]

    def host(addr, state, level, reason, hist):
        lines.append("host addr=%s state=%s decided=%s level=%s adopted=0 first_probe_us=0 "
                     "first_detect_us=0 last_detect_us=0 changed_us=%d expires_us=0 by_uid=0 "
                     "recurrences=0 last_level=none last_ttl_s=0 want= want_overflow=0 "
                     "evidence= reason=%s" % (addr, state, level, level, now, reason))
        for i, (kind, lv, st, text) in enumerate(hist):
            lines.append("hist ts_us=%d kind=%s level=%s state=%s uid=0 text=%s"
                         % (now - 1000 + i, kind, lv, st, text))

    for a in blocked:
        host(a, "isolated", "isolate", "from%20the%20text%20file",
             [("detect", "isolate", "detected", "old%20line%201"),
              ("action", "isolate", "isolated", "old%20line%202")])
    for i in range(nrel):
        host("%s.%d.%d" % (net, i // 250, i % 250 + 1), "released", "none", "old",
             [("release", "none", "released", "released%20long%20ago")])
    body = "".join(l + "\n" for l in lines).encode()
    end = b"end records=%d crc32=%08x\n" % (len(lines) - 1, zlib.crc32(body))
    with open(path, "wb") as f:
        f.write(body + end)
    return 0


COMMANDS = {"serve": serve, "connect": connect, "loop": loop, "wait-event": wait_event,
            "events": events, "json": json_expr, "tsdiff": tsdiff,
            "legacy-state": legacy_state}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(COMMANDS[sys.argv[1]](sys.argv[2:]) or 0)
