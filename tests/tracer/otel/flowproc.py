"""A provider process shaped like ``wfptrace-msnmon`` that plays fixed flows into a hub.

Run as ``python -m tests.tracer.otel.flowproc SOCKET FLOWS [PACE]``: every flow's events carry
packet times (``@timestamp``) that do not depend on the process, as a capture seen by several
hosts would. Prints one JSON line when connected and one when done.
"""

from __future__ import annotations

import sys
import time

import orjson

from tracer import Level, Provider
from tracer.service import attach_provider

PROVIDER = Provider("wfptrace-msnmon", keywords=["flow", "client_server"])
_FLOW = {"@timestamp": int, "network.community_id": str}
FLOW = PROVIDER.event(1, "FlowEstablished", Level.INFO, "flow",
                      {**_FLOW, "network.transport": str, "destination.ip": str,
                       "destination.port": int},
                      "flow {network.community_id}")
COMMAND = PROVIDER.event(2, "Command", Level.INFO, "client_server",
                         {**_FLOW, "network.direction": str, "verb": str, "trid": int, "args": str,
                          "role": str}, "{verb}")
CLOSED = PROVIDER.event(6, "FlowClosed", Level.INFO, "flow", {**_FLOW, "reason": str},
                        "closed")
BASE_NS = 1_700_000_000_000_000_000


def play(flows: int, pace: float = 0.0) -> int:
    """Each flow: established, a command and its reply, closed, ``pace`` seconds apart;
    returns events written."""
    n = 0
    for i in range(flows):
        if pace and i:
            time.sleep(pace)
        fid, t = f"1:flow{i}", BASE_NS + i * 1_000_000
        FLOW.write(t, fid, "tcp", "64.4.13.58", 1863)
        COMMAND.write(t + 10, fid, "send", "CHG", 1, "NLN", "notification")
        COMMAND.write(t + 20, fid, "recv", "CHG", 1, "NLN", "notification")
        CLOSED.write(t + 30, fid, "fin")
        n += 4
    return n


def main(socket_path: str, flows: int, pace: float = 0.0) -> None:
    link = attach_provider(PROVIDER, socket_path, wait=5.0)
    print(orjson.dumps({"connected": link.connected}).decode(), flush=True)
    deadline = time.monotonic() + 10
    while not FLOW.enabled and time.monotonic() < deadline:
        time.sleep(0.005)
    written = play(flows, pace)
    print(orjson.dumps({"done": True, "written": written, "flushed": link.flush(10.0)}).decode(),
          flush=True)
    link.close()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]) if len(sys.argv) > 3 else 0.0)
