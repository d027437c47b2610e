"""The hub service with hub, providers and consumers in separate real processes."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from tests.tracer.service.conftest import wait_for
from tests.tracer.service.procs import DEMO
from tracer import ProviderEnable, SessionConfig, read_log
from tracer.service import connect


def _session(name: str, tmp: Path | None = None, realtime: bool = True,
             *providers: ProviderEnable) -> SessionConfig:
    return SessionConfig(name, list(providers) or [ProviderEnable("svc-demo")],
                         realtime=realtime, file=tmp / f"{name}.jsonl" if tmp else None,
                         flush_interval=0.02)


def test_provider_events_reach_consumer_and_file_in_other_processes(hubd, spawn, sock_dir):
    """Events written in a provider process reach a consumer process and the session's file."""
    with connect(hubd.path) as hub:
        hub.add_manifest(DEMO.manifest())
        hub.start_session(_session("s1", sock_dir))
        consumer = spawn("consumer", "--socket", str(hubd.path), "--count", "50")
        assert consumer.line()["subscribed"]
        provider = spawn("provider", "--socket", str(hubd.path), "--count", "50")
        assert provider.line()["connected"]
        done = provider.line()
        assert done["emitted"] == 50 and done["flushed"]
        got = [consumer.line() for _ in range(50)]
        assert [e["fields"]["n"] for e in got] == list(range(50))
        assert {e["pid"] for e in got} == {provider.pid}
        assert got[7]["message"] == "tick 7 hello"
        stats = hub.stop_session("s1")
    assert stats.events_written == 50 and stats.events_lost == 0
    assert [e.fields["n"] for e in read_log(sock_dir / "s1.jsonl")] == list(range(50))


def test_session_started_before_provider_enables_it_when_it_registers(hubd, spawn):
    """A session naming a provider that is not running waits, then enables it on registration."""
    with connect(hubd.path) as hub:
        hub.add_manifest(DEMO.manifest())
        stats = hub.start_session(_session("early"))
        assert stats.providers["svc-demo"]["status"] == "waiting"
        sub = hub.subscribe("early")
        # it lingers: a provider that exits right after reporting would show "gone"
        provider = spawn("provider", "--socket", str(hubd.path), "--count", "10", "--wait", "5",
                         "--linger", "30")
        provider.line()
        assert provider.line()["emitted"] == 10
        state = hub.query_session("early").providers["svc-demo"]
        assert state["status"] == "registered" and state["pid"] == provider.pid, state
        events = [sub.get(5) for _ in range(10)]
        assert [e.fields["n"] for e in events] == list(range(10))
        sub.close()


def test_enable_changes_reach_a_running_provider_within_100ms(hubd, spawn):
    """Starting, updating and stopping a session reaches the provider process within 100 ms."""
    with connect(hubd.path) as hub:
        hub.add_manifest(DEMO.manifest())
        watcher = spawn("watcher", "--socket", str(hubd.path), stdin=True)
        assert watcher.line()["connected"]
        steps = [
            (lambda: hub.start_session(_session("w")), {"enabled": True, "disk": True}),
            (lambda: hub.update_session("w", [ProviderEnable("svc-demo", keywords=("disk",))]),
             {"enabled": False, "disk": True}),
            (lambda: hub.stop_session("w"), {"enabled": False, "disk": False}),
        ]
        for action, expected in steps:
            t0 = time.time()
            action()
            seen = watcher.line()
            assert {k: seen[k] for k in expected} == expected
            assert seen["t"] - t0 < 0.1
        watcher.tell()


def test_killed_provider_shows_gone_and_is_taken_back_when_restarted(hubd, spawn):
    """SIGKILL of a provider leaves its session running with the provider gone, until it returns."""
    with connect(hubd.path) as hub:
        hub.add_manifest(DEMO.manifest())
        hub.start_session(_session("k"))
        sub = hub.subscribe("k")
        first = spawn("provider", "--socket", str(hubd.path), "--seconds", "30",
                      "--pause", "0.001")
        first.line()
        wait_for(lambda: sub.get(5), what="events from the first provider")
        os.kill(first.pid, signal.SIGKILL)
        state = wait_for(lambda: (s := hub.query_session("k").providers["svc-demo"])["status"]
                         == "gone" and s, what="provider marked gone")
        assert state["pid"] == first.pid
        assert hub.query_session("k").state == "running"
        sub.drain()
        # it lingers: a provider that exits right after reporting would show "gone" again
        second = spawn("provider", "--socket", str(hubd.path), "--count", "20", "--linger", "30")
        second.line()
        assert second.line()["emitted"] == 20
        state = hub.query_session("k").providers["svc-demo"]
        assert state["status"] == "registered" and state["pid"] == second.pid
        events = wait_for(lambda: [e for e in sub.drain() if e.pid == second.pid] or None)
        assert events[0].fields["n"] == 0
        sub.close()


def test_stalled_hub_never_blocks_the_provider_and_accounts_every_event(hubd, spawn, sock_dir):
    """With the hub SIGSTOPped the provider keeps writing; then written + lost == emitted."""
    with connect(hubd.path) as hub:
        hub.add_manifest(DEMO.manifest())
        hub.start_session(_session("stall", sock_dir, realtime=False))
        provider = spawn("stalled", "--socket", str(hubd.path), "--seconds", "0.6",
                         "--capacity", "2000", stdin=True)
        assert provider.line()["ready"]
        os.kill(hubd.pid, signal.SIGSTOP)
        try:
            provider.tell("go")
            wrote = provider.line(timeout=10)  # arrives while the hub is still stopped
        finally:
            os.kill(hubd.pid, signal.SIGCONT)
        assert wrote["emitted"] > 2000 and wrote["dropped"] > 0
        provider.tell("flush")
        assert provider.line()["flushed"]

        def accounted() -> bool:  # "flushed" means sent; the hub books it a moment later
            s = hub.query_session("stall")
            return s.events_written + s.events_lost + s.events_pending == wrote["emitted"]

        wait_for(accounted, what="the provider's last batch and loss report")
        stats = hub.stop_session("stall")
    assert stats.events_lost > 0
    assert stats.events_written + stats.events_lost == wrote["emitted"]
    log = list(read_log(sock_dir / "stall.jsonl"))
    assert sum(1 for e in log if e.kind == "event") == stats.events_written
    assert sum(e.fields["count"] for e in log if e.kind == "lost") == stats.events_lost


def test_control_requests_reach_a_provider_process_and_its_answer_comes_back(hubd, spawn):
    """A client's control request (the IOCTL analog) runs the provider process's handler."""
    import pytest

    from tracer import ControlError, UnknownProviderError

    with connect(hubd.path) as hub:
        provider = spawn("controlled", "--socket", str(hubd.path), stdin=True)
        assert provider.line()["connected"]
        reply = hub.control("svc-demo", {"op": "echo", "n": 7})
        assert reply == {"echo": {"op": "echo", "n": 7}, "pid": provider.pid}
        with pytest.raises(ControlError, match="invalid parameter 'bogus'"):
            hub.control("svc-demo", {"op": "bogus"})
        with pytest.raises(UnknownProviderError):
            hub.control("no-such-provider", {"op": "echo"})
        provider.tell("quit")
        wait_for(lambda: _gone(hub), what="the provider process to be gone")
        with pytest.raises(ControlError, match=r"not running|gone"):
            hub.control("svc-demo", {"op": "echo"})


def _gone(hub) -> bool:
    from tracer import ControlError

    try:
        hub.control("svc-demo", {"op": "echo"})
    except ControlError:
        return True
    return False
