"""wfptrace's tracing pipeline: ETW for Python.

Providers declare typed events with levels and keywords; sessions enable providers
and deliver their events to a JSON-lines log file (through structlog) and/or to
real-time subscribers, with bounded buffers and exact loss accounting::

    from tracer import Hub, Level, Provider, ProviderEnable, SessionConfig

    PROVIDER = Provider("my-app", keywords=["net", "disk"])
    CONNECT = PROVIDER.event(1, "Connect", Level.INFO, "net", {"host": str, "port": int},
                             "Connecting to {host}:{port}")

    with Hub() as hub:
        hub.register(PROVIDER)
        hub.start_session(SessionConfig("s1", [ProviderEnable("my-app")], file="s1.jsonl"))
        if CONNECT.enabled:
            CONNECT.write("example.org", 443)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_exports

if TYPE_CHECKING:
    from ._command import run_command
    from ._config import ProviderEnable, SessionConfig, parse_provider_spec, validate_session_name
    from ._dfilter import DisplayFilter, FilterSyntaxError
    from ._errors import (
        ConfigError,
        ControlError,
        LogFormatError,
        LogWriteError,
        NoSuchSessionError,
        SessionError,
        SessionExistsError,
        TooManySessionsError,
        TracerError,
        UnknownKeywordError,
        UnknownProviderError,
    )
    from ._escape import escape_text
    from ._event import LOST_EVENT_NAME, Event
    from ._fmt import format_event, format_json
    from ._hub import Hub
    from ._hubprovider import HUB_PROVIDER
    from ._levels import Level, parse_level
    from ._logfile import FileMode
    from ._logformat import LOG_FORMAT, LOG_VERSION, event_line, header_line
    from ._manifest import EventSchema, Manifest, format_message, format_value
    from ._provider import (
        MAX_SESSIONS,
        ControlCode,
        EnableState,
        EventType,
        Provider,
        provider_guid,
    )
    from ._reader import LogReader, read_log
    from ._realtime import Subscription
    from ._redact import (
        REDACTION_SCHEME,
        Redactor,
        add_redaction_options,
        redaction_header,
        redaction_note,
        redactor_from_args,
    )
    from ._runcli import (
        add_sink_options,
        end_on_closed_output,
        run_summary,
        run_to_end,
        sinks_from_args,
    )
    from ._session import Backend, Session
    from ._sink import (
        Needs,
        Sink,
        SinkBatch,
        SinkContext,
        SinkSpec,
        SinkStats,
        SinkStatsCounter,
        load_sink,
        parse_sink_spec,
        sink_kinds,
    )
    from ._stats import SessionStats
    from ._vocabulary import DIRECTIONS, VOCABULARY, Term, check_fields

# Each name is imported from its module when first used (PEP 562), so a program that
# needs a few of them (TraceView opening a log reads it with LogReader) does not pay
# for structlog, the hub, the sinks' entry points and the display filter at start.
_LAZY: dict[str, str] = {  # module: the names it gives
    "_command": "run_command",
    "_config": "ProviderEnable SessionConfig parse_provider_spec validate_session_name",
    "_dfilter": "DisplayFilter FilterSyntaxError",
    "_errors": "ConfigError ControlError LogFormatError LogWriteError NoSuchSessionError "
               "SessionError SessionExistsError TooManySessionsError TracerError "
               "UnknownKeywordError UnknownProviderError",
    "_escape": "escape_text",
    "_event": "LOST_EVENT_NAME Event",
    "_fmt": "format_event format_json",
    "_hub": "Hub",
    "_hubprovider": "HUB_PROVIDER",
    "_levels": "Level parse_level",
    "_logfile": "FileMode",
    "_logformat": "LOG_FORMAT LOG_VERSION event_line header_line",
    "_manifest": "EventSchema Manifest format_message format_value",
    "_provider": "MAX_SESSIONS ControlCode EnableState EventType Provider provider_guid",
    "_reader": "LogReader read_log",
    "_realtime": "Subscription",
    "_redact": "REDACTION_SCHEME Redactor add_redaction_options redaction_header redaction_note "
               "redactor_from_args",
    "_runcli": "add_sink_options end_on_closed_output run_summary run_to_end sinks_from_args",
    "_session": "Backend Session",
    "_sink": "Needs Sink SinkBatch SinkContext SinkSpec SinkStats SinkStatsCounter load_sink "
             "parse_sink_spec sink_kinds",
    "_stats": "SessionStats",
    "_vocabulary": "DIRECTIONS VOCABULARY Term check_fields",
}

if not TYPE_CHECKING:  # type checkers read the imports above (and see no other names)
    __getattr__, __dir__ = lazy_exports(__name__, globals(), _LAZY)


__all__ = [
    "DIRECTIONS",
    "HUB_PROVIDER",
    "LOG_FORMAT",
    "LOG_VERSION",
    "LOST_EVENT_NAME",
    "MAX_SESSIONS",
    "REDACTION_SCHEME",
    "VOCABULARY",
    "Backend",
    "ConfigError",
    "ControlCode",
    "ControlError",
    "DisplayFilter",
    "EnableState",
    "Event",
    "EventSchema",
    "EventType",
    "FileMode",
    "FilterSyntaxError",
    "Hub",
    "Level",
    "LogFormatError",
    "LogReader",
    "LogWriteError",
    "Manifest",
    "Needs",
    "NoSuchSessionError",
    "Provider",
    "ProviderEnable",
    "Redactor",
    "Session",
    "SessionConfig",
    "SessionError",
    "SessionExistsError",
    "SessionStats",
    "Sink",
    "SinkBatch",
    "SinkContext",
    "SinkSpec",
    "SinkStats",
    "SinkStatsCounter",
    "Subscription",
    "Term",
    "TooManySessionsError",
    "TracerError",
    "UnknownKeywordError",
    "UnknownProviderError",
    "add_redaction_options",
    "add_sink_options",
    "check_fields",
    "end_on_closed_output",
    "escape_text",
    "event_line",
    "format_event",
    "format_json",
    "format_message",
    "format_value",
    "header_line",
    "load_sink",
    "parse_level",
    "parse_provider_spec",
    "parse_sink_spec",
    "provider_guid",
    "read_log",
    "redaction_header",
    "redaction_note",
    "redactor_from_args",
    "run_command",
    "run_summary",
    "run_to_end",
    "sink_kinds",
    "sinks_from_args",
    "validate_session_name",
]
