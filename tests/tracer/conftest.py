"""Fixtures for the tracing core tests: a demo provider and an embedded hub."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tracer import EventType, Hub, Level, Provider


class Demo:
    """A provider with events at every level and keyword combination the tests need."""

    def __init__(self, name: str = "test-demo") -> None:
        self.provider = Provider(name, keywords=["net", "disk", "verbose"])
        p = self.provider
        self.connect: EventType = p.event(
            1, "Connect", Level.INFO, "net", {"host": str, "port": int},
            "Connecting to {host}:{port}")
        self.write: EventType = p.event(
            2, "DiskWrite", Level.VERBOSE, "disk", {"path": str, "size": int, "data": bytes},
            "Wrote {size} bytes to {path}")
        self.both: EventType = p.event(
            3, "NetDisk", Level.WARNING, ("net", "disk"), {"n": int}, "net and disk {n}")
        self.plain: EventType = p.event(4, "Plain", Level.ERROR, (), {"text": str}, "{text}")


@pytest.fixture
def demo() -> Demo:
    """A fresh demo provider (a new object per test, so enable state never leaks)."""
    return Demo()


@pytest.fixture
def hub(demo: Demo) -> Iterator[Hub]:
    """An embedded hub with the demo provider registered; every session stopped after."""
    h = Hub(load_installed=False)
    h.register(demo.provider)
    yield h
    h.close()
