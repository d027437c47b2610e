"""Keyed-hash redaction: secrets replaced by a token that still correlates equal values.

A provider that sees authentication material or message contents writes, by default,
``<redacted:hmac:1a2b3c4d5e6f>`` instead: the first 12 hex digits of HMAC-SHA256 under
a key that is random per run (so a token cannot be looked up in a dictionary of
likely values), or read from a key file (so that the tokens of several runs, or hosts,
can be compared). Equal values give equal tokens under one key.

The log header says what a run did (:func:`redaction_header`), and
:func:`redaction_note` turns those header fields into the one line ``wfptrace fmt``
and TraceView show.
"""

from __future__ import annotations

import argparse
import hmac
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._errors import ConfigError

__all__ = ["REDACTION_SCHEME", "Redactor", "add_redaction_options", "redaction_header",
           "redaction_note", "redactor_from_args"]

#: The scheme named in the log header's ``redaction`` field.
REDACTION_SCHEME = "hmac-sha256"
_DIGITS = 12
_KEY_BYTES = 32
_MIN_KEY_BYTES = 16
_MAX_KEY_BYTES = 4096
_KEY_ID_LABEL = b"wfptrace redaction key id"
_NOTE_FIELD = 40
#: Tokens remembered per redactor (the same cookie, ticket or salt recurs: an XFR's
#: cookie and its switchboard's USR), and the longest value remembered: at most about
#: 4 MiB of values, the table emptied when full.
_CACHE_ENTRIES = 4096
_CACHE_VALUE_LEN = 1024


class Redactor:
    """Turns secret values into ``<redacted:hmac:12hex>`` tokens under one key.

    ``key`` None: 32 random bytes, so tokens correlate within this run only. Tokens of
    recent values are remembered (equal values, equal tokens: one HMAC per value), and
    each HMAC starts from a copy of the keyed state, not from the key.
    """

    __slots__ = ("_cache", "_key", "_mac", "key_id")

    def __init__(self, key: bytes | None = None) -> None:
        if key is not None and len(key) < _MIN_KEY_BYTES:
            raise ConfigError(f"a redaction key needs at least {_MIN_KEY_BYTES} bytes, "
                              f"not {len(key)}")
        self._key = key if key is not None else os.urandom(_KEY_BYTES)
        #: Names the key without revealing it: logs with the same key id correlate.
        self.key_id = hmac.digest(self._key, _KEY_ID_LABEL, "sha256").hex()[:_DIGITS]
        self._mac = hmac.new(self._key, digestmod="sha256")
        self._cache: dict[str | bytes, str] = {}

    @classmethod
    def from_file(cls, path: str | Path) -> Redactor:
        """The key kept in a file (its bytes, a trailing newline left out), e.g. made with
        ``head -c 32 /dev/urandom > FILE``; a clear ConfigError for a missing, empty,
        short or huge file."""
        try:
            with open(path, "rb") as f:
                key = f.read(_MAX_KEY_BYTES + 1)
        except OSError as exc:
            raise ConfigError(f"cannot read the redaction key file {path}: "
                              f"{exc.strerror}") from None
        if len(key) > _MAX_KEY_BYTES:
            raise ConfigError(f"redaction key file {path} is over {_MAX_KEY_BYTES} bytes: "
                              "is it the right file?")
        key = key.removesuffix(b"\n").removesuffix(b"\r")
        if len(key) < _MIN_KEY_BYTES:
            raise ConfigError(f"redaction key file {path} holds {len(key)} bytes; a key "
                              f"needs at least {_MIN_KEY_BYTES} (head -c 32 /dev/urandom > "
                              "FILE makes one)")
        return cls(key)

    def token(self, value: str | bytes) -> str:
        """``<redacted:hmac:...>`` for ``value`` (text is hashed as UTF-8)."""
        cache = self._cache
        kind = type(value)
        cached = kind is str or kind is bytes
        if cached:
            token = cache.get(value)
            if token is not None:
                return token
        data = value.encode("utf-8", "surrogatepass") if isinstance(value, str) else value
        mac = self._mac.copy()
        mac.update(data)
        token = f"<redacted:hmac:{mac.hexdigest()[:_DIGITS]}>"
        if cached and len(value) <= _CACHE_VALUE_LEN:
            if len(cache) >= _CACHE_ENTRIES:
                cache.clear()
            cache[value] = token
        return token


def redaction_header(redactor: Redactor, *, capture_secrets: bool,
                     capture_bodies: bool) -> dict[str, Any]:
    """The log header fields that say what a run redacted, and under which key."""
    return {"capture_secrets": capture_secrets, "capture_bodies": capture_bodies,
            "redaction": REDACTION_SCHEME, "redaction_key_id": redactor.key_id}


def redaction_note(header: Mapping[str, Any]) -> str | None:
    """One line on a log's secrets from its header, or None if the header says nothing
    (the caller escapes it before a terminal: a log file is data)."""
    if "capture_secrets" not in header and "redaction" not in header:
        return None
    scheme = str(header.get("redaction") or "none")[:_NOTE_FIELD]  # (a log is data: bounded)
    key = str(header.get("redaction_key_id") or "")[:_NOTE_FIELD]
    how = f"{scheme}, key {key}" if key else scheme
    if header.get("capture_secrets"):
        text = f"SECRETS CAPTURED in clear (--capture-secrets); the rest redacted ({how})"
    else:
        text = f"secrets redacted ({how})"
    if header.get("capture_bodies"):
        text += "; message bodies captured"
    elif "capture_bodies" in header:
        text += "; message bodies redacted"
    return text


def add_redaction_options(parser: argparse.ArgumentParser | argparse._ArgumentGroup,
                          prefix: str = "") -> None:
    """Add ``--capture-secrets`` and ``--redaction-key FILE`` (help text after ``prefix``)."""
    parser.add_argument("--capture-secrets", action="store_true", default=None,
                        help=f"{prefix}trace authentication material (tickets, passwords, "
                             "cookies) in clear; the log header says so (default: replaced "
                             "by <redacted:hmac:...> tokens)")
    parser.add_argument("--redaction-key", metavar="FILE",
                        help=f"{prefix}key of the redaction tokens (e.g. from head -c 32 "
                             "/dev/urandom), so tokens of several runs correlate (default: "
                             "a random key per run)")


def redactor_from_args(args: argparse.Namespace) -> Redactor:
    """The redactor ``--redaction-key`` asks for: its key file's, else a random key."""
    path = getattr(args, "redaction_key", None)
    return Redactor.from_file(path) if path else Redactor()
