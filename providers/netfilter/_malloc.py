"""glibc heap tuning that makes copying large (GSO) packets cheap.

Copying a 64 KiB packet out of the receive buffer allocates 64 KiB; when a
batch of them is freed, glibc trims the heap top back to the system (default
threshold 128 KiB) and the next batch faults the pages in again, which costs
about 6x the copy itself. Raising ``M_TRIM_THRESHOLD`` keeps up to 16 MiB of
freed heap in the process instead. Process-wide, once, and only with glibc.
"""

from __future__ import annotations

import ctypes
import threading

__all__ = ["keep_heap"]

M_TRIM_THRESHOLD = -1
TRIM_THRESHOLD = 16 << 20
_done = False
_lock = threading.Lock()


def keep_heap() -> bool:
    """Raise glibc's trim threshold (idempotent); False where mallopt is missing."""
    global _done
    with _lock:
        if _done:
            return True
        try:
            mallopt = ctypes.CDLL(None).mallopt
        except (OSError, AttributeError):
            return False
        mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        mallopt.restype = ctypes.c_int
        _done = bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
        return _done
