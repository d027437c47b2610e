"""The optional C fast path ``providers.packets._cdecode``, if it was built and matches.

It decodes the common frames (Ethernet + IPv4/IPv6 + TCP/UDP) and builds their
``Packet`` without Python frames, and cuts classic pcap records out of the read
buffer in batches. The Python code stays the reference and the fallback: set
``WFPTRACE_PURE=1`` to run without it. ``REASON`` says why it is off.
"""

from __future__ import annotations

import os
from typing import Any

from ._packet import Packet

__all__ = ["CDECODE", "REASON"]

_VERSION = 2


def _load() -> tuple[Any, str]:
    if os.environ.get("WFPTRACE_PURE"):
        return None, "WFPTRACE_PURE is set"
    try:
        from . import _cdecode  # type: ignore[attr-defined]
    except ImportError as e:
        return None, f"not built ({e})"
    if getattr(_cdecode, "VERSION", None) != _VERSION:
        return None, "built from another version of _cdecode.c (rebuild it)"
    try:
        _cdecode.bind(Packet)  # where Packet's slots live
    except TypeError as e:
        return None, f"Packet's layout does not fit it: {e}"
    return _cdecode, ""


#: The C module in use (or None: pure Python), and why it is not in use.
CDECODE, REASON = _load()
