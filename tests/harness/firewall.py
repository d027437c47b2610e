"""The host firewall as a user writes it, and a probe that tells what it lets through.

:class:`UserFirewall` adds DROP and REJECT rules to ``filter`` INPUT and OUTPUT of
namespace ``a``, appended and inserted, IPv4 and IPv6, each for a port of its
own; :func:`probe` opens one TCP connection per rule (all at once, non-blocking)
plus one on an allowed port, and says which got through. Listeners on every port
run in both namespaces, so a failed connection is the rule's doing.
"""

from __future__ import annotations

import contextlib
import errno
import select
import socket
import time
from dataclasses import dataclass

__all__ = ["ALLOWED", "Listeners", "UserFirewall", "UserRule", "probe"]

#: A port no user rule names: its connections must always get through.
ALLOWED = 18700


@dataclass(frozen=True)
class UserRule:
    """One user rule: ``-A``/``-I`` in ``table`` ``chain``, ``target``, for ``port``."""

    family: int
    chain: str
    how: str
    target: str
    port: int
    table: str = "filter"

    def argv(self) -> list[str]:
        exe = "ip6tables" if self.family == 6 else "iptables"
        target = ["REJECT", "--reject-with", "tcp-reset"] if self.target == "REJECT" \
            else ["DROP"]
        return [exe, "-w", "-t", self.table, "-A" if self.how == "append" else "-I", self.chain,
                "-p", "tcp", "--dport", str(self.port), "-j", *target]


def rule_matrix(first_port: int) -> list[UserRule]:
    """Every combination of chain, append/insert and DROP/REJECT, both families."""
    rules = []
    port = first_port
    for family in (4, 6):
        for chain in ("OUTPUT", "INPUT"):
            for how in ("append", "insert"):
                for target in ("DROP", "REJECT"):
                    rules.append(UserRule(family, chain, how, target, port))
                    port += 1
    return rules


class UserFirewall:
    """The user's rules in namespace ``a``; :meth:`add` some now, others later."""

    def __init__(self, topo) -> None:
        self.topo = topo
        self.rules: list[UserRule] = []

    def add(self, rules: list[UserRule]) -> None:
        for rule in rules:
            self.topo.a.run(rule.argv())
            self.rules.append(rule)

    def save(self) -> str:
        """``iptables-save`` + ``ip6tables-save`` of namespace ``a`` (no comments/dates)."""
        out = []
        for exe in ("iptables-save", "ip6tables-save"):
            text = self.topo.a.run([exe]).stdout
            out += [line for line in text.splitlines() if not line.startswith("#")]
        return "\n".join(out)


class Listeners:
    """TCP listeners on ``ports`` in namespaces ``a`` and ``b``, both families."""

    def __init__(self, topo, ports: list[int]) -> None:
        self.socks: list[socket.socket] = []
        for ns in (topo.a, topo.b):
            with ns.enter():
                for port in ports:
                    for fam, addr in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
                        s = socket.socket(fam, socket.SOCK_STREAM)
                        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                        if fam == socket.AF_INET6:
                            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                        s.bind((addr, port))
                        s.listen(256)
                        self.socks.append(s)

    def drain(self) -> None:
        """Accept and close what is waiting (keeps the backlogs free)."""
        for s in self.socks:
            s.setblocking(False)
            with contextlib.suppress(OSError):
                while True:
                    s.accept()[0].close()

    def close(self) -> None:
        for s in self.socks:
            s.close()


def _start(ns, family: int, addr: str, port: int) -> socket.socket:
    with ns.enter():
        s = socket.socket(socket.AF_INET6 if family == 6 else socket.AF_INET)
    s.setblocking(False)
    err = s.connect_ex((addr, port))
    if err not in (0, errno.EINPROGRESS):
        s.close()
        raise OSError(err, "connect")
    return s


def probe(topo, rules: list[UserRule], timeout: float = 0.6) -> dict[UserRule | int, bool]:
    """Connect once per rule (OUTPUT: a -> b, INPUT: b -> a) and to :data:`ALLOWED` in
    both directions and families; map each rule (or ``ALLOWED*10+family``, and
    ``-(...)`` for the inbound ones) to True if it connected."""
    targets: list[tuple[object, object, int, str, int]] = []
    for r in rules:
        src, dst = (topo.a, topo.b) if r.chain == "OUTPUT" else (topo.b, topo.a)
        targets.append((r, src, r.family, dst.ip6 if r.family == 6 else dst.ip4, r.port))
    for fam in (4, 6):
        targets.append((ALLOWED * 10 + fam, topo.a, fam,
                        topo.b.ip6 if fam == 6 else topo.b.ip4, ALLOWED))
        targets.append((-(ALLOWED * 10 + fam), topo.b, fam,
                        topo.a.ip6 if fam == 6 else topo.a.ip4, ALLOWED))
    pending = {}
    result: dict[UserRule | int, bool] = {}
    for key, ns, fam, addr, port in targets:
        try:
            pending[_start(ns, fam, addr, port)] = key
        except OSError:
            result[key] = False  # type: ignore[index]
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        _, ready, _ = select.select([], list(pending), [], max(0.0, deadline - time.monotonic()))
        for s in ready:
            key = pending.pop(s)
            result[key] = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0  # type: ignore[index]
            s.close()
    for s, key in pending.items():
        result[key] = False  # type: ignore[index]
        s.close()
    return result


def verdicts(result: dict, rules: list[UserRule]) -> tuple[list[UserRule], bool]:
    """The rules that did not block (should be none), and whether every allowed
    connection got through."""
    leaked = [r for r in rules if result.get(r)]
    allowed = all(v for k, v in result.items() if isinstance(k, int))
    return leaked, allowed
