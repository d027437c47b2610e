"""Strict address parsing: one literal, IPv4 first, then IPv6."""

from __future__ import annotations

import ipaddress

import pytest

from providers.inspect import InspectConfigError
from providers.inspect._address import parse_network, parse_remote_address


@pytest.mark.parametrize("text", ["10.0.0.1", "2001:db8::1", "::1"])
def test_literal_addresses_are_accepted(text: str) -> None:
    """IPv4 and IPv6 literals parse to the address they name."""
    assert parse_remote_address(text) == ipaddress.ip_address(text)


def test_ipv4_wins_over_ipv6() -> None:
    """A dotted quad is an IPv4 address, not an IPv6 one."""
    assert parse_remote_address("10.0.0.1").version == 4


@pytest.mark.parametrize("text", ["10.0.0", "10.0.0.01", " 10.0.0.1", "10.0.0.1/32",
                                  "example.org", "fe80::1%eth0", "1.2.3.256", "0x0a000001"])
def test_anything_but_a_literal_is_refused(text: str) -> None:
    """Short, padded, prefixed, scoped, named or hex forms are configuration errors."""
    with pytest.raises(InspectConfigError, match="remote_address"):
        parse_remote_address(text)


@pytest.mark.parametrize("value", [None, "", 17])
def test_missing_address_is_refused_with_a_hint(value: object) -> None:
    """No address at all says so and shows an example."""
    with pytest.raises(InspectConfigError, match="missing"):
        parse_remote_address(value)


def test_networks_accept_prefixes_but_not_host_bits() -> None:
    """The addresses extension takes CIDR prefixes; 10.0.0.1/24 is refused."""
    assert parse_network("10.0.0.0/24") == ipaddress.ip_network("10.0.0.0/24")
    assert parse_network("2001:db8::1") == ipaddress.ip_network("2001:db8::1/128")
    with pytest.raises(InspectConfigError, match="host bits"):
        parse_network("10.0.0.1/24")


@pytest.mark.parametrize(("text", "message"), [
    ("::ffff:10.0.0.1", 'use "10.0.0.1"'),
    ("0.0.0.0", "cannot be a remote peer's address"),
    ("::", "cannot be a remote peer's address"),
    ("224.0.0.1", "cannot be a remote peer's address"),
    ("255.255.255.255", "cannot be a remote peer's address")])
def test_addresses_no_peer_has_are_refused_with_the_reason(text: str, message: str) -> None:
    """IPv4-mapped (never on the wire), unspecified, multicast and broadcast are refused."""
    with pytest.raises(InspectConfigError, match=message):
        parse_remote_address(text)
