"""Process attribution of queued flows, inline and passive."""

from __future__ import annotations

import os
import socket
import statistics
import sys
from pathlib import Path

from providers.netfilter import Attributor, Mode, Outcome
from providers.netfilter._flow import Flow
from tests.harness import Topology
from tests.harness.scenarios import attribution_scenario


def test_short_lived_connections_from_three_executables_are_attributed(
        netns: Topology, tmp_path: Path) -> None:
    """>= 99% of 200 short connections (IPv4 and IPv6) name the executable that made them."""
    result = attribution_scenario(netns, tmp_path, connections=200)
    print(f"attribution {result.correct}/{result.total}, "
          f"median connection {statistics.median(result.durations_ms):.2f} ms")
    assert result.executables >= 3
    assert result.total == 200
    assert result.accuracy >= 0.99, result.wrong[:10]


def test_live_socket_is_attributed_to_this_process(netns: Topology) -> None:
    """A flow whose socket is open resolves to the process and executable holding it."""
    with netns.a.enter():
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        attributor = Attributor()
    with sock, attributor:
        sock.sendto(b"x", (netns.b.ip4, 53))
        flow = Flow(socket.AF_INET, 17, netns.a.ip4, sock.getsockname()[1], netns.b.ip4, 53)
        result = attributor.attribute(flow)
        assert result.outcome is Outcome.ATTRIBUTED
        assert result.process is not None and result.process.pid == os.getpid()
        assert result.exe == os.path.realpath(sys.executable)


def test_passive_lookup_after_close_says_unknown(netns: Topology) -> None:
    """When the socket is gone, passive attribution answers unknown, never a guess."""
    with netns.a.enter():
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        bystander = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        attributor = Attributor(mode=Mode.PASSIVE)
    with bystander, attributor:
        bystander.sendto(b"x", (netns.b.ip4, 53))  # another live socket to the same peer
        sock.sendto(b"x", (netns.b.ip4, 53))
        flow = Flow(socket.AF_INET, 17, netns.a.ip4, sock.getsockname()[1], netns.b.ip4, 53)
        sock.close()
        result = attributor.attribute(flow)
        assert (result.outcome, result.reason, result.process) == \
            (Outcome.UNKNOWN, "no-socket", None)
        assert attributor.stats.no_socket == 1


def test_inbound_flow_is_attributed_to_the_listening_server(netns: Topology) -> None:
    """An inbound first packet (local end is the destination) maps to the listener."""
    with netns.b.enter():
        server = socket.create_server((netns.b.ip4, 8080))
        attributor = Attributor()
    with server, attributor:
        flow = Flow(socket.AF_INET, 6, netns.a.ip4, 40000, netns.b.ip4, 8080)
        result = attributor.attribute(flow, outbound=False)
        assert result.outcome is Outcome.ATTRIBUTED
        assert result.process is not None and result.process.pid == os.getpid()


def test_packet_that_is_not_tcp_or_udp_is_unknown() -> None:
    """Packets without a transport flow (here ICMP) are reported unknown: no-flow."""
    with Attributor() as attributor:
        result = attributor.attribute(None)
        assert (result.outcome, result.reason) == (Outcome.UNKNOWN, "no-flow")


def test_passive_mode_does_not_pin_a_flow_on_its_listener(netns: Topology) -> None:
    """Passively, a flow matching only a TCP listener is unknown, not the listener's owner."""
    with netns.b.enter():
        server = socket.create_server((netns.b.ip4, 8080))
        attributor = Attributor(mode=Mode.PASSIVE)
    with server, attributor:
        flow = Flow(socket.AF_INET, 6, netns.a.ip4, 40000, netns.b.ip4, 8080)
        result = attributor.attribute(flow, outbound=False)
        assert (result.outcome, result.reason) == (Outcome.UNKNOWN, "no-listener")
