"""The tracer's exception hierarchy.

Every error a user can cause derives from :class:`TracerError`, so a command line
front end can catch one class and print a clear message instead of a traceback::

    TracerError
    +-- ConfigError            bad names, levels, keywords, sizes, paths
    |   +-- UnknownProviderError
    |   +-- UnknownKeywordError
    +-- SessionError
    |   +-- SessionExistsError
    |   +-- NoSuchSessionError
    |   +-- TooManySessionsError   (more than 8 sessions on one provider)
    +-- ControlError           a control request the provider rejected or cannot take
    +-- LogWriteError          the log file could not be written (full disk, I/O error)
    +-- LogFormatError         a log file that is not a wfptrace JSON-lines log
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "ControlError",
    "LogFormatError",
    "LogWriteError",
    "NoSuchSessionError",
    "SessionError",
    "SessionExistsError",
    "TooManySessionsError",
    "TracerError",
    "UnknownKeywordError",
    "UnknownProviderError",
]


class TracerError(Exception):
    """Base class of every error the tracer raises for a caller's mistake or environment."""


class ConfigError(TracerError, ValueError):
    """A configuration value is invalid (name, level, keyword, size, mode, path)."""


class UnknownProviderError(ConfigError):
    """A provider name that is neither registered nor known by its manifest."""


class UnknownKeywordError(ConfigError):
    """A keyword name that the provider does not define."""


class SessionError(TracerError):
    """A session operation that cannot be carried out."""


class SessionExistsError(SessionError):
    """A session with this name is already running."""


class NoSuchSessionError(SessionError, KeyError):
    """No session has this name."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "no such session"


class TooManySessionsError(SessionError):
    """A provider can be enabled by at most 8 sessions at once (as in ETW)."""


class LogWriteError(TracerError, OSError):
    """The log file could not be opened or written."""


class LogFormatError(TracerError, ValueError):
    """The file is not a wfptrace JSON-lines log, or its header is damaged."""


class ControlError(TracerError):
    """A control request (the IOCTL analog) that the provider rejected or cannot take."""
