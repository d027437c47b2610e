"""The optional C accelerator ``tracer._speedups``, if it was built and matches.

It renders JSON lines (``render_lines``) and runs the emit path (``Writer``,
``Sink``) without Python frames. The Python code it replaces stays the reference
and the fallback: set ``WFPTRACE_PURE=1`` to run without it.
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["SPEEDUPS"]

_VERSION = 3


def _load() -> Any:
    if os.environ.get("WFPTRACE_PURE"):
        return None
    try:
        from . import _speedups  # type: ignore[attr-defined]  # C module: no stub to read
    except ImportError:
        return None
    return _speedups if getattr(_speedups, "VERSION", None) == _VERSION else None


#: The C module in use, or None (pure Python).
SPEEDUPS: Any = _load()
