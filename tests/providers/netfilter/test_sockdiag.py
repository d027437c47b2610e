"""Exact sock_diag lookups for TCP and UDP, IPv4 and IPv6, in a namespace."""

from __future__ import annotations

import os
import socket

import pytest

from providers.netfilter import SockDiag
from providers.netfilter._flow import IPPROTO_TCP, IPPROTO_UDP
from tests.harness import Topology


def _inode(sock: socket.socket) -> int:
    return os.fstat(sock.fileno()).st_ino


@pytest.mark.parametrize("v6", [False, True], ids=["ipv4", "ipv6"])
def test_tcp_connection_resolves_to_its_socket_inode(netns: Topology, v6: bool) -> None:
    """Both ends of a TCP connection are found by their exact 4-tuple."""
    family = socket.AF_INET6 if v6 else socket.AF_INET
    a_ip, b_ip = (netns.a.ip6, netns.b.ip6) if v6 else (netns.a.ip4, netns.b.ip4)
    with netns.b.enter():
        server = socket.create_server((b_ip, 8080), family=family)
    with netns.a.enter():
        client = socket.create_connection((b_ip, 8080))
        diag_a = SockDiag()
    conn, _ = server.accept()
    with netns.b.enter():
        diag_b = SockDiag()
    with diag_a, diag_b, client, conn, server:
        sport = client.getsockname()[1]
        info = diag_a.lookup(IPPROTO_TCP, family, (a_ip, sport), (b_ip, 8080))
        assert info is not None and info.inode == _inode(client)
        assert info.uid == os.getuid()
        peer = diag_b.lookup(IPPROTO_TCP, family, (b_ip, 8080), (a_ip, sport))
        assert peer is not None and peer.inode == _inode(conn)


def test_tcp_lookup_of_a_new_inbound_flow_finds_the_listener(netns: Topology) -> None:
    """For a flow not yet accepted, the lookup falls back to the listening socket."""
    with netns.b.enter():
        server = socket.create_server((netns.b.ip4, 8080))
        diag = SockDiag()
    with diag, server:
        info = diag.lookup(IPPROTO_TCP, socket.AF_INET, (netns.b.ip4, 8080),
                           (netns.a.ip4, 40000))
        assert info is not None and info.inode == _inode(server)


@pytest.mark.parametrize("v6", [False, True], ids=["ipv4", "ipv6"])
@pytest.mark.parametrize("connected", [False, True], ids=["sendto", "connected"])
def test_udp_sender_resolves_to_its_socket(netns: Topology, v6: bool, connected: bool) -> None:
    """A UDP socket is found from the flow it sends, connected or not."""
    family = socket.AF_INET6 if v6 else socket.AF_INET
    a_ip, b_ip = (netns.a.ip6, netns.b.ip6) if v6 else (netns.a.ip4, netns.b.ip4)
    with netns.a.enter():
        sock = socket.socket(family, socket.SOCK_DGRAM)
        diag = SockDiag()
    with sock, diag:
        if connected:
            sock.connect((b_ip, 5353))
            sock.send(b"q")
        else:
            sock.sendto(b"q", (b_ip, 5353))
        sport = sock.getsockname()[1]
        info = diag.lookup(IPPROTO_UDP, family, (a_ip, sport), (b_ip, 5353))
        assert info is not None and info.inode == _inode(sock)


def test_flow_without_a_socket_is_none(netns: Topology) -> None:
    """A 5-tuple nobody owns yields None rather than an error or a near match."""
    with netns.a.enter():
        diag = SockDiag()
        other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        other.bind((netns.a.ip4, 6000))
    with diag, other:
        for proto in (IPPROTO_TCP, IPPROTO_UDP):
            assert diag.lookup(proto, socket.AF_INET, (netns.a.ip4, 6001),
                               (netns.b.ip4, 53)) is None


def test_lookups_see_only_their_own_namespace(netns: Topology) -> None:
    """A SockDiag created in one namespace does not find sockets of another."""
    with netns.b.enter():
        server = socket.create_server((netns.b.ip4, 8080))
    with netns.a.enter():
        diag = SockDiag()
    with diag, server:
        assert diag.lookup(IPPROTO_TCP, socket.AF_INET, (netns.b.ip4, 8080),
                           (netns.a.ip4, 40000)) is None


def test_non_tcp_udp_protocols_are_not_looked_up() -> None:
    """Other protocols answer None without asking the kernel."""
    with SockDiag() as diag:
        assert diag.lookup(1, socket.AF_INET, ("127.0.0.1", 0), ("127.0.0.1", 0)) is None
