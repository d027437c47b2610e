"""Fixtures: providers shaped like msnmon and inspect (the names docs/jaeger.md documents),
an embedded hub, and real OTLP receivers on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.tracer.otel.receiver import Receiver
from tracer import Hub, Level, Provider


class Msn:
    """A provider with the event and field names of ``wfptrace-msnmon``."""

    def __init__(self) -> None:
        p = self.provider = Provider("wfptrace-msnmon", keywords=["flow", "session", "message",
                                                                  "client_server"])
        cid = "network.community_id"
        tuple5 = {cid: str, "network.transport": str, "source.ip": str, "source.port": int,
                  "destination.ip": str, "destination.port": int}
        self.flow = p.event(1, "FlowEstablished", Level.INFO, "flow",
                            {**tuple5, "process.executable": str, "process.pid": int},
                            "flow {network.community_id}")
        self.command = p.event(2, "Command", Level.VERBOSE, "client_server",
                               {cid: str, "network.direction": str, "verb": str, "trid": int,
                                "args": str, "payload_len": int, "role": str}, "{verb} {args}")
        self.message = p.event(3, "Message", Level.VERBOSE, "message",
                               {cid: str, "content_type": str, "sender": str,
                                "length": int}, "MSG from {sender}")
        self.login = p.event(4, "Login", Level.INFO, "session",
                             {cid: str, "user": str, "server": str, "redirects": list,
                              "community_ids": list, "event.start": int}, "login {user}")
        self.switchboard = p.event(5, "Switchboard", Level.INFO, "session",
                                   {cid: str, "session_id": str, "participants": list,
                                    "community_ids": list, "event.start": int}, "switchboard")
        self.closed = p.event(6, "FlowClosed", Level.INFO, "flow",
                              {cid: str, "reason": str, "bytes": int}, "closed")
        self.error = p.event(7, "InvalidCommand", Level.WARNING, "client_server",
                             {cid: str, "kind": str}, "invalid command: {kind}")
        self.transaction = p.event(8, "Transaction", Level.VERBOSE, "client_server",
                                   {cid: str, "verb": str, "trid": int,
                                    "latency_ns": int}, "{verb}")

    def open(self, fid: str, port: int = 1863) -> None:
        self.flow.write(fid, "tcp", "10.0.0.2", 50000, "64.4.13.58", port,
                        "/usr/bin/amsn", 4242)

    def cmd(self, fid: str, direction: str, verb: str, trid: int | None, args: str = "",
            role: str = "notification") -> None:
        self.command.write(fid, direction, verb, trid, args, 0, role)


class Inspect:
    """A provider with the event and field names of ``wfptrace-inspect``."""

    def __init__(self) -> None:
        p = self.provider = Provider("wfptrace-inspect", keywords=["connect", "packet", "config"])
        cid = "network.community_id"
        self.pended = p.event(1, "ConnectionPended", Level.INFO, "connect",
                              {cid: str, "network.transport": str, "network.direction": str,
                               "layer": str, "source.ip": str, "source.port": int,
                               "destination.ip": str, "destination.port": int,
                               "process.executable": str, "process.pid": int},
                              "pended {network.community_id}")
        self.verdict = p.event(2, "ConnectionVerdict", Level.INFO, "connect",
                               {cid: str, "verdict": str, "decided_by": str,
                                "latency_us": int}, "{verdict}")
        self.packet = p.event(3, "PacketVerdict", Level.VERBOSE, "packet",
                              {cid: str, "network.direction": str, "size": int, "verdict": str},
                              "{verdict}")
        self.config = p.event(4, "ConfigChanged", Level.INFO, "config",
                              {"remote_address": str, "block": bool}, "config")
        self.closed = p.event(9, "ConnectionClosed", Level.INFO, "connect",
                              {cid: str, "verdict": str, "reason": str, "packets": int},
                              "closed")


@pytest.fixture
def msn() -> Msn:
    return Msn()


@pytest.fixture
def inspect_provider() -> Inspect:
    return Inspect()


@pytest.fixture
def hub(msn: Msn, inspect_provider: Inspect) -> Iterator[Hub]:
    """An embedded hub with both test providers registered."""
    h = Hub(load_installed=False)
    h.register(msn.provider)
    h.register(inspect_provider.provider)
    yield h
    h.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A receiver (start its servers in the test); stopped after."""
    r = Receiver()
    yield r
    r.stop()
