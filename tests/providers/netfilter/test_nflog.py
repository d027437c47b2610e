"""NFLOG: passive copies of whole packets, and every lost copy counted, never waited for."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

from providers.netfilter import MAX_COPY, NfLog, RuleLine, RuleSet, Tag
from providers.packets import LINKTYPE_RAW, Pipeline

PORT = 18650
GROUP = 23


def _log_rules(ns, chain_dev: str | None = None) -> RuleSet:
    tag = Tag.mine("nflogtest")
    comment = ("-m", "comment", "--comment", tag.comment())
    lines = [RuleLine(4, chain, ("-p", "tcp", "--dport" if chain == "OUTPUT" else "--sport",
                                 str(PORT), *comment, "-j", "NFLOG", "--nflog-group",
                                 str(GROUP), "--nflog-size", str(MAX_COPY)), "mangle")
             for chain in ("OUTPUT", "INPUT")]
    with ns.enter():
        rules = RuleSet("nflogtest", lines, tag)
        rules.install()
    return rules


def _transfer(client_ns, server_ns, addr: str, nbytes: int) -> float:
    """Send ``nbytes`` from client to server over TCP; the seconds it took."""
    with server_ns.enter():
        srv = socket.create_server((addr, PORT))
    got = []

    def serve() -> None:
        conn, _ = srv.accept()
        n = 0
        while data := conn.recv(1 << 20):
            n += len(data)
        got.append(n)
        conn.close()

    thread = threading.Thread(target=serve)
    thread.start()
    with client_ns.enter():
        cli = socket.create_connection((addr, PORT))
    start = time.monotonic()
    chunk = b"m" * (1 << 20)
    for _ in range(nbytes // len(chunk)):
        cli.sendall(chunk)
    cli.close()
    thread.join(30)
    srv.close()
    assert got == [nbytes]
    return time.monotonic() - start


class _Bytes:
    """A stream consumer of the pipeline: bytes reassembled and lost, per side."""

    provider = None

    def __init__(self) -> None:
        self.data = [0, 0]
        self.gaps = 0

    def on_packet(self, pkt, flow, direction) -> None:
        pass

    def on_flow_end(self, flow, reason) -> None:
        pass

    def on_data(self, flow, side, data) -> None:
        self.data[side] += len(data)

    def on_gap(self, flow, side, nbytes) -> None:
        self.gaps += nbytes

    def on_end(self, flow, side, reason) -> None:
        pass

    def close(self) -> None:
        pass


@contextlib.contextmanager
def _reading(log: NfLog, copies: list) -> Iterator[None]:
    """Read copies into ``copies`` on a thread while the block runs."""
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            got = log.receive()
            copies.extend(got)
            if not got:
                log.wait(0.05)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        yield
    finally:
        stop.set()
        reader.join(5)


def _reassembled(copies) -> _Bytes:
    """The copies through the packet pipeline's reassembler."""
    sink = _Bytes()
    pipeline = Pipeline([sink])  # type: ignore[list-item]
    for c in copies:
        pipeline.frame(LINKTYPE_RAW, time.time_ns(), c.payload, c.wire_len)
    pipeline.end_flows()
    return sink


def test_large_segments_are_copied_whole_over_veth(netns):
    """Over a veth (TSO, GRO), every byte of a 32 MiB transfer is in the copies."""
    with netns.a.enter():
        log = NfLog(GROUP)
    rules = _log_rules(netns.a)
    copies: list = []
    try:
        with _reading(log, copies):
            _transfer(netns.a, netns.b, netns.b.ip4, 32 << 20)
            time.sleep(0.3)
    finally:
        rules.close()
        log.close()
    assert max(len(c.payload) for c in copies) > 1500, "GSO packets are copied unsegmented"
    assert log.stats.lost == 0 and log.stats.truncated == 0
    sink = _reassembled(copies)
    assert sink.data == [32 << 20, 0] and sink.gaps == 0


def test_a_stalled_reader_loses_copies_counted_and_slows_nothing(netns):
    """Not reading at all: the transfer runs at full speed; sequence gaps count copies
    the kernel built but could not deliver (the rule's counter also sees the ones it
    could not even build, which get no sequence number)."""
    with netns.a.enter():
        log = NfLog(GROUP, rcvbuf=256 << 10)
    rules = _log_rules(netns.a)
    try:
        took = _transfer(netns.a, netns.b, netns.b.ip4, 64 << 20)
        received = len(log.receive(1 << 20))
        _transfer(netns.a, netns.b, netns.b.ip4, 1 << 20)  # later copies reveal the gap
        time.sleep(0.2)
        while batch := log.receive(1 << 20):
            received += len(batch)
        matched = rules.counters("NFLOG")
    finally:
        rules.close()
        log.close()
    assert log.stats.lost > 0 and log.stats.enobufs > 0
    assert received + log.stats.lost <= matched and received < matched / 10
    assert took < 5, "a reader that does not read must not slow the flow"


def test_loopback_packets_longer_than_a_copy_are_counted_truncated(netns):
    """On loopback (64 KiB MTU, BIG TCP) segments can be longer than a copy: those are
    counted truncated, and the reassembler counts the missing bytes as gaps."""
    with netns.a.enter():
        log = NfLog(GROUP)
        netns.a.run(["ip", "link", "set", "lo", "up"])
    rules = _log_rules(netns.a)
    copies: list = []
    try:
        with _reading(log, copies):
            _transfer(netns.a, netns.a, "127.0.0.1", 16 << 20)
            time.sleep(0.3)
    finally:
        rules.close()
        log.close()
    sink = _reassembled([c for c in copies if c.hook == 3])  # OUTPUT: each packet once
    assert log.stats.lost == 0
    assert (sink.gaps > 0) == (log.stats.truncated > 0)
    assert (16 << 20) - MAX_COPY < sink.data[0] + sink.gaps <= 16 << 20, \
        "every byte is either reassembled or counted in a gap (the last one may end unseen)"
    if not log.stats.truncated:
        assert sink.data[0] == 16 << 20
