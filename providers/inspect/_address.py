"""Strict parsing of the inspected address: one literal, IPv4 first, then IPv6.

As the sample's ``RtlIpv4StringToAddressEx`` / ``RtlIpv6StringToAddressEx`` pair:
no host names, no prefixes, no surrounding blanks. IPv6 scope ids are refused
because a firewall rule cannot match them; so are addresses no peer can have
(``0.0.0.0``, ``::``, multicast, broadcast) and IPv4-mapped IPv6 addresses
(``::ffff:a.b.c.d``: such traffic is IPv4 on the wire, so the message names
the IPv4 address to use).
"""

from __future__ import annotations

import ipaddress

from ._errors import InspectConfigError

__all__ = ["IpAddress", "IpNetwork", "parse_network", "parse_remote_address"]

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_remote_address(text: object, what: str = "remote_address") -> IpAddress:
    """The address ``text`` names; InspectConfigError with the reason otherwise."""
    if not isinstance(text, str) or not text:
        raise InspectConfigError(f"{what} is missing: set it to one IPv4 or IPv6 address "
                                 "(for example \"10.0.0.1\")")
    return _usable(_literal(text, what), text, what)


def _literal(text: str, what: str) -> IpAddress:
    try:
        return ipaddress.IPv4Address(text)
    except ValueError:
        pass
    if "%" in text:
        raise InspectConfigError(f"{what} {text!r}: scoped IPv6 addresses are not supported")
    try:
        return ipaddress.IPv6Address(text)
    except ValueError:
        raise InspectConfigError(f"{what} {text!r} is not a literal IPv4 or IPv6 "
                                 "address") from None


def _usable(addr: IpAddress, text: str, what: str) -> IpAddress:
    """Refuse addresses no remote peer has, and IPv4-mapped IPv6 (never matched)."""
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        raise InspectConfigError(f"{what} {text!r} is an IPv4-mapped IPv6 address, which "
                                 f"never appears on the wire: use \"{addr.ipv4_mapped}\"")
    if addr.is_unspecified or addr.is_multicast or addr == ipaddress.IPv4Address(
            "255.255.255.255"):
        raise InspectConfigError(f"{what} {text!r} cannot be a remote peer's address "
                                 "(unspecified, multicast or broadcast)")
    return addr


def parse_network(text: object) -> IpNetwork:
    """An address or CIDR prefix for the ``addresses`` extension (host bits refused)."""
    if not isinstance(text, str) or not text:
        raise InspectConfigError(f"addresses: {text!r} is not an address or prefix")
    if "/" not in text:
        return ipaddress.ip_network(parse_remote_address(text, "addresses entry"))
    try:
        return ipaddress.ip_network(text, strict=True)
    except ValueError as exc:
        raise InspectConfigError(f"addresses: {text!r}: {exc}") from None
