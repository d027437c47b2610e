"""Server addresses learned from the protocol itself.

``XFR trid NS host:port ...`` names a notification server, ``XFR trid SB
host:port CKI cookie`` and ``RNG sessid host:port CKI ...`` name switchboards,
and invitations inside MSG bodies (``IP-Address``/``Port`` of
text/x-msmsgsinvite, ``IPv4Internal-Addrs``/``IPv4Internal-Port`` and the
external ones of MSNSLP) name direct peer-to-peer endpoints. The monitor uses
this to recognise later connections to those addresses on any port.
"""

from __future__ import annotations

from collections import OrderedDict

import msgspec

from providers.msnp._command import Command
from providers.msnp._message import MsgContent

__all__ = ["AddressBook", "LearnedAddress", "split_host_port"]

_ROLE_BY_XFR = {"NS": "notification", "SB": "switchboard"}


class LearnedAddress(msgspec.Struct, frozen=True, gc=False):
    """A server or peer endpoint announced in the protocol."""

    role: str  # notification, switchboard, direct
    host: str
    port: int
    verb: str  # the command that announced it (XFR, RNG, MSG)
    cookie: str | None = None


def split_host_port(text: str, default_port: int = 1863) -> tuple[str, int] | None:
    """``"1.2.3.4:1863"`` or ``"[::1]:1863"`` to (host, port); None if malformed."""
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    else:
        host, sep, port_text = text.rpartition(":")
        if not sep or ":" in host:
            host, port_text = text, ""
    if (
        not host
        or (port_text and not (port_text.isascii() and port_text.isdigit()))
        or len(port_text) > 5
    ):
        return None
    port = int(port_text) if port_text else default_port
    return (host, port) if 0 < port < 65536 else None


class AddressBook:
    """Remember announced endpoints (bounded, oldest forgotten first) and look them up."""

    def __init__(self, capacity: int = 4096) -> None:
        self.capacity = capacity
        self._known: OrderedDict[tuple[str, int], LearnedAddress] = OrderedDict()

    def __len__(self) -> int:
        return len(self._known)

    def observe(self, command: Command, content: MsgContent | None = None) -> list[LearnedAddress]:
        """Learn from one command (and its parsed MSG content); return what was new."""
        found = self._from_command(command)
        if content is not None:
            found += self._from_content(content)
        for address in found:
            self._remember(address)
        return found

    def role_of(self, host: str, port: int) -> str | None:
        """The role announced for this endpoint, if any."""
        address = self._known.get((host, port))
        return address.role if address else None

    def lookup(self, host: str, port: int) -> LearnedAddress | None:
        """The announcement for this endpoint, if any."""
        return self._known.get((host, port))

    def _remember(self, address: LearnedAddress) -> None:
        key = (address.host, address.port)
        self._known[key] = address
        self._known.move_to_end(key)
        while len(self._known) > self.capacity:
            self._known.popitem(last=False)

    @staticmethod
    def _from_command(command: Command) -> list[LearnedAddress]:
        args = command.args
        if command.verb == "XFR" and len(args) >= 2 and args[0] in _ROLE_BY_XFR:
            endpoint = split_host_port(args[1])
            cookie = args[3] if len(args) >= 4 and args[2] == "CKI" else None
            if endpoint:
                return [LearnedAddress(_ROLE_BY_XFR[args[0]], *endpoint, "XFR", cookie)]
        if command.verb == "RNG" and len(args) >= 2:
            endpoint = split_host_port(args[1])
            cookie = args[3] if len(args) >= 4 else None
            if endpoint:
                return [LearnedAddress("switchboard", *endpoint, "RNG", cookie)]
        return []

    @staticmethod
    def _from_content(content: MsgContent) -> list[LearnedAddress]:
        pairs: list[tuple[str, str]] = []
        if content.invite:
            pairs.append((content.invite.get("ip-address", ""), content.invite.get("port", "")))
        if content.slp:
            body = content.slp.body_headers
            for scope in ("internal", "external"):
                hosts = body.get(f"ipv4{scope}-addrs", "").split()
                port = body.get(f"ipv4{scope}-port", "")
                pairs += [(host, port) for host in hosts]
        found = []
        for host, port in pairs:
            number = int(port) if port.isascii() and port.isdigit() and len(port) <= 5 else 0
            if host and 0 < number < 65536:
                found.append(LearnedAddress("direct", host, number, "MSG"))
        return found
