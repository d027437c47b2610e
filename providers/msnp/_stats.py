"""Counters of one MSNP stream parser (a statistics object, as for trace sessions)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

__all__ = ["ParserStats"]


@dataclass(slots=True)
class ParserStats:
    """What one direction's parser has seen: bytes, commands and every kind of error."""

    bytes_in: int = 0
    commands: int = 0
    payload_bytes: int = 0
    http_messages: int = 0
    skipped_bytes: int = 0  # bytes ignored while looking for a command (mid-session start)
    dropped_bytes: int = 0  # bytes ignored after the stream was given up
    decode_errors: int = 0  # lines that were not valid UTF-8 (escaped; bytes kept in raw)
    line_too_long: int = 0
    payload_too_large: int = 0
    invalid_lines: int = 0
    http_errors: int = 0
    over_budget: int = 0  # held bytes dropped because the shared buffer budget was spent

    @property
    def errors(self) -> int:
        """All counted framing errors (decode errors are repairs, budget drops are the
        host's doing: neither counts towards giving a stream up)."""
        return self.line_too_long + self.payload_too_large + self.invalid_lines + self.http_errors

    def as_dict(self) -> dict[str, int]:
        """The counters by name, plus the ``errors`` total."""
        return {**asdict(self), "errors": self.errors}
