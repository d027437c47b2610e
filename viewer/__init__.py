"""TraceView: the Textual TUI for wfptrace log sessions and live events.

``traceview`` (or ``wfptrace view``) runs :class:`TraceViewApp` on a hub
connection: the embedded hub (``--demo``, ``--replay``), a hub service
(``--hub``), or a saved log file. The decisions panel talks to any
:class:`DecisionSource`.
"""

from ._app import TraceViewApp
from ._cli import main, register, run
from ._connection import HubConnection
from ._decisions import DecisionSource, LocalDecisionSource, PendingDecision, PendingItem
from ._filter import EventFilter, FieldCondition, FilterError, parse_condition
from ._ring import DEFAULT_CAPACITY, EventRing

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
