"""Event levels, numbered as in ETW (1 critical ... 5 verbose)."""

from __future__ import annotations

from enum import IntEnum

from ._errors import ConfigError

__all__ = ["Level", "parse_level"]


class Level(IntEnum):
    """ETW trace levels: a session at level L receives events with level <= L."""

    CRITICAL = 1
    ERROR = 2
    WARNING = 3
    INFO = 4
    VERBOSE = 5


_ALIASES = {"warn": Level.WARNING, "information": Level.INFO, "debug": Level.VERBOSE,
            "fatal": Level.CRITICAL}


def parse_level(text: str | int) -> Level:
    """Parse a level name (``info``) or number (``4``); raise ConfigError otherwise."""
    if isinstance(text, int):
        value = text
    else:
        key = text.strip().lower()
        if key in _ALIASES:
            return _ALIASES[key]
        if key.upper() in Level.__members__:
            return Level[key.upper()]
        if not key.isdigit():
            raise ConfigError(f"unknown level {text!r}: use one of "
                              f"{', '.join(m.name.lower() for m in Level)} or 1-5")
        value = int(key)
    try:
        return Level(value)
    except ValueError:
        raise ConfigError(f"level {value} out of range: use 1 (critical) to 5 (verbose)") from None
