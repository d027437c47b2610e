"""A provider process shaped like ``wfptrace-msnmon`` that plays fixed flows into a hub.

Run as ``python -m tests.tracer.otel.flowproc SOCKET FLOWS [PACE]``: every flow's events carry
packet times (``ts_ns``) that do not depend on the process, as a capture seen by several
hosts would. Prints one JSON line when connected and one when done.
"""

from __future__ import annotations

import sys
import time

import orjson

from tracer import Level, Provider
from tracer.service import attach_provider

PROVIDER = Provider("wfptrace-msnmon", keywords=["flow", "client_server"])
_FLOW = {"flow_id": str, "ts_ns": int}
FLOW = PROVIDER.event(1, "FlowEstablished", Level.INFO, "flow",
                      {**_FLOW, "protocol": str, "remote_addr": str, "remote_port": int},
                      "flow {flow_id}")
COMMAND = PROVIDER.event(2, "Command", Level.INFO, "client_server",
                         {**_FLOW, "direction": str, "verb": str, "trid": int, "args": str,
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
        FLOW.write(fid, t, "tcp", "64.4.13.58", 1863)
        COMMAND.write(fid, t + 10, "send", "CHG", 1, "NLN", "notification")
        COMMAND.write(fid, t + 20, "recv", "CHG", 1, "NLN", "notification")
        CLOSED.write(fid, t + 30, "fin")
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
