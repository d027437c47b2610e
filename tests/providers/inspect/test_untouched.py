"""Traffic the inspector was not asked to inspect never waits for it: a suspended
(SIGSTOP) or killed inspector, or one that blocks its peer, leaves another application's
transfer and short connections to another address alone."""

from __future__ import annotations

import os
import signal
import time

from tests.harness.traffic import Bulk, Servers, short_connection

from .conftest import OTHER4, Lab, tcp_exchange

PORT = 18670


def test_a_suspended_or_killed_inspector_leaves_other_traffic_alone(lab: Lab) -> None:
    """A transfer to another address never pauses and its short connections stay fast,
    with the inspector suspended and then killed."""
    servers = Servers(lab.b, OTHER4, PORT)
    lab.inspector.start("--remote", lab.b.ip4, "--block")
    bulk = Bulk(lab.a, OTHER4, PORT)
    try:
        assert not tcp_exchange(lab.a, lab.b.ip4, 0.5), "the inspected peer is blocked"
        assert lab.inspector.proc is not None
        for sig in (signal.SIGSTOP, signal.SIGKILL):
            os.kill(lab.inspector.proc.pid, sig)
            start = time.monotonic()
            took = [short_connection(lab.a, OTHER4, PORT + 1) for _ in range(50)]
            time.sleep(max(0.0, 0.5 - (time.monotonic() - start)))
            moved, gap = bulk.window(start, time.monotonic())
            assert all(t is not None and t < 0.2 for t in took), (sig, took)
            assert moved > 0 and gap < 0.2, f"the transfer paused {gap:.3f} s ({sig!r})"
        lab.inspector.proc.wait(10)
    finally:
        bulk.close()
        servers.close()
