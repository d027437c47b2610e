"""What a user may set for OTLP export; unset values come from ``OTEL_*`` variables."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ._mapping import DEFAULT_MAPPING, Mapping

__all__ = ["PROTOCOLS", "OtlpOptions"]

PROTOCOLS = ("grpc", "http/protobuf")


@dataclass
class OtlpOptions:
    """Options of the OpenTelemetry backend; ``None`` means "from the environment".

    ``endpoint`` is the base endpoint as in ``OTEL_EXPORTER_OTLP_ENDPOINT`` (for
    HTTP, ``/v1/traces`` and ``/v1/logs`` are appended); ``timeout`` is in seconds.
    ``service_name`` replaces every provider's service name, ``service_names``
    one provider's. The limits bound memory and the retry effort.
    ``open_span_interval``: a flow still open is exported as a pending span
    ``"<name> (open)"`` when it starts and again every so many seconds while it
    changes (0: only the final span). ``time_shift`` moves every exported time:
    ``"now"`` puts the first event at the present (a replay found under Jaeger's
    "last hour"), a number shifts by that many seconds.
    """

    endpoint: str | None = None
    protocol: str | None = None
    headers: dict[str, str] | None = None
    timeout: float | None = None
    compression: str | None = None
    insecure: bool | None = None
    service_name: str | None = None
    service_names: dict[str, str] = field(default_factory=dict)
    resource_attributes: dict[str, Any] = field(default_factory=dict)
    logs: bool = True
    mapping: Mapping = DEFAULT_MAPPING
    idle_timeout: float = 120.0
    max_span_events: int = 1024
    max_open_flows: int = 65536
    max_queued_events: int = 200_000
    max_queued_requests: int = 64
    max_batch: int = 2048
    schedule_delay: float = 0.5
    retry_initial: float = 0.5
    retry_max: float = 30.0
    retry_budget: float = 120.0
    close_timeout: float = 5.0
    #: The ``OTEL_*`` variables to resolve unset options from, instead of this process's
    #: environment: the command line captures the user's, so that a session exported
    #: by the hub service follows the shell that started it.
    environment: dict[str, str] | None = None
    open_span_interval: float = 10.0
    time_shift: str | float | None = None

    def __post_init__(self) -> None:
        shift = self.time_shift
        if shift is not None and shift != "now":
            try:
                float(shift)
            except (TypeError, ValueError):
                raise ValueError(f"time_shift must be 'now' or seconds, not {shift!r}") from None
