"""The demo: real providers replaying the bundled captures; ``traceview --demo`` live at once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from providers.inspect import PROVIDER as INSPECT
from providers.msnmon import PROVIDER as MSNMON
from tracer import Event, Hub, SessionConfig
from viewer import TraceViewApp
from viewer._cli import add_arguments, run
from viewer._decisions_panel import DecisionsPanel
from viewer._demo import DemoReplay, demo_enables, demo_providers
from viewer._events_view import EventsView
from viewer._replay import bundled_captures, replay_available

from .conftest import screen_lines, wait_for

pytestmark = pytest.mark.skipif(not replay_available() or not bundled_captures(),
                                reason="no replay pipeline or no bundled captures")

REAL = {p.name: p for p in demo_providers()}


def _ring_events(app: TraceViewApp) -> list[Event]:
    ring = app.ring
    return [ring.event(i) for i in range(ring.start, ring.total)]


def test_demo_events_are_the_real_providers_events():
    """Every demo event is an event of packets, msnmon or inspect as their manifests declare."""
    assert set(REAL) == {"wfptrace-packets", "wfptrace-msnmon", INSPECT.name}
    with Hub(load_installed=False) as hub:
        demo = DemoReplay(hub, bundled_captures()[:1], rate=0).start()
        hub.start_session(SessionConfig("d", demo_enables(), realtime=True))
        sub = hub.subscribe("d")
        deadline = time.monotonic() + 20
        while demo.rounds == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        demo.stop()
        hub.flush_session("d")
        events = sub.drain()
        manifests = hub.manifests()
    assert demo.error is None and demo.rounds >= 1
    assert not [n for n in manifests if n.startswith("demo.")]
    assert {e.provider for e in events} == set(REAL)
    for e in events:
        declared = {ev["id"]: ev for ev in REAL[e.provider].manifest()["events"]}
        assert declared[e.id]["name"] == e.name
        declared_names = [f["name"] for f in declared[e.id]["fields"]]
        assert list(e.fields) == [n for n in declared_names if n != "@timestamp"]
    names = {(e.provider, e.name) for e in events}
    assert {(INSPECT.name, "ConnectionPended"), (MSNMON.name, "Command"),
            ("wfptrace-packets", "FlowNew")} <= names


def _run_demo(drive: Callable[[TraceViewApp, Any], Awaitable[None]], *argv: str,
              monkeypatch: pytest.MonkeyPatch) -> int:
    """``traceview --demo ARGV`` as the command line runs it, ``drive`` playing the user."""
    def run_app(app: TraceViewApp) -> None:
        async def main() -> None:
            async with app.run_test(size=(100, 30)) as pilot:
                await drive(app, pilot)
        asyncio.run(main())

    monkeypatch.setattr(TraceViewApp, "run", run_app)
    import argparse

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return run(parser.parse_args(["--demo", *argv]))


def test_traceview_demo_shows_live_events_without_a_key(monkeypatch):
    """traceview --demo paints the real providers' events within seconds, no key pressed."""
    seen: dict[str, Any] = {}

    async def drive(app: TraceViewApp, pilot: Any) -> None:
        t0 = time.monotonic()
        view = app.query_one(EventsView)
        await wait_for(pilot, lambda: any("wfptrace-" in ln for ln in screen_lines(view)),
                       timeout=5)
        seen["after_s"] = time.monotonic() - t0
        seen["providers"] = set(app.ring.providers)
        seen["sessions"] = [s.name for s in app.hub.list_sessions()]  # type: ignore[union-attr]

        def footer() -> str:
            return " ".join(str(k.render()) for k in app.screen.query("FooterKey"))
        await wait_for(pilot, lambda: "New session" in footer())  # the footer lays out late
        seen["footer"] = footer()

    assert _run_demo(drive, "--rate", "200", monkeypatch=monkeypatch) == 0
    assert seen["after_s"] < 3.0
    assert seen["providers"] <= set(REAL) and seen["providers"]
    assert seen["sessions"] == ["traceview"]
    assert "c New session" in seen["footer"]


def test_demo_wizard_is_one_key_away(monkeypatch):
    """In the demo, c still opens the new-session wizard."""
    from viewer._wizard import SessionWizard

    async def drive(app: TraceViewApp, pilot: Any) -> None:
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, SessionWizard))

    assert _run_demo(drive, monkeypatch=monkeypatch) == 0


def test_decisions_panel_permits_and_blocks_real_pended_connections(monkeypatch):
    """d, a, b: the inspect provider traces the user's permit and block as external verdicts."""
    decided: dict[str, int] = {}
    verdicts: list[tuple[int, str, str]] = []

    async def drive(app: TraceViewApp, pilot: Any) -> None:
        panel = app.query_one(DecisionsPanel)
        await wait_for(pilot, lambda: len(panel.items) >= 2, timeout=10)
        first, second = panel.items[0].id, panel.items[1].id
        await pilot.press("d", "a", "b")
        decided.update(permit=first, block=second)

        def traced() -> bool:
            verdicts[:] = [(e.fields["conn_id"], e.fields["verdict"], e.fields["decided_by"])
                           for e in _ring_events(app) if e.name == "ConnectionVerdict"]
            return len(verdicts) >= 2
        await wait_for(pilot, traced, timeout=5)

    assert _run_demo(drive, "--rate", "200", monkeypatch=monkeypatch) == 0
    assert verdicts[:2] == [(decided["permit"], "permit", "decision-program"),
                            (decided["block"], "block", "decision-program")]


@pytest.mark.parametrize(("argv", "message"), [
    (["--rate", "-1"], "rate must be >= 0"),
    (["--remote", "not-an-address"], "is not a literal IPv4 or IPv6 address")])
def test_bad_demo_options_are_refused(argv, message, capsys):
    """--demo with a negative --rate or a bad --remote exits 2 with one clear line."""
    import argparse

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert run(parser.parse_args(["--demo", *argv])) == 2
    assert message in capsys.readouterr().err
