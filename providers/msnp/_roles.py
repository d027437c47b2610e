"""Who is talking: the observed role of a connection and the legacy verb-table class.

The original driver called MSG "client-client" and 22 other verbs
"client-server" from the first three bytes of a chunk. We keep that class
(:func:`legacy_class`) and also observe the connection's actual role from
what both sides say (:class:`RoleTracker`).
"""

from __future__ import annotations

from enum import StrEnum

from providers.msnp._command import Command
from providers.msnp._verbs import LEGACY_CLIENT_SERVER, LEGACY_PEER_TO_PEER

__all__ = ["NOTIFICATION_VERBS", "LegacyClass", "Role", "RoleTracker", "legacy_class"]


class Role(StrEnum):
    """The part a connection plays in an MSN session."""

    DISPATCH = "dispatch"
    NOTIFICATION = "notification"
    SWITCHBOARD = "switchboard"
    DIRECT = "direct"
    UNKNOWN = "unknown"


class LegacyClass(StrEnum):
    """The reference driver's classification, by the first three bytes."""

    CLIENT_SERVER = "client_server"
    PEER_TO_PEER = "peer_to_peer"
    UNKNOWN = "unknown"


def legacy_class(verb: str | bytes) -> LegacyClass:
    """Classify by the first three characters, exactly as the original's table did."""
    word = verb[:3].decode("latin-1") if isinstance(verb, bytes | bytearray) else verb[:3]
    if word in LEGACY_CLIENT_SERVER:
        return LegacyClass.CLIENT_SERVER
    if word in LEGACY_PEER_TO_PEER:
        return LegacyClass.PEER_TO_PEER
    return LegacyClass.UNKNOWN


# The members as plain module globals: ``Role.SWITCHBOARD`` (a class attribute lookup
# through the enum machinery) costs several times more, and the role is asked per command.
_DISPATCH, _NOTIFICATION, _SWITCHBOARD, _DIRECT, _UNKNOWN = (
    Role.DISPATCH, Role.NOTIFICATION, Role.SWITCHBOARD, Role.DIRECT, Role.UNKNOWN)

_SWITCHBOARD_VERBS = frozenset({"ANS", "CAL", "JOI", "IRO"})
_NOTIFICATION_VERBS = frozenset(
    {
        "SYN",
        "LST",
        "LSG",
        "GTC",
        "BLP",
        "PRP",
        "CHG",
        "ILN",
        "NLN",
        "FLN",
        "UBX",
        "UUX",
        "ADL",
        "RML",
        "ADC",
        "REM",
        "CHL",
        "QRY",
        "RNG",
        "SBS",
        "GCF",
        "NOT",
        "UBN",
        "UUN",
        "PNG",
    }
)
#: Verbs that are evidence of a notification connection (and of nothing else).
NOTIFICATION_VERBS = _NOTIFICATION_VERBS
_DIRECT_VERBS = frozenset({"FIL", "TFR"})
_NS_AUTH = frozenset({"TWN", "MD5", "SSO", "SHA"})


_SWITCHBOARD_ONLY = frozenset({"ACK", "NAK", "BYE"})
_ACKS = frozenset({"U", "N", "A", "D"})


class RoleTracker:
    """Decide a connection's role from the commands seen on it (and an address hint).

    Evidence, strongest first: direct (``VER ... MSNFTP``, FIL/TFR), switchboard
    (ANS/CAL/JOI/IRO/ACK/NAK/BYE, ``USR trid email cookie``, its reply ``USR trid OK
    email nick``, a client's ``MSG trid U|N|A|D len`` or a server's ``MSG email nick
    len`` from anyone but Hotmail: enough to recognise a flow seen in one direction
    only), notification (the second step of a TWN/MD5/SSO login, from either side, or
    a login that succeeds; list and presence verbs), dispatch (an ``XFR NS`` redirect
    without login). Failing all that, the hint from the address book.
    """

    __slots__ = ("_auth_started", "_logged_in", "_seen", "hint")

    def __init__(self, hint: str | None = None) -> None:
        self.hint = Role(hint) if hint else None
        self._seen: set[Role] = set()
        self._auth_started = False
        self._logged_in = False

    @property
    def role(self) -> Role:
        """The best current guess."""
        seen = self._seen
        if seen:
            if _DIRECT in seen:
                return _DIRECT
            if _SWITCHBOARD in seen:
                return _SWITCHBOARD
        if self._logged_in or _NOTIFICATION in seen:
            return _NOTIFICATION
        if _DISPATCH in seen:
            return _DISPATCH
        return self.hint or _UNKNOWN

    def observe(self, command: Command, from_client: bool) -> Role:
        """Take one command into account and return the role guessed now."""
        verb, args = command.verb, command.args
        if verb == "MSG":
            if _switchboard_msg(args, from_client):
                self._seen.add(_SWITCHBOARD)
        elif verb in _SWITCHBOARD_VERBS or verb in _SWITCHBOARD_ONLY:
            self._seen.add(_SWITCHBOARD)
        elif verb in _DIRECT_VERBS or (verb == "VER" and "MSNFTP" in args):
            self._seen.add(_DIRECT)
        elif verb == "USR":
            self._observe_usr(args, from_client)
        elif verb == "XFR" and not from_client and args[:1] == ("NS",):
            self._seen.add(_DISPATCH)
        elif verb in _NOTIFICATION_VERBS or (verb == "XFR" and args[:1] == ("SB",)):
            self._seen.add(_NOTIFICATION)
        return self.role

    def _observe_usr(self, args: tuple[str, ...], from_client: bool) -> None:
        if args[:1] and args[0] in _NS_AUTH:
            self._auth_started = True
            if args[1:2] == ("S",):  # the second step: a dispatch server redirects before
                self._seen.add(_NOTIFICATION)
        elif from_client:
            if len(args) == 2 and "@" in args[0]:
                self._seen.add(_SWITCHBOARD)  # USR trid email cookie
        elif args[:1] == ("OK",):
            if self._auth_started:
                self._logged_in = True
            elif len(args) == 3 and "@" in args[1]:
                self._seen.add(_SWITCHBOARD)  # USR trid OK email nick (a switchboard's)


def _switchboard_msg(args: tuple[str, ...], from_client: bool) -> bool:
    """Is this MSG one only a switchboard carries? A client's ``MSG trid U|N|A|D len``
    (the TrID was taken off ``args``), or a server's ``MSG email nick len`` from a user
    (a notification server's MSGs come from ``Hotmail``)."""
    if from_client:
        return len(args) == 2 and args[0] in _ACKS
    return len(args) == 3 and args[0] != "Hotmail" and "@" in args[0]
