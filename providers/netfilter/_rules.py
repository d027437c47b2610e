"""Firewall rules that send traffic to an NFQUEUE, owned and cleaned up.

Every rule carries its owner's tag (see ``_tags``), so a later start can tell
rules of a dead process (swept) from rules of a live one (kept).
``--queue-bypass`` is on by default: without a consumer, traffic passes
instead of being dropped. Rules go only into the network namespace the
:class:`QueueRules` object was created in (the calling thread's); removal
enters that namespace again if the thread has moved since. Backends and their
detection live in ``_backends``.
"""

from __future__ import annotations

import contextlib
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from ._backends import Backend, Runner, binary, detect_backend, probe
from ._errors import RuleError
from ._tags import Tag

__all__ = ["QueueRule", "QueueRules", "list_tagged", "sweep_stale"]

_OWNER_RE = re.compile(r"^[A-Za-z0-9-]{1,32}$")
_CHAINS = {"PREROUTING": "prerouting", "INPUT": "input", "FORWARD": "forward",
           "OUTPUT": "output", "POSTROUTING": "postrouting"}
_TABLES = {"raw": -300, "mangle": -150, "filter": 0}


@dataclass(frozen=True, slots=True)
class QueueRule:
    """Send matching packets of ``chain`` to queue ``queue_num``.

    ``family``: ``"ipv4"``, ``"ipv6"`` or ``"both"``. ``new_only`` matches
    conntrack state NEW (the first packet of each flow). ``balance`` spreads
    over queues ``queue_num..balance`` (inclusive). ``bypass`` lets packets
    through when no consumer is bound.
    """

    queue_num: int = 0
    chain: str = "OUTPUT"
    family: str = "both"
    protocol: str | None = None
    dport: int | None = None
    sport: int | None = None
    src: str | None = None
    dst: str | None = None
    new_only: bool = False
    bypass: bool = True
    balance: int | None = None
    table: str = "filter"

    def validate(self) -> None:
        """Raise RuleError for values the backends cannot express."""
        if self.chain not in _CHAINS:
            raise RuleError(f"unknown chain {self.chain!r}")
        if self.table not in _TABLES:
            raise RuleError(f"unknown table {self.table!r}")
        if self.family not in ("ipv4", "ipv6", "both"):
            raise RuleError(f"unknown family {self.family!r}")
        if self.protocol not in (None, "tcp", "udp"):
            raise RuleError(f"unsupported protocol {self.protocol!r}")
        if (self.dport or self.sport) and not self.protocol:
            raise RuleError("ports need a protocol")
        if (self.src or self.dst) and self.family == "both":
            raise RuleError("addresses need family ipv4 or ipv6")
        if not 0 <= self.queue_num <= 0xFFFF:
            raise RuleError(f"queue_num out of range: {self.queue_num}")
        if self.balance is not None and not self.queue_num < self.balance <= 0xFFFF:
            raise RuleError("balance must be above queue_num")

    @property
    def families(self) -> tuple[str, ...]:
        """The IP families this rule expands to."""
        return ("ipv4", "ipv6") if self.family == "both" else (self.family,)


# -- rendering --------------------------------------------------------------
def _iptables_args(rule: QueueRule, family: str, tag: Tag) -> list[str]:
    args = ["-t", rule.table, rule.chain]
    if rule.protocol:
        args += ["-p", rule.protocol]
    if rule.src:
        args += ["-s", rule.src]
    if rule.dst:
        args += ["-d", rule.dst]
    if rule.sport:
        args += ["--sport", str(rule.sport)]
    if rule.dport:
        args += ["--dport", str(rule.dport)]
    if rule.new_only:
        args += ["-m", "conntrack", "--ctstate", "NEW"]
    args += ["-m", "comment", "--comment", tag.comment(), "-j", "NFQUEUE"]
    if rule.balance is not None:
        args += ["--queue-balance", f"{rule.queue_num}:{rule.balance}"]
    else:
        args += ["--queue-num", str(rule.queue_num)]
    if rule.bypass:
        args.append("--queue-bypass")
    return args


def _nft_rule(rule: QueueRule, family: str) -> str:
    proto = "ip" if family == "ipv4" else "ip6"
    parts = [f"meta nfproto {family}"]
    if rule.src:
        parts.append(f"{proto} saddr {rule.src}")
    if rule.dst:
        parts.append(f"{proto} daddr {rule.dst}")
    if rule.protocol:
        parts.append(f"meta l4proto {rule.protocol}")
    if rule.sport:
        parts.append(f"th sport {rule.sport}")
    if rule.dport:
        parts.append(f"th dport {rule.dport}")
    if rule.new_only:
        parts.append("ct state new")
    num = (f"{rule.queue_num}-{rule.balance}" if rule.balance is not None
           else str(rule.queue_num))
    parts.append(f"queue num {num}" + (" bypass" if rule.bypass else ""))
    return " ".join(parts)


def _nft_script(rules: Sequence[QueueRule], tag: Tag) -> str:
    chains: dict[tuple[str, str], list[str]] = {}
    for rule in rules:
        key = (rule.table, rule.chain)
        chains.setdefault(key, []).extend(_nft_rule(rule, f) for f in rule.families)
    lines = [f"table inet {tag.table_name()} {{"]
    for (table, chain), body in chains.items():
        lines.append(f" chain {table}_{chain.lower()} {{ type filter hook {_CHAINS[chain]}"
                     f" priority {_TABLES[table]};")
        lines += [f'  {r} comment "{tag.comment()}"' for r in body]
        lines.append(" }")
    lines.append("}")
    return "\n".join(lines) + "\n"


# -- listing and sweeping ---------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Tagged:
    tag: Tag
    delete: tuple[str, ...]


def _list(backend: Backend, run: Runner) -> list[_Tagged]:
    found: list[_Tagged] = []
    if backend is Backend.NFTABLES:
        out = run(["nft", "list", "tables"], check=False).stdout
        for line in out.splitlines():
            parts = line.split()
            tag = Tag.parse(parts[-1]) if len(parts) == 3 else None
            if tag and parts[-1] == tag.table_name():
                found.append(_Tagged(tag, ("nft", "delete", "table", parts[1], parts[2])))
        return found
    for family in ("ipv4", "ipv6"):
        exe = binary(backend, family)
        for table in _TABLES:
            res = run([exe, "-w", "-t", table, "-S"], check=False)
            for line in res.stdout.splitlines():
                tag = Tag.parse(line) if line.startswith("-A ") else None
                if tag:
                    spec = shlex.split(line)[1:]
                    found.append(_Tagged(tag, (exe, "-w", "-t", table, "-D", *spec)))
    return found


def list_tagged(backend: Backend | None = None) -> list[Tag]:
    """Tags of every wfptrace rule (or nft table) in this namespace."""
    run = Runner()
    try:
        return [t.tag for t in _list(backend or detect_backend(run), run)]
    finally:
        run.close()


def _sweep(backend: Backend, run: Runner, owner: str | None) -> int:
    removed = 0
    for item in _list(backend, run):
        mine = owner is None or item.tag.owner == owner
        if mine and not item.tag.alive and run(item.delete, check=False).returncode == 0:
            removed += 1
    return removed


def _may_hold_rules(backend: Backend) -> bool:
    """False for legacy iptables when no legacy table exists in this namespace: nothing
    to sweep there, and probing or listing would create the tables (left behind)."""
    if backend is not Backend.IPTABLES_LEGACY:
        return True
    for name in ("ip_tables_names", "ip6_tables_names"):
        try:
            with open(f"/proc/thread-self/net/{name}") as f:
                if f.read().strip():
                    return True
        except OSError:
            continue
    return False


def sweep_stale(owner: str | None = None, backend: Backend | None = None) -> int:
    """Remove rules left by dead processes (of ``owner``, or anyone); return the count."""
    run = Runner()
    try:
        backends = [backend] if backend else [b for b in Backend if _may_hold_rules(b)
                                              and probe(b, run)]
        return sum(_sweep(b, run, owner) for b in backends)
    finally:
        run.close()


# -- the owner-facing object ------------------------------------------------
class QueueRules:
    """Install queue rules for ``owner`` now; remove them on exit.

    Stale rules of dead processes are swept before installing. Use::

        with QueueRules("inspect", [QueueRule(queue_num=3, protocol="tcp")]) as rules:
            ...
    """

    def __init__(self, owner: str, rules: Sequence[QueueRule],
                 backend: Backend | None = None, sweep: bool = True) -> None:
        if not _OWNER_RE.match(owner):
            raise RuleError(f"owner must match {_OWNER_RE.pattern}: {owner!r}")
        for rule in rules:
            rule.validate()
        self.owner = owner
        self.rules = tuple(rules)
        self.tag = Tag.mine(owner)
        self._sweep = sweep
        self._undo: list[list[str]] = []
        self._run = Runner()
        try:
            self.backend = backend or detect_backend(self._run)
        except BaseException:
            self._run.close()
            raise
        #: Rules swept at install time (left by dead processes).
        self.swept = 0

    def install(self) -> None:
        """Sweep stale rules, then add ours; on any failure nothing of ours stays."""
        if self._undo:
            return
        if self._sweep:
            self.swept = _sweep(self.backend, self._run, None)
        try:
            if self.backend is Backend.NFTABLES:
                self._install_nft()
            else:
                self._install_iptables()
        except BaseException:
            self.remove()
            raise

    def _install_nft(self) -> None:
        self._run(["nft", "-f", "-"], _nft_script(self.rules, self.tag))
        self._undo.append(["nft", "delete", "table", "inet", self.tag.table_name()])

    def _install_iptables(self) -> None:
        # Insert in reverse so the rules end up at the top in the order given.
        for rule in reversed(self.rules):
            for family in rule.families:
                exe = binary(self.backend, family)
                args = _iptables_args(rule, family, self.tag)
                self._run([exe, "-w", *args[:2], "-I", *args[2:]])
                self._undo.append([exe, "-w", *args[:2], "-D", *args[2:]])

    def remove(self) -> None:
        """Remove our rules (best effort, every one is tried); idempotent."""
        errors = []
        while self._undo:
            argv = self._undo.pop()
            res = self._run(argv, check=False)
            if res.returncode != 0:
                errors.append(res.stderr.strip())
        if errors:
            raise RuleError("; ".join(errors))

    def close(self) -> None:
        """Remove the rules and release the namespace handle."""
        try:
            self.remove()
        finally:
            self._run.close()

    def __enter__(self) -> QueueRules:
        self.install()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            if self._undo:
                self.close()
