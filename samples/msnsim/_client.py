"""The scripted MSNP client: connections that record every command sent and received.

A :class:`Transcript` is the ground truth for tests: per connection, the
exact commands the client wrote and the commands it read, in order.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from samples.msnsim._wire import SimCommand, encode, read_command

__all__ = ["Connection", "Transcript"]

EXPECT_TIMEOUT = 10.0


@dataclass
class Transcript:
    """Everything the simulated clients did, in the order they did it."""

    dialect: str
    connections: list[dict] = field(default_factory=list)
    commands: list[dict] = field(default_factory=list)

    def record(self, conn: str, direction: str, command: SimCommand) -> None:
        """Append one command (``direction`` is ``sent`` or ``received``)."""
        self.commands.append(
            {"seq": len(self.commands), "conn": conn, "dir": direction, **command.to_json()}
        )

    def for_connection(self, conn: str, direction: str) -> list[dict]:
        """The commands of one connection and direction, in order."""
        return [c for c in self.commands if c["conn"] == conn and c["dir"] == direction]

    def to_json(self) -> dict:
        """The JSON document written next to a capture."""
        return {
            "version": 1,
            "dialect": self.dialect,
            "connections": self.connections,
            "commands": self.commands,
        }

    def save(self, path: Path) -> None:
        """Write the transcript as indented JSON."""
        path.write_text(json.dumps(self.to_json(), indent=1, ensure_ascii=False) + "\n")


class Connection:
    """One client TCP connection to a server role, recording into a transcript."""

    def __init__(self, transcript: Transcript, conn_id: str, role: str, user: str) -> None:
        self.transcript = transcript
        self.id = conn_id
        self.role = role
        self.user = user
        self._trids = itertools.count(1)
        self._inbox: asyncio.Queue[SimCommand | None] = asyncio.Queue()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task | None = None

    async def open(self, host: str, port: int) -> Connection:
        """Connect (TCP_NODELAY, so small writes become separate segments)."""
        self._reader, self._writer = await asyncio.open_connection(host, port)
        sock = self._writer.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        local, remote = sock.getsockname(), sock.getpeername()
        self.transcript.connections.append(
            {
                "id": self.id,
                "user": self.user,
                "role": self.role,
                "client": [local[0], local[1]],
                "server": [remote[0], remote[1]],
            }
        )
        self._task = asyncio.create_task(self._read_loop())
        return self

    async def send(
        self,
        verb: str,
        args: list[str],
        payload: bytes | None = None,
        *,
        trid: bool = True,
        piece: int = 0,
    ) -> SimCommand:
        """Write one command (in ``piece``-byte writes when given) and record it."""
        command, wire = encode(verb, next(self._trids) if trid else None, args, payload)
        assert self._writer is not None
        self.transcript.record(self.id, "sent", command)
        if piece <= 0:
            self._writer.write(wire)
            await self._writer.drain()
            return command
        for start in range(0, len(wire), piece):
            self._writer.write(wire[start : start + piece])
            await self._writer.drain()
            await asyncio.sleep(0.002)
        return command

    async def expect(
        self, verb: str, match: Callable[[SimCommand], bool] | None = None
    ) -> SimCommand:
        """Wait for the next received command with this verb (and matching); skip others."""
        async with asyncio.timeout(EXPECT_TIMEOUT):
            while True:
                command = await self._inbox.get()
                if command is None:
                    raise ConnectionError(f"{self.id}: closed while waiting for {verb}")
                if command.verb == verb and (match is None or match(command)):
                    return command

    async def close(self, *, say_out: bool = True) -> None:
        """Send OUT (optionally), then wait for the server to close and the reader to end."""
        if say_out:
            await self.send("OUT", [], trid=False)
        assert self._writer is not None and self._task is not None
        try:
            async with asyncio.timeout(EXPECT_TIMEOUT):
                await self._task
        finally:
            self._writer.close()

    async def _read_loop(self) -> None:
        assert self._reader is not None
        while (command := await read_command(self._reader)) is not None:
            self.transcript.record(self.id, "received", command)
            await self._inbox.put(command)
        await self._inbox.put(None)
