"""Session configuration: which providers at which level and keywords, and where to log."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._errors import ConfigError
from ._levels import Level, parse_level
from ._logfile import FileMode
from ._sink import SinkSpec

if TYPE_CHECKING:
    from .otel import OtlpOptions

__all__ = ["ProviderEnable", "SessionConfig", "parse_provider_spec", "validate_session_name"]

_SESSION_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")
MAX_SESSION_NAME = 64
#: Header fields every log has (a session's ``header`` cannot set them).
_HEADER_KEYS = frozenset({"type", "format", "version", "session", "start_time", "start_ns",
                          "host", "pid", "providers", "mode", "max_size", "buffer_size",
                          "buffer_count"})


def validate_session_name(name: str) -> str:
    """Return ``name`` if it is a valid session name, else raise ConfigError."""
    if not name:
        raise ConfigError("session name is empty")
    if len(name) > MAX_SESSION_NAME:
        raise ConfigError(f"session name is longer than {MAX_SESSION_NAME} characters")
    if "/" in name or "\\" in name or name in (".", ".."):
        raise ConfigError(f"session name {name!r} contains a path separator")
    if not _SESSION_RE.match(name):
        raise ConfigError(f"session name {name!r} may use only letters, digits, '_', '.', '-'")
    return name


@dataclass(frozen=True)
class ProviderEnable:
    """One provider's enable settings in a session.

    ``keywords`` are names (``("connect", "packet")``) or ``None`` for all;
    ``match_all`` names keywords that must all be present (ETW MatchAllKeyword).
    ``match_any_mask`` / ``match_all_mask`` may give raw masks instead of names.
    """

    provider: str
    level: Level = Level.VERBOSE
    keywords: tuple[str, ...] | None = None
    match_all: tuple[str, ...] = ()
    match_any_mask: int | None = None
    match_all_mask: int | None = None


@dataclass
class SessionConfig:
    """Everything a session needs to start (ETW's EVENT_TRACE_PROPERTIES)."""

    name: str
    providers: list[ProviderEnable] = field(default_factory=list)
    realtime: bool = False
    file: str | Path | None = None
    mode: FileMode | str = FileMode.SEQUENTIAL
    max_size: int | None = None
    buffer_size: int = 4096
    buffer_count: int = 64
    flush_interval: float = 0.2
    #: OpenTelemetry export (the hub adds an OTLP backend); None = off.
    otlp: OtlpOptions | None = None
    #: Render and write the log file in a forked child process, so that emitting and
    #: rendering run on two cores (for high event rates; needs a log file; sessions
    #: whose hub has user processors render in-process regardless).
    render_worker: bool = False
    #: More sinks (``--sink``): standard output, more files, third-party kinds. ``file``,
    #: ``realtime`` and ``otlp`` above are shorthands for the common three.
    sinks: list[SinkSpec] = field(default_factory=list)
    #: Block producers when the buffers are full instead of dropping (for sessions fed
    #: from a file, e.g. a replay: nothing is lost whatever the load). Live sources keep
    #: drop-and-count: a blocked capture loop would stall the traffic it watches.
    blocking: bool = False
    #: More fields for the log header, saying how the run was made (e.g. what a
    #: provider redacted: :func:`tracer.redaction_header`); the standard ones win.
    header: dict[str, Any] = field(default_factory=dict)

    def sink_specs(self) -> list[SinkSpec]:
        """Every sink of the session, the shorthand fields first; a file sink without
        options of its own takes the session's file mode and max size."""
        out: list[SinkSpec] = []
        if self.file is not None:
            out.append(SinkSpec("file", str(self.file),
                                {**self._file_options(), "render_worker": self.render_worker}))
        if self.realtime:
            out.append(SinkSpec("realtime"))
        if self.otlp is not None:
            out.append(SinkSpec("otlp", None, {"options": self.otlp}))
        for spec in self.sinks:
            if spec.kind == "file" and not spec.options:
                spec = SinkSpec("file", spec.target, self._file_options())
            out.append(spec)
        return out

    def _file_options(self) -> dict[str, object]:
        return {"mode": str(getattr(self.mode, "value", self.mode)), "max_size": self.max_size}

    def validate(self) -> None:
        """Raise ConfigError for any invalid value."""
        validate_session_name(self.name)
        try:
            self.mode = FileMode(self.mode)
        except ValueError:
            raise ConfigError(f"unknown file mode {self.mode!r}: use sequential, circular "
                              "or rotate") from None
        if self.file is None and not self.realtime and self.otlp is None and not self.sinks:
            raise ConfigError("a session needs a sink: a log file, standard output, "
                              "real-time delivery or OTLP export")
        for spec in self.sinks:
            if not isinstance(spec, SinkSpec):
                raise ConfigError(f"bad sink {spec!r}: use SinkSpec or parse_sink_spec()")
            if spec.kind == "file" and not spec.target:
                raise ConfigError("a file sink needs a path: file:PATH")
        if self.render_worker and self.file is None:
            raise ConfigError("a render worker needs a log file")
        if self.mode is not FileMode.SEQUENTIAL and not self.max_size:
            raise ConfigError(f"{self.mode.value} mode needs a max size")
        if self.max_size is not None and self.max_size <= 0:
            raise ConfigError("max size must be positive")
        if not 1 <= self.buffer_size <= 1 << 20:
            raise ConfigError("buffer size must be between 1 and 1048576 events")
        if not 2 <= self.buffer_count <= 1 << 16:
            raise ConfigError("buffer count must be between 2 and 65536")
        if not 0.001 <= self.flush_interval <= 3600:
            raise ConfigError("flush interval must be between 1 ms and 1 hour")
        reserved = _HEADER_KEYS.intersection(self.header)
        if reserved:
            raise ConfigError(f"header fields {', '.join(sorted(reserved))} are the log "
                              "format's own")
        names = [p.provider for p in self.providers]
        if len(set(names)) != len(names):
            raise ConfigError("a provider is listed twice in the session")


def parse_provider_spec(spec: str) -> ProviderEnable:
    """Parse ``NAME[:LEVEL[:KEYWORDS]]`` with keywords as ``a,b`` names or a ``0x..`` mask."""
    parts = spec.split(":")
    if not parts[0] or len(parts) > 3:
        raise ConfigError(f"bad provider spec {spec!r}: use NAME[:LEVEL[:KEYWORDS]]")
    level = parse_level(parts[1]) if len(parts) > 1 and parts[1] else Level.VERBOSE
    if len(parts) < 3 or not parts[2] or parts[2].lower() in ("all", "*"):
        return ProviderEnable(parts[0], level)
    kw = parts[2]
    if kw.lower().startswith("0x"):
        try:
            return ProviderEnable(parts[0], level, match_any_mask=int(kw, 16))
        except ValueError:
            raise ConfigError(f"bad keyword mask {kw!r}") from None
    names = tuple(k.strip() for k in kw.replace("+", ",").split(",") if k.strip())
    return ProviderEnable(parts[0], level, keywords=names)
