"""The decisions panel: pending connections, one-key verdicts, countdown held while choosing."""

from viewer import LocalDecisionSource, TraceViewApp
from viewer._decisions_panel import DecisionsPanel

from .conftest import wait_for


def _submit(src: LocalDecisionSource, got: list, remote: str = "10.0.0.2") -> int:
    return src.submit(process="msnmsgr", pid=3100, protocol="tcp", local="10.0.0.1",
                      local_port=50123, remote=remote, remote_port=1863,
                      on_verdict=lambda v, t: got.append((remote, v, t)))


async def test_pending_connection_shows_process_tuple_and_countdown():
    """A pending connection appears with its process, 5-tuple and seconds left."""
    src = LocalDecisionSource(timeout=30)
    _submit(src, [])
    app = TraceViewApp(None, decisions=src)
    async with app.run_test(size=(80, 24)) as pilot:
        panel = app.query_one(DecisionsPanel)
        await wait_for(pilot, lambda: bool(panel.items))
        text = panel.render().plain
        assert "1 pending decision" in text
        assert "msnmsgr[3100] tcp 10.0.0.1:50123 -> 10.0.0.2:1863" in text
        assert "s " in text.split("\n")[1]  # a countdown such as "29.8s"


async def test_allow_and_block_with_one_key():
    """d focuses the panel; a allows the highlighted connection, b blocks the next."""
    src = LocalDecisionSource(timeout=30)
    got: list = []
    _submit(src, got, "10.0.0.2")
    _submit(src, got, "10.0.0.7")
    app = TraceViewApp(None, decisions=src)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("d", "a")
        await pilot.press("b")
        await pilot.pause()
    assert got == [("10.0.0.2", "allow", False), ("10.0.0.7", "block", False)]


async def test_countdown_pauses_while_choosing():
    """With the panel focused the highlighted item is held and does not time out."""
    now = [0.0]
    src = LocalDecisionSource(timeout=5, clock=lambda: now[0])
    got: list = []
    _submit(src, got)
    app = TraceViewApp(None, decisions=src)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("d")
        await wait_for(pilot, lambda: src.pending()[0].held)  # focus lands asynchronously
        now[0] += 60
        await pilot.pause(0.3)
        [item] = src.pending()
        assert item.held and got == []
        assert "⏸" in app.query_one(DecisionsPanel).render().plain
        await pilot.press("d")  # back to the events: the countdown resumes
        await wait_for(pilot, lambda: not src.pending()[0].held)
        now[0] += 6
        await wait_for(pilot, lambda: got == [("10.0.0.2", "block", True)])


async def test_recent_verdicts_show_who_decided_and_how_long():
    """Under the pending items, the last verdicts show their decided-by column and latency."""
    now = [0.0]
    src = LocalDecisionSource(timeout=5, clock=lambda: now[0])
    got: list = []
    first = _submit(src, got, "10.0.0.2")
    _submit(src, got, "10.0.0.7")
    _submit(src, got, "10.0.0.9")
    now[0] += 1.5
    assert src.decide(first, "allow")
    now[0] += 4
    src.pending()  # the second and third time out to the default (block)
    _submit(src, got, "10.0.0.11")
    app = TraceViewApp(None, decisions=src)
    async with app.run_test(size=(100, 24)) as pilot:
        panel = app.query_one(DecisionsPanel)
        await wait_for(pilot, lambda: bool(panel.items))
        lines = panel.render().plain.split("\n")
    assert "10.0.0.11" in lines[1]
    recent = lines[2:]
    assert len(recent) == 3 and "10.0.0.2:" in recent[-1]
    assert recent[-1].split()[:3] == ["allow", "decision-program", "1.5"]
    assert recent[0].split()[:3] == ["block", "timeout-default", "5.0"]
