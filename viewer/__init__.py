"""TraceView: the Textual TUI for wfptrace log sessions and live events.

``traceview`` (or ``wfptrace view``) runs :class:`TraceViewApp` on a hub
connection: the embedded hub (``--demo``, ``--replay``), a hub service
(``--hub``), or a saved log file. The decisions panel talks to any
:class:`DecisionSource`.

Names are imported from their modules on first use (PEP 562), so ``traceview FILE``
loads only what opening a log needs before its first rows are painted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tracer._lazy import lazy_exports

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

if not TYPE_CHECKING:  # type checkers read the imports above (and see no other names)
    __getattr__, __dir__ = lazy_exports(__name__, globals(), _LAZY)


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
