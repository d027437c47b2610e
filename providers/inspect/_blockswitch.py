"""The configuration in force: ``block_traffic`` now, and live changes to it.

The sample's worker reads the registry value before each decision; here a
``stat`` of the file (about a microsecond) tells whether to read it again.
A changed file is validated whole, like at start: an invalid file (a typo key,
``fals``) or a change that needs a restart (``remote_address``, the queues, the
decider...) is refused, traced (``ConfigRefused``) and counted, and the running
configuration stays. ``set`` switches block/permit by command (also when a flag
fixed the value at start); ``reload`` (SIGHUP) reads the file now.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import threading

from ._config import InspectConfig
from ._errors import InspectConfigError
from ._events import CONFIG_CHANGED, CONFIG_REFUSED

__all__ = ["BlockSwitch"]


class BlockSwitch:
    """The current ``block_traffic`` value and the configuration in force."""

    def __init__(self, config: InspectConfig) -> None:
        self.config = config
        self.value = config.block_traffic
        self._path = config.path
        self._stamp = self._stat()
        self._lock = threading.Lock()
        #: Times the file was read again and applied, and times a change was refused.
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
        with self._lock:
            if stamp != self._stamp:
                self._stamp = stamp
                # refused: traced and counted, the running value stays
                with contextlib.suppress(InspectConfigError):
                    self._reload("file")
        return self.value

    def reload(self, source: str = "reload") -> str:
        """Read the file now (SIGHUP, ``inspect reload``); a message saying what changed.

        Raises InspectConfigError (traced) when the file is invalid or needs a restart.
        """
        with self._lock:
            self._stamp = self._stat()
            return self._reload(source)

    def _reload(self, source: str) -> str:
        try:
            new = self.config.reload()
            fixed = self.config.restart_needed(new)
            if fixed:
                raise InspectConfigError(
                    f"{', '.join(fixed)} changed: a restart is needed to apply "
                    "(the running configuration stays)")
        except InspectConfigError as exc:
            self.errors += 1
            if CONFIG_REFUSED.enabled:
                CONFIG_REFUSED.write(str(self._path or ""), source, str(exc))
            raise
        self.reloads += 1
        if self.config.block_path is None:  # a flag or `set` fixed block_traffic
            return f"reloaded; block_traffic stays {self.value} (fixed by a flag)"
        self._change(new.block_traffic, source)
        return f"reloaded; block_traffic = {self.value}"

    def set(self, block: bool, source: str = "set") -> bool:
        """Switch block (True) or permit (False) by command; the previous value."""
        with self._lock:
            previous = self.value
            self._change(block, source)
            return previous

    def _change(self, block: bool, source: str) -> None:
        self.config = dataclasses.replace(self.config, block_traffic=block)
        if block != self.value:
            old, self.value = self.value, block
            if CONFIG_CHANGED.enabled:
                CONFIG_CHANGED.write(str(self._path or ""), block, old, source)
