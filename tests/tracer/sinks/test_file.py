"""The file sink: the log file as before, with its own exact account."""

from __future__ import annotations

import os
from pathlib import Path

from tests.tracer.sinks.conftest import emit
from tracer import Hub, ProviderEnable, SessionConfig, SinkSpec, read_log


def test_two_file_sinks_get_every_event_and_account_for_it(hub: Hub, tmp_path: Path) -> None:
    """Two file sinks of one session each hold every event, with handed == written."""
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    hub.start_session(SessionConfig("s", [ProviderEnable("sinktest")], file=a,
                                    sinks=[SinkSpec("file", str(b))]))
    emit(500)
    stats = hub.stop_session("s")
    assert [e.fields["n"] for e in read_log(a)] == list(range(500))
    assert [e.fields["n"] for e in read_log(b)] == list(range(500))
    for sink in stats.sinks:
        assert sink["handed"] == sink["written"] == 500 and sink["lost"] == sink["pending"] == 0


def test_a_full_disk_is_counted_lost_with_its_reason(hub: Hub, tmp_path: Path) -> None:
    """Events the file cannot take (the disk filled) are lost with the reason."""
    session = hub.start_session(SessionConfig("s", [ProviderEnable("sinktest")],
                                              sinks=[SinkSpec("file", str(tmp_path / "f"))]))
    assert session.log is not None
    os.dup2(os.open("/dev/full", os.O_WRONLY), session.log.fileno())  # the disk fills up
    emit(300)
    stats = hub.stop_session("s")
    sink = stats.sinks[0]
    assert sink["handed"] == 300 and sink["written"] == 0 and sink["lost"] == 300
    assert sink["lost_reasons"] == {"write failed": 300}
    assert stats.events_lost == 300 and "disk full" in (stats.last_error or "")


def test_a_size_limited_log_loses_what_does_not_fit(hub: Hub, tmp_path: Path) -> None:
    """A sequential log at its max size keeps what fits; the rest is lost as "file full"."""
    path = tmp_path / "small.jsonl"
    hub.start_session(SessionConfig("s", [ProviderEnable("sinktest")], file=path,
                                    max_size=64 * 1024))
    emit(3000, "y" * 40)
    stats = hub.stop_session("s")
    sink = stats.sinks[0]
    kept = len(list(read_log(path)))
    assert 0 < kept < 3000 and sink["written"] == kept
    assert sink["handed"] == sink["written"] + sink["lost"] == 3000
    assert sink["lost_reasons"] == {"file full or refused": 3000 - kept}


def test_render_worker_file_sink_settles_its_pending_events(hub: Hub, tmp_path: Path) -> None:
    """With a render worker the sink reports pending events until the child acknowledges them."""
    path = tmp_path / "w.jsonl"
    hub.start_session(SessionConfig("s", [ProviderEnable("sinktest")], file=path,
                                    render_worker=True))
    emit(2000)
    stats = hub.stop_session("s")
    sink = stats.sinks[0]
    assert sink["handed"] == sink["written"] == 2000 and sink["pending"] == 0
    assert len(list(read_log(path))) == 2000
