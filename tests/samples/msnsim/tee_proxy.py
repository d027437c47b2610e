"""A tiny TCP proxy for tests that tees every byte it forwards into MSNP parsers."""

from __future__ import annotations

import asyncio
import socket
from collections import defaultdict

from providers.msnp import Command, MsnpStreamParser


class TeeProxy:
    """Forward listen port -> target port on loopback, parsing both directions per connection.

    ``commands[(client_port, "sent" | "received")]`` lists what the parser saw,
    from the client's point of view.
    """

    def __init__(self, host: str, routes: dict[int, int]) -> None:
        self.host = host
        self.routes = routes
        self.commands: dict[tuple[int, str], list[Command]] = defaultdict(list)
        self.parsers: dict[tuple[int, str], MsnpStreamParser] = {}
        self.segments = 0
        self._servers: list[asyncio.Server] = []
        self._pumps: set[asyncio.Task] = set()

    async def start(self) -> None:
        for listen, target in self.routes.items():
            handler = self._handler(target)
            self._servers.append(await asyncio.start_server(handler, self.host, listen))

    async def close(self) -> None:
        for server in self._servers:
            server.close()
        if self._pumps:
            await asyncio.wait(self._pumps, timeout=5)
        for server in self._servers:
            await server.wait_closed()

    def _handler(self, target: int):
        async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            client_port = writer.get_extra_info("peername")[1]
            up_reader, up_writer = await asyncio.open_connection(self.host, target)
            for w in (writer, up_writer):
                w.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for src, dst, direction in (
                (reader, up_writer, "sent"),
                (up_reader, writer, "received"),
            ):
                task = asyncio.create_task(self._pump(src, dst, (client_port, direction)))
                self._pumps.add(task)
                task.add_done_callback(self._pumps.discard)

        return accept

    async def _pump(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, key) -> None:
        parser = self.parsers[key] = MsnpStreamParser()
        try:
            while data := await src.read(65536):
                self.segments += 1
                self.commands[key] += [i for i in parser.feed(data) if isinstance(i, Command)]
                dst.write(data)
                await dst.drain()
        except ConnectionError:
            pass
        finally:
            dst.close()
