"""``block_traffic``, re-read before every decision when the file changed.

The sample's worker reads the registry value before each decision; here a
``stat`` of the file (about a microsecond) tells whether to parse it again. A
file that became unreadable or invalid keeps the last good value (counted).
"""

from __future__ import annotations

import os

from ._config import InspectConfig, read_block_traffic
from ._errors import InspectConfigError
from ._events import CONFIG_CHANGED

__all__ = ["BlockSwitch"]


class BlockSwitch:
    """The current ``block_traffic`` value of a configuration."""

    def __init__(self, config: InspectConfig) -> None:
        self.value = config.block_traffic
        self._path = config.block_path
        self._stamp = self._stat()
        #: Times the file changed and was read again, and times that failed.
        self.reloads = 0
        self.errors = 0

    def _stat(self) -> tuple[int, int, int] | None:
        if self._path is None:
            return None
        try:
            st = os.stat(self._path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def current(self) -> bool:
        """The value now; reads the file again only if its stat changed."""
        if self._path is None:
            return self.value
        stamp = self._stat()
        if stamp == self._stamp:
            return self.value
        self._stamp = stamp
        try:
            new = read_block_traffic(self._path)
        except InspectConfigError:
            self.errors += 1
            return self.value
        self.reloads += 1
        if new != self.value:
            old, self.value = self.value, new
            if CONFIG_CHANGED.enabled:
                CONFIG_CHANGED.write(str(self._path), new, old)
        return self.value
