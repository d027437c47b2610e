"""The optional C fast paths ``providers.packets._cdecode`` and ``_cstage``, if built and matching.

It decodes the common frames (Ethernet + IPv4/IPv6 + TCP/UDP) and builds their
``Packet`` through its constructor, and cuts classic pcap records out of the read
buffer in batches. The Python code stays the reference and the fallback: set
``WFPTRACE_PURE=1`` to run without it. ``REASON`` says why it is off.
"""

from __future__ import annotations

from typing import Any

from providers._accel import load_accelerator

from ._packet import Packet

__all__ = ["CDECODE", "CSTAGE", "REASON", "STAGE_REASON"]

_VERSION = 3


def _load() -> tuple[Any, str]:
    module, reason = load_accelerator("providers.packets._cdecode", _VERSION)
    if module is not None:
        module.configure(Packet)  # the class it builds
    return module, reason


#: The C module in use (or None: pure Python), and why it is not in use.
CDECODE, REASON = _load()

#: The compiled packet stage ``providers.packets._cstage`` (or None), and why not.
CSTAGE, STAGE_REASON = load_accelerator("providers.packets._cstage", 2)
