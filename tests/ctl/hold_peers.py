#!/usr/bin/env python3
"""hold_peers.py SOCKET NIDLE READY REPORT

Holds open, on a control socket, what a stuck script or a hostile peer
would: garbage (then the end of its request), a 1 MiB line, a line that
never ends, and NIDLE peers that connect and say nothing, in that order.
Writes READY once all are connected, waits for SIGUSR1, then writes to
REPORT what each got back, one line per kind:

    garbage <what it read> closed|open
    long <what it read> closed|open
    unterminated <what it read> closed|open
    idle dropped=N kept=M prefix=yes|no other=K

prefix=yes: the dropped idle peers are the first N to connect (the
longest silent go first); other counts idle peers that read anything but
the "dropped" status line.
"""
import os
import signal
import socket
import sys

DROPPED = (b"status=1\tmsg=dropped: the control socket was full and this "
           b"client had not sent its request\n")


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    # Blocking, without a timeout: a Unix connect then waits for room in
    # the listen backlog instead of failing with EAGAIN.
    s.connect(path)
    s.settimeout(5)
    return s


def collect(s):
    """What the peer has received so far, and whether it was closed."""
    data = b""
    s.setblocking(False)
    while True:
        try:
            chunk = s.recv(65536)
        except BlockingIOError:
            return data, False
        except OSError:
            return data, True
        if not chunk:
            return data, True
        data += chunk


def show(kind, s):
    data, closed = collect(s)
    text = data.decode("utf-8", "replace").rstrip("\n").replace("\t", " ")
    return "%s %s %s" % (kind, text or "-", "closed" if closed else "open")


def main():
    if len(sys.argv) != 5:
        sys.stderr.write(__doc__)
        return 2
    path, nidle, ready, report = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})

    garbage = connect(path)
    garbage.sendall(b"\x16\x03\x01\x02\x00\x01\xfc GET / HTTP/1.1\r\n\xff")
    garbage.shutdown(socket.SHUT_WR)

    long_line = connect(path)
    try:
        long_line.sendall(b"a" * (1 << 20))
    except OSError:
        pass  # closed by the daemon long before the end: expected

    unterminated = connect(path)
    unterminated.sendall(b"cmd=status")

    idle = [connect(path) for _ in range(nidle)]
    with open(ready, "w") as f:
        f.write("held\n")

    signal.sigwait({signal.SIGUSR1})
    lines = [show("garbage", garbage), show("long", long_line),
             show("unterminated", unterminated)]
    dropped, other = [], 0
    for i, s in enumerate(idle):
        data, closed = collect(s)
        if data == DROPPED and closed:
            dropped.append(i)
        elif data or closed:
            other += 1
    prefix = dropped == list(range(len(dropped)))
    lines.append("idle dropped=%d kept=%d prefix=%s other=%d" % (
        len(dropped), nidle - len(dropped) - other, "yes" if prefix else "no", other))
    with open(report + ".tmp", "w") as f:
        f.write("\n".join(lines) + "\n")
    os.rename(report + ".tmp", report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
