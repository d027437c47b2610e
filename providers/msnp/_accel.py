"""The optional C accelerator ``providers.msnp._cparser``, if it was built and matches.

It parses the common well-formed command lines (``scan_lines``); the Python
parser stays the reference and the fallback: set ``WFPTRACE_PURE=1`` to run
without it.
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["CPARSER"]

_VERSION = 1


def _load() -> Any:
    if os.environ.get("WFPTRACE_PURE"):
        return None
    try:
        from . import _cparser  # type: ignore[attr-defined]
    except ImportError:
        return None
    return _cparser if getattr(_cparser, "VERSION", None) == _VERSION else None


#: The C module in use, or None (pure Python).
CPARSER: Any = _load()
