"""Loading the providers' optional C accelerators: one rule for all of them.

A module is used when it was built (the install goes on without a compiler), when
its ``VERSION`` matches the Python code it accelerates, and unless
``WFPTRACE_PURE=1`` asks for pure Python. The Python code stays the reference.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

__all__ = ["load_accelerator"]


def load_accelerator(name: str, version: int) -> tuple[Any, str]:
    """The C module ``name`` (absolute) if it may be used, else None; and why not.

    (Typed ``Any``: a C module's functions are not known to the type checker.)
    """
    if os.environ.get("WFPTRACE_PURE"):
        return None, "WFPTRACE_PURE is set"
    try:
        module = importlib.import_module(name)
    except ImportError as e:
        return None, f"not built ({e})"
    if getattr(module, "VERSION", None) != version:
        return None, f"built from another version of {name} (rebuild it)"
    return module, ""
