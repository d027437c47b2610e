"""The scripted session: three users log in, chat on one switchboard, and leave.

Alice, Bob and Carol each log in through the dispatch server (VER/CVR/USR,
XFR NS redirect), sync their lists and go online (MSNP8: SYN with CHG pipelined
behind it, so the sync's ``LSG 6 ...`` line shares a number with the pending
``CHG 6``; MSNP15: ADL and UUX). Alice asks for a switchboard
(XFR SB), calls Bob and Carol (CAL, RNG, ANS, IRO, JOI); they type, chat
(one long UTF-8 message written in small pieces), Alice sends a file-transfer
invitation and an MSNSLP INVITE, changes presence, and everyone leaves (BYE,
OUT, FLN). Steps wait on what was received, so per-connection order is fixed.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from samples.msnsim._client import Connection, Transcript
from samples.msnsim._server import ServerAddresses
from samples.msnsim._wire import SimCommand

__all__ = ["ACCOUNTS", "LONG_TEXT", "MsnUser", "run_scenario"]

ACCOUNTS = {
    "alice@sim.test": "Alice Liddell",
    "bob@sim.test": "Bob",
    "carol@sim.test": "Carol Zoë",
}
LONG_TEXT = (
    "Here is the long one, with accents and scripts: Grüße aus Köln, ¡hola!, "
    "こんにちは世界, Привет мир, 🙂🎉. " * 12
).strip()
_TEXT_HEAD = (
    b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n"
    b"X-MMS-IM-Format: FN=Segoe%20UI; EF=; CO=0; CS=1; PF=0\r\n\r\n"
)


def _typing(email: str) -> bytes:
    return (
        b"MIME-Version: 1.0\r\nContent-Type: text/x-msmsgscontrol\r\n"
        b"TypingUser: %s\r\n\r\n\r\n" % email.encode()
    )


def _invite(cookie: int) -> bytes:
    body = (
        "Application-Name: File Transfer\r\n"
        "Application-GUID: {5D3E02AB-6190-11d3-BBBB-00C04F795683}\r\n"
        f"Invitation-Command: INVITE\r\nInvitation-Cookie: {cookie}\r\n"
        "Application-File: notes.txt\r\nApplication-FileSize: 1024\r\n"
        "Connectivity: Y\r\nIP-Address: 127.0.0.1\r\nPort: 6891\r\n\r\n"
    )
    return (
        b"MIME-Version: 1.0\r\nContent-Type: text/x-msmsgsinvite; charset=UTF-8\r\n\r\n"
        + body.encode()
    )


def _slp_invite(sender: str, dest: str) -> bytes:
    slp_body = (
        b"EUF-GUID: {5D3E02AB-6190-11D3-BBBB-00C04F795683}\r\nSessionID: 7\r\nAppID: 2\r\n"
        b"IPv4Internal-Addrs: 127.0.0.1\r\nIPv4Internal-Port: 6892\r\n\r\n\x00"
    )
    slp = (
        f"INVITE MSNMSGR:{dest} MSNSLP/1.0\r\nTo: <msnmsgr:{dest}>\r\nFrom: <msnmsgr:{sender}>\r\n"
        "Via: MSNSLP/1.0/TLP ;branch={A0D624A6-6C0C-4283-A9E0-BC97B4B46D32}\r\nCSeq: 0\r\n"
        "Call-ID: {BE4C8CBA-A1F4-4A5E-B9E1-CB2F9C3E2F9A}\r\nMax-Forwards: 0\r\n"
        "Content-Type: application/x-msnmsgr-sessionreqbody\r\n"
        f"Content-Length: {len(slp_body)}\r\n\r\n"
    ).encode() + slp_body
    header = struct.pack("<IIQQIIIIQ", 0, 1000, 0, len(slp), len(slp), 0, 1234, 0, 0)
    return (
        (
            b"MIME-Version: 1.0\r\nContent-Type: application/x-msnmsgrp2p\r\n"
            b"P2P-Dest: %s\r\n\r\n" % dest.encode()
        )
        + header
        + slp
        + b"\x00\x00\x00\x00"
    )


def _is_text_from(sender: str) -> Callable[[SimCommand], bool]:
    return lambda c: c.args[:1] == [sender] and b"text/plain" in (c.payload or b"")


@dataclass
class MsnUser:
    """One simulated user and its connections."""

    transcript: Transcript
    email: str
    addresses: ServerAddresses
    dialect: str = "MSNP8"
    ns: Connection | None = None
    sb: Connection | None = None
    _count: dict[str, int] = field(default_factory=dict)

    def _conn(self, role: str) -> Connection:
        n = self._count[role] = self._count.get(role, 0) + 1
        name = self.email.split("@")[0]
        return Connection(self.transcript, f"{name}/{role}{n if n > 1 else ''}", role, self.email)

    @property
    def version(self) -> int:
        """The protocol version number (8 for MSNP8)."""
        return int(self.dialect.removeprefix("MSNP"))

    @property
    def _sso(self) -> bool:
        return self.version >= 15  # SSO login since MSNP15, TWN before

    @property
    def _adl(self) -> bool:
        return self.version >= 13  # ADL/UUX since MSNP13; SYN with list lines before

    async def login(self) -> None:
        """Dispatch redirect, then login, list sync and going online at the notification server."""
        a = self.addresses
        ds = await self._conn("dispatch").open(a.host, a.dispatch)
        await self._hello(ds)
        xfr = await ds.expect("XFR")
        await ds.close(say_out=False)
        host, _, port = xfr.args[1].rpartition(":")
        self.ns = ns = await self._conn("notification").open(host.strip("[]"), int(port))
        await self._hello(ns)
        scheme = "SSO" if self._sso else "TWN"
        await ns.expect("USR")
        proof = ["t=simulated-ticket", "c2ltdWxhdG9y"] if self._sso else ["t=simulated-ticket&p="]
        await ns.send("USR", [scheme, "S", *proof])
        await ns.expect("USR", lambda c: c.args[:1] == ["OK"])
        await self._sync(ns)

    async def _hello(self, conn: Connection) -> None:
        versions = (
            [self.dialect, "CVR0"] if self.version <= 8
            else [self.dialect, f"MSNP{self.version - 1}", "CVR0"]
        )
        await conn.send("VER", versions)
        await conn.expect("VER")
        await conn.send(
            "CVR", ["0x0409", "winnt", "5.1", "i386", "MSNMSGR", "8.5.1288", "msmsgs", self.email]
        )
        await conn.expect("CVR")
        await conn.send("USR", ["SSO" if self._sso else "TWN", "I", self.email])

    async def _sync(self, ns: Connection) -> None:
        if self._adl:
            contacts = "".join(
                f'<c n="{e.split("@")[0]}" l="3" t="1"/>' for e in ACCOUNTS if e != self.email
            )
            await ns.send("ADL", [], f'<ml l="1"><d n="sim.test">{contacts}</d></ml>'.encode())
            await ns.expect("ADL")
            await ns.send(
                "UUX", [], b"<Data><PSM>simulating</PSM><CurrentMedia></CurrentMedia></Data>"
            )
            await ns.expect("UUX")
            await ns.send("CHG", ["NLN", "2789003324", "0"])
        else:  # MSNP8-9: SYN trid list-version, with CHG pipelined behind it
            await ns.send("SYN", ["0"])
            await ns.send("CHG", ["NLN", "268435492"])
            await ns.expect("SYN")
        await ns.expect("CHG")

    async def page(self, email: str) -> None:
        """Page a contact's mobile device (PAG until MSNP8, PGD in MSNP9-12; a payload
        command with no positive reply), then PNG: the QNG shows the server read on."""
        assert self.ns is not None
        text = b'<TEXT xml:space="preserve" enc="utf-8">Call me: PNG\r\nOUT\r\n</TEXT>'
        if self.version <= 8:
            await self.ns.send("PAG", [email], text)
        elif self.version <= 12:
            await self.ns.send("PGD", [email, "1"], text)
        else:
            return
        await self.ns.send("PNG", [], trid=False)
        await self.ns.expect("QNG")

    async def open_switchboard(self) -> Connection:
        """XFR SB at the notification server, then USR with the cookie at the switchboard."""
        assert self.ns is not None
        await self.ns.send("XFR", ["SB"])
        xfr = await self.ns.expect("XFR")
        host, _, port = xfr.args[1].rpartition(":")
        self.sb = sb = await self._conn("switchboard").open(host.strip("[]"), int(port))
        await sb.send("USR", [self.email, xfr.args[3]])
        await sb.expect("USR")
        return sb

    async def call(self, email: str) -> SimCommand:
        """CAL a contact into the switchboard; returns the RINGING reply."""
        assert self.sb is not None
        await self.sb.send("CAL", [email])
        return await self.sb.expect("CAL")

    async def answer(self) -> Connection:
        """Wait for RNG on the notification server and join that switchboard with ANS."""
        assert self.ns is not None
        rng = await self.ns.expect("RNG")
        host, _, port = rng.args[1].rpartition(":")
        self.sb = sb = await self._conn("switchboard").open(host.strip("[]"), int(port))
        await sb.send("ANS", [self.email, rng.args[3], rng.args[0]])
        await sb.expect("ANS")
        return sb

    async def type_and_say(self, text: str, *, ack: str = "N", piece: int = 0) -> None:
        """A typing notification, then the text message."""
        assert self.sb is not None
        await self.sb.send("MSG", ["U"], _typing(self.email))
        await self.sb.send("MSG", [ack], _TEXT_HEAD + text.encode(), piece=piece)
        if ack == "A":
            await self.sb.expect("ACK")


async def run_scenario(addresses: ServerAddresses, dialect: str = "MSNP8") -> Transcript:
    """Play the whole three-user session against running servers; return the transcript."""
    transcript = Transcript(dialect)
    alice, bob, carol = (MsnUser(transcript, email, addresses, dialect) for email in ACCOUNTS)
    for user in (bob, carol, alice):
        await user.login()
    await alice.page(bob.email)
    sb = await alice.open_switchboard()
    await alice.call(bob.email)
    bob_sb = await bob.answer()
    await sb.expect("JOI")
    await alice.call(carol.email)
    carol_sb = await carol.answer()
    await sb.expect("JOI")
    await bob_sb.expect("JOI")
    await alice.type_and_say("Hi both! Ready for the demo? 👋", ack="A")
    await bob_sb.expect("MSG", _is_text_from(alice.email))
    await carol_sb.expect("MSG", _is_text_from(alice.email))
    await bob.type_and_say("Hey Alice, ready when you are.")
    await carol_sb.expect("MSG", _is_text_from(bob.email))
    await carol.type_and_say(LONG_TEXT, piece=61)
    await sb.expect("MSG", _is_text_from(carol.email))
    await bob_sb.expect("MSG", _is_text_from(carol.email))
    await sb.send("MSG", ["N"], _invite(91827))
    await sb.send("MSG", ["D"], _slp_invite(alice.email, bob.email))
    await bob_sb.expect("MSG", lambda c: b"x-msnmsgrp2p" in (c.payload or b""))
    await carol_sb.expect("MSG", lambda c: b"x-msnmsgrp2p" in (c.payload or b""))
    assert alice.ns is not None and bob.ns is not None and carol.ns is not None
    await alice.ns.send("CHG", ["AWY", "268435492"])
    await alice.ns.expect("CHG")
    await bob.ns.expect("NLN", lambda c: c.args[:2] == ["AWY", alice.email])
    await carol.ns.expect("NLN", lambda c: c.args[:2] == ["AWY", alice.email])
    await carol_sb.close()
    await sb.expect("BYE")
    await bob_sb.expect("BYE")
    await bob_sb.close()
    await sb.expect("BYE")
    await sb.close()
    await carol.ns.close()
    await bob.ns.close()
    await alice.ns.expect("FLN", lambda c: c.args[:1] == [bob.email])
    await alice.ns.close()
    return transcript
