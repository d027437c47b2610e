"""glibc heap tuning for large packet copies."""

from __future__ import annotations

import platform

import pytest

from providers.netfilter._malloc import keep_heap


def test_trim_threshold_is_raised_once_on_glibc() -> None:
    """On glibc the tuning applies (True) and repeating it is harmless."""
    if platform.libc_ver()[0] != "glibc":
        pytest.skip("not glibc")
    assert keep_heap() is True
    assert keep_heap() is True
