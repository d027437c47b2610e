"""Running the hub service: where it listens, shutdown on signals, one hub per socket."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys

import pytest

from tests.tracer.service.procs import DEMO
from tracer import ProviderEnable, SessionConfig, read_log
from tracer.service import connect


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_flushes_and_closes_every_session(start_hub, spawn, sock_dir, sig):
    """On SIGTERM or SIGINT the hub writes every buffered event, closes each log and exits 0."""
    hub = start_hub()
    with connect(hub.path) as ctl:
        ctl.add_manifest(DEMO.manifest())
        for name in ("a", "b"):
            ctl.start_session(SessionConfig(name, [ProviderEnable("svc-demo")],
                                            file=sock_dir / f"{name}.jsonl", flush_interval=60))
        provider = spawn("provider", "--socket", str(hub.path), "--count", "300")
        provider.line()
        assert provider.line()["flushed"]
    status, err = hub.terminate(sig)
    assert status == 0
    assert f"listening on {hub.path}" in err
    assert "session a closed: 300 events written, 0 lost" in err
    for name in ("a", "b"):
        events = [e for e in read_log(sock_dir / f"{name}.jsonl") if e.kind == "event"]
        assert [e.fields["n"] for e in events] == list(range(300))
    assert not hub.path.exists()


def test_second_hub_on_a_live_socket_is_refused(hubd):
    """A hub does not steal the socket of a running hub."""
    proc = subprocess.run([sys.executable, "-m", "tracer.service", "--socket", str(hubd.path)],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1
    assert f"a hub is already listening on {hubd.path}" in proc.stderr
    with connect(hubd.path) as hub:
        assert hub.list_sessions() == []


def test_stale_socket_of_a_dead_hub_is_replaced(sock_dir, start_hub):
    """A socket file left by a crashed hub is removed and the new hub listens there."""
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(sock_dir / "hub.sock"))
    stale.close()
    hub = start_hub()
    with connect(hub.path) as ctl:
        assert ctl.list_sessions() == []
