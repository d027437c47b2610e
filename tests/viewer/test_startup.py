"""What ``traceview FILE`` does before its first rows are painted: little imported, no scan."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import tracer
import viewer
from viewer._logindex import LogIndex

from .test_logindex import write_log

ROOT = Path(__file__).resolve().parents[2]

# Modules a log's first paint does not need (each costs the start 5 to 100 ms).
NOT_AT_FIRST_PAINT = ["structlog", "re2", "msgspec", "importlib.metadata", "providers",
                      "tracer._hub", "tracer._sink", "tracer._dfilter", "tracer._fmt",
                      "viewer._demo", "viewer._control", "viewer._search", "viewer._merge",
                      "viewer._filter_screen", "viewer._open_screen", "viewer._wizard"]

_FIRST_PAINT = textwrap.dedent("""
    import asyncio, json, sys
    from pathlib import Path
    from viewer._cli import main  # what the traceview command imports
    from viewer._app import TraceViewApp
    from viewer._events_view import EventsView

    async def run():
        app = TraceViewApp(None, logs=[Path(sys.argv[1])])
        painted = []
        async with app.run_test(size=(120, 40)) as pilot:
            view = app.query_one(EventsView)
            view.paint_hook = lambda dt: painted.append(1) if len(app.rows) else None
            while not painted:
                await pilot.pause(0.001)
            loaded = sorted(sys.modules)
            scanning = app.index._thread.ident is not None
        print(json.dumps({"modules": loaded, "scan_started_before_paint": scanning}))

    asyncio.run(run())
""")


@pytest.fixture(scope="module")
def small_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_log(tmp_path_factory.mktemp("startup") / "small.jsonl", 3_000)


def test_first_paint_of_a_log_imports_no_hub_filter_or_dialog_code(small_log):
    """Opening a log paints its first rows before the hub, sinks, display filter, RE2,
    providers, msgspec or any dialog is imported, and before the background scan starts."""
    out = subprocess.run([sys.executable, "-c", _FIRST_PAINT, str(small_log)], cwd=ROOT,
                         capture_output=True, text=True, timeout=120, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    loaded = set(result["modules"])
    early = [m for m in NOT_AT_FIRST_PAINT
             if m in loaded or any(x.startswith(m + ".") for x in loaded)]
    assert early == []
    assert not result["scan_started_before_paint"]


@pytest.mark.parametrize("package", [tracer, viewer])
def test_every_exported_name_of_a_lazy_package_resolves(package):
    """Every name in ``__all__`` of tracer and viewer resolves (and is listed by dir())."""
    for name in package.__all__:
        assert getattr(package, name) is not None
        assert name in dir(package)
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = package.no_such_name


def test_a_held_index_shows_first_rows_and_end_then_scans_when_started(tmp_path):
    """LogIndex(start=False) reads the first screen and the tail at once and indexes the
    rest only once start_scan() is called."""
    path = write_log(tmp_path / "held.jsonl", 20_000)
    index = LogIndex(path, follow=False, start=False)
    try:
        assert index.event(0).seq == 1
        assert index.event(index.total - 1).seq == 20_000
        time.sleep(0.3)
        assert not index.done and index.indexed < 20_000
        index.start_scan()
        index.start_scan()  # a second call does nothing
        deadline = time.monotonic() + 30
        while not index.done and time.monotonic() < deadline:
            time.sleep(0.02)
        assert index.done and index.total == 20_000
        assert [index.event(r).seq for r in (0, 9_999, 19_999)] == [1, 10_000, 20_000]
    finally:
        index.close()


def test_a_held_index_closes_without_scanning(tmp_path):
    """Closing an index whose scan never started returns at once (nothing to join)."""
    index = LogIndex(write_log(tmp_path / "closed.jsonl", 2_000), follow=False, start=False)
    t0 = time.monotonic()
    index.close()
    assert time.monotonic() - t0 < 0.5
    index.start_scan()  # after close: does not start
    assert index._thread.ident is None
