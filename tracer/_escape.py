"""Terminal-safe text: every control or invisible format character shown as an escape.

Event data comes from the network (an MSN peer chooses a message's text), so it
must never reach a terminal as is: an ESC starts a control sequence, a CR
overwrites the line, a bidi override reorders what the reader sees. Consumers
that print or draw event text pass it through :func:`escape_text` first.
"""

from __future__ import annotations

import re

__all__ = ["escape_text"]

# Unicode categories Cc (C0, DEL, C1), Cf (format: bidi marks and overrides, zero-width
# characters, tags...), Cs (lone surrogates, which cannot even be encoded) and Zl/Zp
# (line and paragraph separators), as of Unicode 14; a test checks the running
# Python's Unicode database against it. Plus the backslash, so escapes are unambiguous.
_UNSAFE_CLASS = (
    "\\\\\x00-\x1f\x7f-\x9f\xad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e"
    "\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ud800-\udfff\ufeff\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0001\U000e0020-\U000e007f"
)
_UNSAFE = re.compile(f"[{_UNSAFE_CLASS}]")
_NAMED = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape_char(match: re.Match[str]) -> str:
    c = match.group()
    named = _NAMED.get(c)
    if named is not None:
        return named
    n = ord(c)
    if n <= 0xFF:
        return f"\\x{n:02x}"
    return f"\\u{n:04x}" if n <= 0xFFFF else f"\\U{n:08x}"


def escape_text(text: str) -> str:
    """``text`` with control and invisible format characters escaped (``\\x1b``, ``\\r``,
    ``\\u202e``) and backslashes doubled; text without any is returned as is.

    Costs about 50-80 ns for a typical field with nothing to escape (``str.isprintable``
    is the fast check: it is False for every character this escapes).
    """
    if text.isprintable():
        return text.replace("\\", "\\\\") if "\\" in text else text
    return _UNSAFE.sub(_escape_char, text)

