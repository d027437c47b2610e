"""A small asyncio MSNP server: dispatch, notification and switchboard roles.

Enough of MSNP8 (TWN login, SYN with its second-generation LSG/LST lines,
CHG/ILN/NLN/FLN) and MSNP15 (SSO login, ADL/UUX payloads, UBX, network ids and
client ids in presence and switchboard lines) to give realistic sessions on
loopback, each command in the shape its protocol version has (as the msnp-wiki
command pages document them). Every account is accepted and sees every other
known account as a contact, in group 5 of the seven groups every account has.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import secrets
import socket
from dataclasses import dataclass, field
from urllib.parse import quote

from samples.msnsim._wire import SimCommand, encode, read_command

__all__ = ["MsnServer", "ServerAddresses"]


#: The groups of every account (MSNP8 group ids 0..6); contacts are in group 5, so a
#: sync's "LSG 5 ..." and "LST ... 5" lines carry a number a pending request may share.
GROUPS = ("Other%20Contacts", "Coworkers", "Friends", "Family", "School", "Sim%20Chat", "Games")
CONTACT_GROUP = 5
CLIENT_ID = "268435492"  # MSNP8 client capabilities (MSNC1, multi-packet messaging)


def _modern(dialect: str) -> bool:
    """MSNP13 and later: network ids in presence lines, client ids in switchboard lines."""
    return dialect.startswith("MSNP") and dialect[4:].isdigit() and int(dialect[4:]) >= 13


@dataclass(frozen=True, slots=True)
class ServerAddresses:
    """Where the three roles listen (one host, three ports)."""

    host: str
    dispatch: int
    notification: int
    switchboard: int

    @classmethod
    def from_base(cls, host: str, port_base: int) -> ServerAddresses:
        """dispatch = base, notification = base + 1, switchboard = base + 2."""
        return cls(host, port_base, port_base + 1, port_base + 2)

    def endpoint(self, port: int) -> str:
        """``host:port`` as written in XFR and RNG (IPv6 in brackets)."""
        return f"[{self.host}]:{port}" if ":" in self.host else f"{self.host}:{port}"


@dataclass
class _Peer:
    """One connected client connection and who is logged in on it."""

    writer: asyncio.StreamWriter
    email: str = ""
    name: str = ""
    status: str = "FLN"
    dialect: str = "MSNP8"

    async def send(
        self, verb: str, trid: int | None, args: list[str], payload: bytes | None = None
    ) -> None:
        _, wire = encode(verb, trid, args, payload)
        if self.writer.is_closing():
            return
        self.writer.write(wire)
        with contextlib.suppress(ConnectionError):
            await self.writer.drain()


@dataclass
class _Board:
    """One switchboard session."""

    sid: int
    members: dict[str, _Peer] = field(default_factory=dict)


class MsnServer:
    """All three server roles in one object, sharing presence and switchboard state."""

    def __init__(
        self,
        addresses: ServerAddresses,
        accounts: dict[str, str] | None = None,
        advertise: ServerAddresses | None = None,
    ) -> None:
        self.listen = addresses
        self.addresses = advertise or addresses  # what XFR and RNG announce (a proxy, maybe)
        self.accounts = dict(accounts or {})  # email -> display name
        self._online: dict[str, _Peer] = {}
        self._boards: dict[int, _Board] = {}
        self._cookies: dict[str, tuple[str, int | None]] = {}  # cookie -> (email, board)
        self._ids = itertools.count(11752013)
        self._servers: list[asyncio.Server] = []

    async def start(self) -> None:
        """Listen on the three ports."""
        a = self.listen
        for port, handler in (
            (a.dispatch, self._dispatch),
            (a.notification, self._notification),
            (a.switchboard, self._switchboard),
        ):
            self._servers.append(await asyncio.start_server(self._wrap(handler), a.host, port))

    async def close(self) -> None:
        """Stop listening and drop every connection."""
        for server in self._servers:
            server.close()
        for peer in list(self._online.values()):
            peer.writer.close()
        for server in self._servers:
            await server.wait_closed()

    def _wrap(self, handler):
        async def run(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            sock = writer.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            peer = _Peer(writer)
            try:
                await handler(reader, peer)
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            finally:
                writer.close()

        return run

    def _name(self, email: str) -> str:
        return quote(self.accounts.get(email) or email.split("@")[0].title())

    # -- dispatch ---------------------------------------------------------------------

    async def _dispatch(self, reader: asyncio.StreamReader, peer: _Peer) -> None:
        while (cmd := await read_command(reader)) is not None:
            if cmd.verb == "VER":
                peer.dialect = cmd.args[0]
                await peer.send("VER", cmd.trid, [cmd.args[0]])
            elif cmd.verb == "CVR":
                await peer.send(
                    "CVR",
                    cmd.trid,
                    ["8.5.1288", "8.5.1288", "8.1.0178", "http://msn.test/d", "http://msn.test/i"],
                )
            elif cmd.verb == "USR":
                ns = self.addresses.endpoint(self.addresses.notification)
                here = self.addresses.endpoint(self.addresses.dispatch)
                tail = ["U", "D"] if _modern(peer.dialect) else ["0", here]  # MSNP13+: U D
                await peer.send("XFR", cmd.trid, ["NS", ns, *tail])
                return

    # -- notification -----------------------------------------------------------------

    async def _notification(self, reader: asyncio.StreamReader, peer: _Peer) -> None:
        try:
            while (cmd := await read_command(reader)) is not None:
                if cmd.verb == "OUT":
                    return
                await self._ns_command(peer, cmd)
        finally:
            if peer.email and self._online.get(peer.email) is peer:
                del self._online[peer.email]
                await self._broadcast_presence(peer, "FLN")

    async def _ns_command(self, peer: _Peer, cmd: SimCommand) -> None:
        verb, trid, args = cmd.verb, cmd.trid, cmd.args
        if verb == "VER":
            peer.dialect = args[0]
            await peer.send("VER", trid, [args[0]])
        elif verb == "CVR":
            await peer.send(
                "CVR",
                trid,
                ["8.5.1288", "8.5.1288", "8.1.0178", "http://msn.test/d", "http://msn.test/i"],
            )
        elif verb == "USR":
            await self._login(peer, trid, args)
        elif verb == "SYN":
            await self._sync_lists(peer, trid, args)
        elif verb == "ADL":
            await peer.send("ADL", trid, ["OK"])
        elif verb == "UUX":
            await peer.send("UUX", trid, ["0"])
        elif verb == "CHG":
            await self._change(peer, trid, args)
        elif verb == "XFR":
            cookie = f"{secrets.randbelow(10**9)}.{secrets.randbelow(10**9)}"
            self._cookies[cookie] = (peer.email, None)
            sb = self.addresses.endpoint(self.addresses.switchboard)
            await peer.send("XFR", trid, ["SB", sb, "CKI", cookie])
        elif verb == "PNG":
            await peer.send("QNG", None, ["50"])
        elif verb in ("PAG", "PGD"):
            pass  # paging a mobile device: only a failure would be answered
        else:
            await peer.send("200", trid, [])

    async def _login(self, peer: _Peer, trid: int | None, args: list[str]) -> None:
        scheme, stage = args[0], args[1]
        if stage == "I":
            peer.email = args[2]
            if scheme == "SSO":
                await peer.send("USR", trid, ["SSO", "S", "MBI_KEY_OLD", "c2ltdWxhdG9y"])
            else:
                await peer.send("USR", trid, ["TWN", "S", "ct=1,rver=1,wp=FS_40SEC_0_COMPACT"])
            return
        peer.name = self._name(peer.email)
        self._online[peer.email] = peer
        if scheme == "SSO":
            await peer.send("USR", trid, ["OK", peer.email, "1", "0"])
            profile = b"MIME-Version: 1.0\r\nContent-Type: text/x-msmsgsprofile; charset=UTF-8\r\n"
            await peer.send("MSG", None, ["Hotmail", "Hotmail"], profile + b"\r\n")
        else:
            await peer.send("USR", trid, ["OK", peer.email, peer.name, "1", "0"])

    def _contacts(self, peer: _Peer) -> list[str]:
        return sorted(e for e in self.accounts if e != peer.email)

    async def _sync_lists(self, peer: _Peer, trid: int | None, args: list[str]) -> None:
        """MSNP8-9 SYN: ``SYN trid version lst-count lsg-count``, then GTC, BLP and the
        second-generation list lines ``LSG group-id name 0`` / ``LST email nick lists
        groups``, none with a TrID."""
        contacts = self._contacts(peer)
        await peer.send("SYN", trid, ["95", str(len(contacts)), str(len(GROUPS))])
        await peer.send("GTC", None, ["A"])
        await peer.send("BLP", None, ["AL"])
        for group, name in enumerate(GROUPS):
            await peer.send("LSG", None, [str(group), name, "0"])
        for email in contacts:
            await peer.send("LST", None, [email, self._name(email), "11", str(CONTACT_GROUP)])

    async def _change(self, peer: _Peer, trid: int | None, args: list[str]) -> None:
        first = peer.status == "FLN"
        peer.status = args[0]
        await peer.send("CHG", trid, list(args))
        if first:
            for email in self._contacts(peer):
                other = self._online.get(email)
                if other and other.status != "FLN":
                    await peer.send("ILN", trid, [other.status, *self._presence(peer, other)])
        await self._broadcast_presence(peer, peer.status)

    async def _broadcast_presence(self, peer: _Peer, status: str) -> None:
        for email in self._contacts(peer):
            other = self._online.get(email)
            if other is None or other.status == "FLN":
                continue
            if status == "FLN":
                network = ["1"] if _modern(other.dialect) else []
                await other.send("FLN", None, [peer.email, *network])
            else:
                await other.send("NLN", None, [status, *self._presence(other, peer)])
                if _modern(other.dialect):
                    psm = b"<Data><PSM>at the simulator</PSM><CurrentMedia></CurrentMedia></Data>"
                    await other.send("UBX", None, [peer.email, "1"], psm)

    @staticmethod
    def _presence(viewer: _Peer, who: _Peer) -> list[str]:
        """``email nick client-id`` (MSNP8-12) or ``email network nick client-id`` (MSNP13+)
        of ``who``, as ILN and NLN tell ``viewer``."""
        if _modern(viewer.dialect):
            return [who.email, "1", who.name, CLIENT_ID]
        return [who.email, who.name, CLIENT_ID]

    # -- switchboard ------------------------------------------------------------------

    async def _switchboard(self, reader: asyncio.StreamReader, peer: _Peer) -> None:
        board: _Board | None = None
        try:
            while (cmd := await read_command(reader)) is not None:
                if cmd.verb == "OUT":
                    return
                board = await self._sb_command(peer, board, cmd) or board
        finally:
            if board is not None and board.members.get(peer.email) is peer:
                del board.members[peer.email]
                for other in board.members.values():
                    await other.send("BYE", None, [peer.email])

    async def _sb_command(
        self, peer: _Peer, board: _Board | None, cmd: SimCommand
    ) -> _Board | None:
        verb, trid, args = cmd.verb, cmd.trid, cmd.args
        if verb == "USR":
            peer.email, _ = self._cookies.pop(args[1], (args[0], None))
            peer.name, peer.dialect = self._name(peer.email), self._dialect_of(peer.email)
            board = _Board(next(self._ids))
            self._boards[board.sid] = board
            board.members[peer.email] = peer
            await peer.send("USR", trid, ["OK", peer.email, peer.name])
            return board
        if verb == "ANS":
            return await self._answer(peer, trid, args)
        if board is None:
            await peer.send("911", trid, [])
        elif verb == "CAL":
            await self._call(peer, board, trid, args[0])
        elif verb == "MSG":
            await self._relay(peer, board, trid, args, cmd.payload or b"")
        return None

    async def _call(self, peer: _Peer, board: _Board, trid: int | None, email: str) -> None:
        callee = self._online.get(email)
        if callee is None:
            await peer.send("217", trid, [])
            return
        cookie = f"{secrets.randbelow(10**9)}.{secrets.randbelow(10**9)}"
        self._cookies[cookie] = (email, board.sid)
        await peer.send("CAL", trid, ["RINGING", str(board.sid)])
        sb = self.addresses.endpoint(self.addresses.switchboard)
        extra = ["U", "messenger.msn.com", "1"] if _modern(callee.dialect) else []  # MSNP13+
        await callee.send("RNG", None,
                          [str(board.sid), sb, "CKI", cookie, peer.email, peer.name, *extra])

    async def _answer(self, peer: _Peer, trid: int | None, args: list[str]) -> _Board | None:
        email, cookie = args[0], args[1]
        invited, sid = self._cookies.pop(cookie, (None, None))
        board = self._boards.get(sid) if sid is not None else None
        if board is None or invited != email:
            await peer.send("911", trid, [])
            return None
        peer.email, peer.name, peer.dialect = email, self._name(email), self._dialect_of(email)
        total = len(board.members)
        for index, other in enumerate(board.members.values(), 1):
            await peer.send("IRO", trid, [str(index), str(total), other.email, other.name,
                                          *self._client_id(peer)])
        await peer.send("ANS", trid, ["OK"])
        for other in board.members.values():
            await other.send("JOI", None, [peer.email, peer.name, *self._client_id(other)])
        board.members[email] = peer
        return board

    def _dialect_of(self, email: str) -> str:
        """A switchboard connection has no VER: the dialect its user logged in with."""
        ns = self._online.get(email)
        return ns.dialect if ns is not None else "MSNP8"

    @staticmethod
    def _client_id(viewer: _Peer) -> list[str]:
        """The client id IRO and JOI carry since MSNP12 (none before)."""
        return [CLIENT_ID] if _modern(viewer.dialect) else []

    async def _relay(
        self, peer: _Peer, board: _Board, trid: int | None, args: list[str], payload: bytes
    ) -> None:
        for other in board.members.values():
            if other is not peer:
                await other.send("MSG", None, [peer.email, peer.name], payload)
        if args and args[0] == "A":
            await peer.send("ACK", trid, [])
        elif args and args[0] == "D" and len(board.members) < 2:
            await peer.send("NAK", trid, [])
