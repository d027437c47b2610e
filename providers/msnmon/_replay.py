"""Offline monitoring: a pcap / pcapng file through the packet pipeline and the monitor.

The application is unknown unless hinted (``app_hint``); MSNP is recognised by
port, by learned server addresses and by content. :func:`replay_demo` is the
one-call demo: the trace of a capture as formatted lines.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from providers.packets import PcapFileSource, Pipeline, open_capture
from providers.packets._stage import CompiledPipeline
from tracer import Hub, Level, ProviderEnable, Redactor, SessionConfig, format_event

from ._events import PROVIDER, PROVIDER_NAME
from ._monitor import MsnMonitor
from ._stats import MonitorStats

__all__ = ["STAGE", "replay_capture", "replay_consumer", "replay_demo"]


def _stage_reason() -> str:
    """Why the compiled packet stage cannot run the monitor ("" if it can)."""
    from providers.packets._accel import CSTAGE, STAGE_REASON

    if CSTAGE is None:
        return STAGE_REASON
    if MsnMonitor.framer is None:
        return "it frames with providers.msnp._cparser, which is off"
    return ""


#: Why replays do not run through the compiled packet stage ("" when they do).
STAGE = _stage_reason()


def replay_capture(path: str | Path, *, app_hint: str | None = None,
                   capture_bodies: bool = False, capture_secrets: bool = False,
                   redactor: Redactor | None = None, monitor: MsnMonitor | None = None,
                   pipeline: Pipeline | CompiledPipeline | None = None,
                   compiled: bool = True,
                   progress: Callable[[float], None] | None = None) -> MonitorStats:
    """Run every packet of a capture file through a pipeline with a monitor; return the
    monitor's statistics.

    ``pipeline`` (default: a new one with ``monitor`` as its consumer) must have
    ``monitor`` among its consumers; it is finished at the end (flows ended, consumers
    closed). Events go to whatever sessions enable ``wfptrace-msnmon`` at the time. The
    default pipeline is the compiled packet stage when it is built (``compiled=False``:
    the Python pipeline, its reference; the results are the same). ``progress`` is
    called now and then with the fraction of the file read, and with 1.0 at the end.
    Without ``monitor``, one is made with ``app_hint``, the capture flags and
    ``redactor``.
    """
    monitor = monitor or MsnMonitor(app_hint=app_hint, capture_bodies=capture_bodies,
                                    capture_secrets=capture_secrets, redactor=redactor)
    if pipeline is None:
        pipeline = CompiledPipeline(monitor) if compiled and not STAGE \
            else Pipeline([monitor])
    if monitor not in pipeline.consumers:
        raise ValueError("replay_capture: the monitor is not one of the pipeline's consumers")
    with open_capture(path) as source:  # (checks the format first)
        frames = source if progress is None else _reporting(source, progress)
        if not isinstance(pipeline, CompiledPipeline) or not pipeline.run_file(path, progress):
            pipeline.run(frames, str(path))
    pipeline.finish()
    if progress is not None:
        progress(1.0)
    return monitor.stats


def replay_consumer(app_hint: str | None = None, capture_bodies: bool = False,
                    capture_secrets: bool = False, redaction_key: str | None = None
                    ) -> MsnMonitor:
    """Factory for the ``wfptrace.packet_consumers`` entry point ``msnmon``: the monitor
    as one consumer of ``wfptrace replay``'s pipeline (the application is unknown unless
    ``app_hint`` names it; ``redaction_key``: the file of the redaction key)."""
    redactor = Redactor.from_file(redaction_key) if redaction_key else None
    return MsnMonitor(app_hint=app_hint, capture_bodies=capture_bodies,
                      capture_secrets=capture_secrets, redactor=redactor)


def _reporting(source: PcapFileSource, progress: Callable[[float], None]
               ) -> Iterator[tuple[int, int, bytes, int, int]]:
    """The source's frames, telling ``progress`` how far it got every 4096 frames."""
    for i, frame in enumerate(source, 1):
        if not i & 4095:
            progress(source.progress())
        yield frame



def replay_demo(path: str | Path, *, app_hint: str | None = None, keywords: str | None = None,
                capture_bodies: bool = False, level: Level = Level.INFO) -> Iterator[str]:
    """Replay a capture in an embedded hub and yield the trace as formatted lines.

    INFO (the default) leaves out the verbose events: transactions and the
    original's trace strings (``level=Level.VERBOSE`` adds them).
    """
    with Hub(load_installed=False) as hub:
        hub.register(PROVIDER)
        spec = ProviderEnable(PROVIDER_NAME, level=level,
                              keywords=tuple(keywords.split(",")) if keywords else None)
        hub.start_session(SessionConfig("msnmon-demo", [spec], realtime=True,
                                        flush_interval=0.05))
        sub = hub.subscribe("msnmon-demo")
        replay_capture(path, app_hint=app_hint, capture_bodies=capture_bodies)
        hub.stop_session("msnmon-demo")
        events = sub.drain()
    for event in events:
        if event.provider == PROVIDER_NAME:
            yield format_event(event)
