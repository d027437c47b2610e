"""Process attribution of a flow: sock_diag socket -> inode -> pid -> executable.

Inline mode is for a flow whose first packet is held in the queue: the socket
must exist, so the answer is exact. Passive mode (capture, nothing held) may
arrive after the socket is gone; both modes answer ``unknown`` instead of
guessing (no port-only matching, no "most likely" process).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from ._errors import NetlinkError
from ._flow import Flow, parse_flow
from ._packet import Hook, Packet
from ._procinfo import ProcessInfo, SocketOwners
from ._sockdiag import SockDiag

__all__ = ["Attribution", "AttributionStats", "Attributor", "Mode", "Outcome"]


class Mode(Enum):
    """Whether the flow's packet is held while we look (inline) or not (passive)."""

    INLINE = "inline"
    PASSIVE = "passive"


class Outcome(Enum):
    """Result kind of one attribution."""

    ATTRIBUTED = "attributed"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Attribution:
    """Who owns a flow; ``process`` is None unless ``outcome`` is ATTRIBUTED.

    ``reason`` says why the answer is unknown: ``no-flow`` (not TCP/UDP),
    ``no-answer`` (the sock_diag request failed or timed out),
    ``no-socket`` (sock_diag found none), ``no-owner`` (socket without an
    inode, e.g. TIME_WAIT), ``no-listener`` (only a TCP listener matched, and
    that is not exact in passive mode: the accepted socket may be gone or
    handed to another process) or ``no-process`` (no process holds the inode).
    """

    outcome: Outcome
    flow: Flow | None
    mode: Mode
    process: ProcessInfo | None = None
    inode: int = 0
    uid: int | None = None
    reason: str = ""

    @property
    def exe(self) -> str | None:
        """Executable path of the owner, None when unknown."""
        return self.process.exe if self.process else None


@dataclass(slots=True)
class AttributionStats:
    """Counters per outcome and reason."""

    lookups: int = 0
    attributed: int = 0
    no_flow: int = 0
    no_answer: int = 0
    no_socket: int = 0
    no_owner: int = 0
    no_listener: int = 0
    no_process: int = 0

    @property
    def unknown(self) -> int:
        """All lookups that ended unknown."""
        return (self.no_flow + self.no_answer + self.no_socket + self.no_owner + self.no_listener
                + self.no_process)


_OUTBOUND_HOOKS = (Hook.LOCAL_OUT, Hook.POST_ROUTING)
TCP_LISTEN = 10


class Attributor:
    """Attributes flows to processes in the namespace it was created in.

    Inline mode trusts a TCP listener match (a held inbound SYN has no socket
    of its own yet); passive mode does not. Only the inode->pid step is
    cached (and re-validated), never a flow's answer: a 5-tuple can be
    reused by another process.
    """

    def __init__(self, mode: Mode = Mode.INLINE, owners: SocketOwners | None = None) -> None:
        self.mode = mode
        self.owners = owners or SocketOwners()
        self.stats = AttributionStats()
        self._diag = SockDiag()

    def attribute_packet(self, pkt: Packet) -> Attribution:
        """Attribute the flow of a queued packet; outbound at OUTPUT/POSTROUTING."""
        flow = parse_flow(pkt.payload)
        return self.attribute(flow, outbound=pkt.hook in _OUTBOUND_HOOKS)

    def attribute(self, flow: Flow | None, outbound: bool = True) -> Attribution:
        """Attribute a flow; ``outbound`` means ``flow.src`` is the local end."""
        self.stats.lookups += 1
        if flow is None:
            return self._unknown(flow, "no-flow")
        local, remote = (flow.src, flow.sport), (flow.dst, flow.dport)
        if not outbound:
            local, remote = remote, local
        try:
            info = self._diag.lookup(flow.protocol, flow.family, local, remote)
        except (OSError, NetlinkError):
            return self._unknown(flow, "no-answer")
        if info is None:
            return self._unknown(flow, "no-socket")
        if info.inode == 0:
            return self._unknown(flow, "no-owner", uid=info.uid)
        if info.state == TCP_LISTEN and self.mode is Mode.PASSIVE:
            return self._unknown(flow, "no-listener", info.inode, info.uid)
        pid = self.owners.pid_of(info.inode, info.uid)
        proc = self.owners.process(pid) if pid is not None else None
        if proc is None:
            return self._unknown(flow, "no-process", inode=info.inode, uid=info.uid)
        self.stats.attributed += 1
        return Attribution(Outcome.ATTRIBUTED, flow, self.mode, proc, info.inode, info.uid)

    def _unknown(self, flow: Flow | None, reason: str, inode: int = 0,
                 uid: int | None = None) -> Attribution:
        field = "no_" + reason.removeprefix("no-")
        setattr(self.stats, field, getattr(self.stats, field) + 1)
        return Attribution(Outcome.UNKNOWN, flow, self.mode, None, inode, uid, reason)

    def close(self) -> None:
        """Close the sock_diag socket."""
        self._diag.close()

    def __enter__(self) -> Attributor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
