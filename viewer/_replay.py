"""Captures replayed through the packet providers, on a thread, for ``--replay``.

Replay starts once a session exists (so the events have somewhere to go) and
runs at the recorded speed, once. (``--demo`` loops the bundled captures: ``_demo``.)
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tracer import Hub

__all__ = ["CaptureReplay", "bundled_captures", "replay_available"]

SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "captures"


def replay_available() -> bool:
    """True if the packet providers offer a replay pipeline."""
    try:
        from providers.packets import Pipeline, consumer_names, open_capture  # noqa: F401
    except ImportError:
        return False
    return True


def bundled_captures() -> list[Path]:
    """The sample captures shipped with the project."""
    return sorted(SAMPLES.glob("*.pcap*")) if SAMPLES.is_dir() else []


def _consumers(options: dict[str, Any]) -> tuple[list[Any], list[str]]:
    """Every packet provider that accepts the options; and why the others did not."""
    from providers.packets import consumer_names, make_consumer
    with contextlib.suppress(ImportError):
        import providers.packets._packetsprovider  # noqa: F401 - registers "packets"
    made, skipped = [], []
    for name in consumer_names():
        try:
            made.append(make_consumer(name, options))
        except Exception as exc:  # a provider refusing its options (e.g. inspect w/o remote)
            skipped.append(f"{name}: {exc}")
    return made, skipped


class CaptureReplay:
    """Replays captures through the packet providers registered on a hub."""

    def __init__(self, hub: Hub, paths: Sequence[Path], *, speed: str = "recorded",
                 options: dict[str, Any] | None = None) -> None:
        self.hub = hub
        self.paths = list(paths)
        self.speed = speed
        self.options = {"remote": None, "block": None, "config": None, "app_hint": None,
                        "capture_bodies": None, **(options or {})}
        self.rounds = 0
        self.error: str | None = None
        consumers, self.skipped = _consumers(self.options)
        self.providers = [c.provider for c in consumers]
        for c in consumers:
            c.close()
        for p in self.providers:
            hub.register(p)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="traceview-replay", daemon=True)

    def start(self) -> CaptureReplay:
        """Start replaying (once a session exists)."""
        self._thread.start()
        return self

    def _run(self) -> None:
        from providers.packets import Pipeline, open_capture
        while not self._stop.is_set():
            if not self.hub.list_sessions():
                self._stop.wait(0.2)
                continue
            consumers, _ = _consumers(self.options)
            pipeline = Pipeline(consumers, speed=self.speed)
            for path in self.paths:
                try:
                    with open_capture(path) as src:
                        pipeline.run(_until(src, self._stop), str(path))
                except Exception as exc:  # a bad capture must not kill the viewer
                    self.error = f"{path}: {exc}"
            pipeline.finish()
            self.rounds += 1
            return

    def stop(self) -> None:
        """Stop replaying."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)


def _until(source: Any, stop: threading.Event) -> Any:
    for frame in source:
        if stop.is_set():
            return
        yield frame
