"""A provider and a session helper for the sink tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tracer import Hub, Level, Provider

SINKTEST = Provider("sinktest", keywords=["a"])
TICK = SINKTEST.event(1, "Tick", Level.INFO, "a", {"n": int, "text": str}, "tick {n} {text}")


@pytest.fixture
def hub() -> Iterator[Hub]:
    with Hub(load_installed=False) as h:
        h.register(SINKTEST)
        yield h


def emit(n: int, text: str = "x") -> None:
    """Write ``n`` Tick events."""
    for i in range(n):
        TICK.write(i, text)
