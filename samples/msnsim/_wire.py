"""The simulator's own MSNP framing: build command bytes and read commands off a stream.

Deliberately independent of ``providers.msnp`` so that tests compare two
implementations: what the simulator meant to send against what the parser saw.
"""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass, field

__all__ = ["SimCommand", "encode", "read_command"]

# verb -> minimum words after the verb for the last one to be the payload length
_PAYLOAD_VERBS = {"MSG": 2, "NOT": 1, "UBX": 2, "UUX": 2, "ADL": 2, "RML": 2, "GCF": 2, "IPG": 1,
                  "PAG": 3, "PGD": 4}
_NO_TRID = frozenset({"JOI", "BYE", "RNG", "NLN", "FLN", "UBX", "NOT", "QNG", "OUT", "IPG"})
# verb -> word counts (after the verb) of shapes whose first word is no TrID: a list sync's
# LSG is "LSG group-id name 0" (MSNP8-9) or "LSG name group-id" (MSNP10+)
_NO_TRID_WORDS = {"LSG": range(2, 6)}
MAX_PAYLOAD = 1 << 20


@dataclass(slots=True)
class SimCommand:
    """One command as the simulator meant it: args include the payload length, if any."""

    verb: str
    trid: int | None
    args: list[str]
    payload: bytes | None = None
    meta: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        """The transcript form (payload as base64 plus its length)."""
        payload = self.payload or b""
        return {
            "verb": self.verb,
            "trid": self.trid,
            "args": list(self.args),
            "payload_len": len(payload),
            "payload_b64": base64.b64encode(payload).decode() if payload else "",
        }


def encode(
    verb: str, trid: int | None, args: list[str], payload: bytes | None = None
) -> tuple[SimCommand, bytes]:
    """Build a command; for payload commands the length is appended to the arguments."""
    words = list(args) + ([str(len(payload))] if payload is not None else [])
    line = " ".join([verb] + ([str(trid)] if trid is not None else []) + words)
    wire = line.encode() + b"\r\n" + (payload or b"")
    return SimCommand(verb, trid, words, payload), wire


async def read_command(reader: asyncio.StreamReader) -> SimCommand | None:
    """Read one command (and its payload); None at end of stream."""
    try:
        line = await reader.readuntil(b"\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    words = line[:-2].decode("utf-8", "replace").split(" ")
    verb, rest = words[0], words[1:]
    trid = None
    if (rest and verb not in _NO_TRID and rest[0].isdigit()
            and len(rest) not in _NO_TRID_WORDS.get(verb, ())):
        trid, rest = int(rest[0]), rest[1:]
    payload = None
    minimum = _PAYLOAD_VERBS.get(verb)
    if minimum is not None and len(words) - 1 >= minimum and words[-1].isdigit():
        size = int(words[-1])
        if size > MAX_PAYLOAD:
            return None
        try:
            payload = await reader.readexactly(size)
        except (asyncio.IncompleteReadError, ConnectionError):
            return None
    return SimCommand(verb, trid, rest, payload)
