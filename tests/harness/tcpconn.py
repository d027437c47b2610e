"""Short-lived TCP connections and a sink server, for tests and benchmarks.

Standard library only, so copies of the Python binary under other names can
run it (distinct executables for process attribution)::

    python tcpconn.py serve PORT                    # dual-stack sink, runs until killed
    python tcpconn.py connect DST PORT FIRST COUNT  # COUNT connections, source ports FIRST..

``connect`` binds each connection to the next source port, connects, sends a
few bytes and closes, then prints one JSON line with the per-connection
durations in milliseconds and the failures.
"""

from __future__ import annotations

import json
import selectors
import socket
import sys
import time


def serve(port: int) -> None:
    """Accept on [::]:port (IPv4 too) and read every connection until EOF."""
    lsock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    lsock.bind(("::", port))
    lsock.listen(1024)
    sel = selectors.DefaultSelector()
    sel.register(lsock, selectors.EVENT_READ)
    while True:
        for key, _ in sel.select():
            sock = key.fileobj
            if sock is lsock:
                conn, _addr = lsock.accept()
                conn.setblocking(False)
                sel.register(conn, selectors.EVENT_READ)
                continue
            try:
                data = sock.recv(65536)  # type: ignore[union-attr]
            except OSError:
                data = b""
            if not data:
                sel.unregister(sock)
                sock.close()  # type: ignore[union-attr]


def connect(dst: str, port: int, first: int, count: int) -> dict[str, object]:
    """Open ``count`` connections from source ports ``first``...; time each one."""
    family = socket.AF_INET6 if ":" in dst else socket.AF_INET
    durations, failures = [], 0
    for sport in range(first, first + count):
        t0 = time.perf_counter()
        try:
            with socket.socket(family, socket.SOCK_STREAM) as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind(("", sport))
                sock.settimeout(5)
                sock.connect((dst, port))
                sock.sendall(b"hello")
        except OSError:
            failures += 1
            continue
        durations.append((time.perf_counter() - t0) * 1000)
    return {"durations_ms": durations, "failures": failures}


def main(argv: list[str]) -> int:
    """Command-line entry point."""
    if argv[:1] == ["serve"]:
        serve(int(argv[1]))
        return 0
    if argv[:1] == ["connect"]:
        print(json.dumps(connect(argv[1], int(argv[2]), int(argv[3]), int(argv[4]))),
              flush=True)
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
