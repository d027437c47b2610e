"""Data as the screen shows it: escaped (:func:`tracer.escape_text`), never read as markup.

Everything the view draws from events, manifests, sessions, file names or error
messages goes through here or through ``escape_text`` directly: a control
character must not reach the terminal, and a ``[`` in data must not become
Rich/Textual markup (or a markup error that ends the app).
"""

from __future__ import annotations

from rich.style import Style
from rich.text import Text

from tracer import escape_text

__all__ = ["safe_text"]


def safe_text(text: object, style: str | Style = "") -> Text:
    """``str(text)`` escaped, as a Rich ``Text`` (which never parses markup)."""
    return Text(escape_text(str(text)), style=style)
