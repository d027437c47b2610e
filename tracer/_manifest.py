"""Provider manifests: the JSON description that lets consumers decode events.

A manifest is generated from a :class:`~tracer.Provider`'s typed definitions and
written into every log file's header, so readers and viewers decode events and
format messages without importing the provider's code (ETW's TMF files).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ._errors import LogFormatError

__all__ = ["EventSchema", "Manifest", "format_message", "format_value"]


class _Missing(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


#: Values used by a template as they are (so format specs such as ``{port:>5}`` work).
_PLAIN = frozenset({str, int, float, bool})


def format_value(value: Any) -> str:
    """A field value as a message shows it: lists ``a, b``, dicts ``k=v, ...``, ``-`` for
    None and empty collections, bytes as UTF-8 text (``0x``-hex if they are not)."""
    if isinstance(value, list | tuple | set | frozenset):
        try:
            return ", ".join(value) or "-"  # the common case: strings
        except TypeError:
            return ", ".join([_nested(v) for v in value])
    if value is None:
        return "-"
    if isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
        try:
            return data.decode() if data else "-"
        except UnicodeDecodeError:
            return "0x" + data.hex()
    if isinstance(value, dict):
        return ", ".join(f"{k}={_nested(v)}" for k, v in value.items()) or "-"
    return str(value)


def _nested(value: Any) -> str:
    """An element of a list or dict: nested collections keep brackets to stay readable."""
    if isinstance(value, list | tuple | set | frozenset):
        return "[" + ", ".join(_nested(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_nested(v)}" for k, v in value.items()) + "}"
    return format_value(value)


#: A template reference to a dotted field name (``{source.ip}``), which str.format
#: would read as an attribute access.
_DOTTED_REF = re.compile(r"(?<!{){(@?[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+)")
_DOT = "\u2024"  # ONE DOT LEADER: never part of a field name


@lru_cache(maxsize=4096)
def _plain_template(template: str) -> str:
    """The template with dotted references spelled as str.format keys."""
    return _DOTTED_REF.sub(lambda m: "{" + m.group(1).replace(".", _DOT), template)


def format_message(template: str, fields: dict[str, Any]) -> str:
    """Format a WPP-like template (``"{source.ip}:{source.port}"``) from event fields,
    never raising.

    Values render with :func:`format_value` (no Python reprs); the result is raw text:
    escape it (``escape_text``) before it reaches a terminal.
    """
    values = _Missing(fields)
    for k, v in fields.items():
        if type(v) not in _PLAIN:
            values[k] = v = format_value(v)
        if "." in k:
            values[k.replace(".", _DOT)] = v
    if "." in template:
        template = _plain_template(template)
    if not template:
        return " ".join(f"{k}={v}" for k, v in values.items())
    try:
        return template.format_map(values)
    except (ValueError, TypeError, IndexError, AttributeError, KeyError):
        return template + " " + " ".join(f"{k}={v}" for k, v in values.items())


@dataclass(frozen=True)
class EventSchema:
    """One event's entry in a manifest."""

    id: int
    name: str
    level: int
    keywords: tuple[str, ...]
    fields: tuple[tuple[str, str], ...]
    template: str
    #: Each field's unit ("" for none), in declared order (older logs declare none).
    units: tuple[str, ...] = ()

    @property
    def field_names(self) -> tuple[str, ...]:
        """The field names in declared order."""
        return tuple(n for n, _ in self.fields)

    def unit(self, name: str) -> str:
        """A field's declared unit ("" if none or unknown)."""
        for (n, _), unit in zip(self.fields, self.units, strict=False):
            if n == name:
                return unit
        return ""

    def declarations(self) -> dict[str, tuple[str, str]]:
        """Field name -> (type, unit), as ``Provider.event`` takes them."""
        units = self.units or ("",) * len(self.fields)
        return {n: (t, u) for (n, t), u in zip(self.fields, units, strict=False)}


@dataclass(frozen=True)
class Manifest:
    """A provider's manifest, parsed from JSON."""

    name: str
    guid: str
    description: str
    keywords: dict[str, int]
    events: dict[str, EventSchema]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        """Parse a manifest dict (as written by ``Provider.manifest()``)."""
        try:
            events = {}
            for e in data.get("events", []):
                schema = EventSchema(
                    int(e["id"]), str(e["name"]), int(e["level"]), tuple(e.get("keywords", ())),
                    tuple((f["name"], f["type"]) for f in e.get("fields", ())),
                    str(e.get("template", "")),
                    tuple(str(f.get("unit", "")) for f in e.get("fields", ())))
                events[schema.name] = schema
            keywords = {k: int(v, 16) if isinstance(v, str) else int(v)
                        for k, v in data.get("keywords", {}).items()}
            return cls(str(data["name"]), str(data.get("guid", "")),
                       str(data.get("description", "")), keywords, events)
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise LogFormatError(f"damaged provider manifest: {exc}") from None

    def to_json(self) -> dict[str, Any]:
        """The manifest as JSON-able data (the inverse of :meth:`from_json`)."""
        return {"name": self.name, "guid": self.guid, "description": self.description,
                "keywords": {n: f"0x{m:x}" for n, m in self.keywords.items()},
                "events": [{"id": e.id, "name": e.name, "level": e.level,
                            "keywords": list(e.keywords),
                            "fields": [{"name": n, "type": t, "unit": e.unit(n)}
                                       for n, t in e.fields],
                            "template": e.template}
                           for e in sorted(self.events.values(), key=lambda e: e.id)]}

    def keyword_mask(self, names: tuple[str, ...] | list[str]) -> int:
        """The mask of keyword names this manifest knows (unknown names are ignored)."""
        mask = 0
        for n in names:
            mask |= self.keywords.get(n, 0)
        return mask
