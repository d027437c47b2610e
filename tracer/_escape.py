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
# The same class without the backslash, tab, LF and CR, which str.replace escapes first.
_OTHERS = re.compile("[" + _UNSAFE_CLASS.replace("\\\\", "", 1)
                     .replace("\x00-\x1f", "\x00-\x08\x0b\x0c\x0e-\x1f", 1) + "]")


def _escape_char(match: re.Match[str]) -> str:
    n = ord(match.group())
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
    # CR, LF and tab are most of what shows up (the monitor's legacy messages): C speed
    text = text.replace("\\", "\\\\").replace("\r", "\\r").replace("\n", "\\n")
    text = text.replace("\t", "\\t")
    return text if text.isprintable() else _OTHERS.sub(_escape_char, text)

