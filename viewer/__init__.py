"""TraceView: the Textual TUI for wfptrace log sessions and live events.

``traceview`` (or ``wfptrace view``) runs :class:`TraceViewApp` on a hub
connection: the embedded hub (``--demo``, ``--replay``), a hub service
(``--hub``), or a saved log file. The decisions panel talks to any
:class:`DecisionSource`.

Names are imported from their modules on first use (PEP 562), so ``traceview FILE``
loads only what opening a log needs before its first rows are painted.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._app import TraceViewApp
    from ._cli import main, register, run
    from ._connection import HubConnection
    from ._decisions import DecisionSource, LocalDecisionSource, PendingDecision, PendingItem
    from ._filter import EventFilter, FieldCondition, FilterError, parse_condition
    from ._ring import DEFAULT_CAPACITY, EventRing

_LAZY: dict[str, str] = {  # module: the names it gives
    "_app": "TraceViewApp",
    "_cli": "main register run",
    "_connection": "HubConnection",
    "_decisions": "DecisionSource LocalDecisionSource PendingDecision PendingItem",
    "_filter": "EventFilter FieldCondition FilterError parse_condition",
    "_ring": "DEFAULT_CAPACITY EventRing",
}
_MODULE_OF = {name: module for module, names in _LAZY.items() for name in names.split()}


if not TYPE_CHECKING:  # type checkers read the imports above (and see no other names)
    def __getattr__(name: str) -> Any:
        """Import ``name`` from its module on first use, then keep it as a module global."""
        module = _MODULE_OF.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
        globals()[name] = value
        return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_MODULE_OF})


__all__ = [
    "DEFAULT_CAPACITY",
    "DecisionSource",
    "EventFilter",
    "EventRing",
    "FieldCondition",
    "FilterError",
    "HubConnection",
    "LocalDecisionSource",
    "PendingDecision",
    "PendingItem",
    "TraceViewApp",
    "main",
    "parse_condition",
    "register",
    "run",
]
