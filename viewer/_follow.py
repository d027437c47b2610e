"""Follow one flow across providers: the display filter for an event's Community ID.

Packets, the inspector and the MSN monitor each name the flow of an event by its
Community ID (https://github.com/corelight/community-id-spec), under a field such as
``network.community_id`` or ``flow_id`` (or a list of them, ``flow_ids``). The filter
tests every such field the manifests declare, so one key shows the flow's events of
every provider.
"""

from __future__ import annotations

import re
from typing import Any

from tracer import Event
from tracer._dfilter import FieldTable, quote

__all__ = ["community_id_of", "flow_filter"]

#: Version 1 Community IDs: "1:" and the base64 of a SHA-1 (28 characters).
_COMMUNITY_ID = re.compile(r"^1:[A-Za-z0-9+/]{27}=$")
_PREFERRED = ("network.community_id", "community_id", "flow_id")


def _is_flow_field(name: str) -> bool:
    last = name.rsplit(".", 1)[-1]
    return last in ("community_id", "flow_id", "flow_ids", "community_ids")


def community_id_of(ev: Event) -> str | None:
    """The Community ID of the event's flow: a flow field's, or any value shaped as one."""
    fields: dict[str, Any] = ev.fields
    for name in _PREFERRED:
        value = fields.get(name)
        if isinstance(value, str) and value:
            return value
    for name, value in fields.items():
        if isinstance(value, str) and (_is_flow_field(name) or _COMMUNITY_ID.match(value)):
            return value
    return None


def flow_filter(community_id: str, table: FieldTable, ev: Event) -> str:
    """A display filter keeping every event of any provider that names this flow."""
    names = sorted(n for n in table.types if _is_flow_field(n))
    names += [n for n, v in ev.fields.items() if v == community_id and n not in names]
    value = quote(community_id)
    return " || ".join(f"{n} == {value}" for n in names)
