"""The optional C accelerator ``providers.msnp._cparser``, if it was built and matches.

It parses the common well-formed command lines (``scan_lines``) and makes the argument
lists of traced Command events (``arg_list``); the Python
parser stays the reference and the fallback: set ``WFPTRACE_PURE=1`` to run
without it.
"""

from __future__ import annotations

from providers._accel import load_accelerator

__all__ = ["CPARSER", "REASON"]

_VERSION = 4


#: The C module in use (or None: pure Python), and why it is not in use.
CPARSER, REASON = load_accelerator("providers.msnp._cparser", _VERSION)
