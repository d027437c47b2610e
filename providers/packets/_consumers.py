"""The seam between the packet pipeline and providers that consume packets.

A consumer gets every decoded packet with its flow, and flow ends; if it also has
``on_data``/``on_gap``/``on_end`` (a :class:`StreamConsumer`) it gets reassembled TCP
streams. Providers register a factory under a short name that ``replay --provider``
accepts; other packages can publish factories in the ``wfptrace.packet_consumers``
entry-point group.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Mapping
from importlib.metadata import entry_points
from typing import Any, Protocol, runtime_checkable

from tracer import Provider

from ._flows import Direction, Flow
from ._packet import Packet

__all__ = ["CONSUMER_GROUP", "PacketConsumer", "consumer_names", "make_consumer",
           "register_consumer"]

CONSUMER_GROUP = "wfptrace.packet_consumers"
_log = logging.getLogger(__name__)
_FACTORIES: dict[str, Callable[[], PacketConsumer]] = {}


@runtime_checkable
class PacketConsumer(Protocol):
    """What the replay/live pipeline calls; ``provider`` is the tracer Provider it writes to."""

    @property
    def provider(self) -> Provider: ...

    def on_packet(self, pkt: Packet, flow: Flow, direction: Direction) -> bool | None:
        """Handle one packet; True means the flow's later packets need only be counted
        (the compiled packet stage then counts them; the Python pipeline ignores it)."""

    def on_flow_end(self, flow: Flow, reason: str) -> None: ...

    def close(self) -> None: ...


def register_consumer(name: str, factory: Callable[[], PacketConsumer]) -> None:
    """Make ``factory`` available as ``--provider name``."""
    _FACTORIES[name] = factory


def _load_plugins() -> None:
    for ep in entry_points(group=CONSUMER_GROUP):
        if ep.name in _FACTORIES:
            continue
        try:
            _FACTORIES[ep.name] = ep.load()
        except Exception as exc:  # a broken plugin must not break replay
            _log.warning("cannot load packet consumer %s: %s", ep.name, exc)


def consumer_names() -> list[str]:
    """Names accepted by :func:`make_consumer`."""
    _load_plugins()
    return sorted(_FACTORIES)


def make_consumer(name: str, options: dict[str, Any] | None = None) -> PacketConsumer:
    """Build the consumer registered as ``name`` (``wfptrace-`` prefix optional).

    ``options`` (e.g. ``remote``, ``app_hint`` from the replay command line) are
    passed to the factory as keywords it declares; unset (None) ones are left out.
    """
    _load_plugins()
    key = name if name in _FACTORIES else name.removeprefix("wfptrace-")
    if key not in _FACTORIES:
        known = ", ".join(consumer_names()) or "none"
        raise KeyError(f"unknown packet provider {name!r} (known: {known})")
    factory = _FACTORIES[key]
    accepted: Mapping[str, object]
    try:
        accepted = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        accepted = {}
    kwargs = {k: v for k, v in (options or {}).items() if k in accepted and v is not None}
    return factory(**kwargs)
