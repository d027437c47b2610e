"""The interception points: tagged iptables rules that feed the two queues.

For every inspected network, in OUTPUT (matched on the destination) and INPUT
(matched on the source), for TCP, UDP and the non-error ICMP/ICMPv6 types:

1. ``ctstate NEW`` and not yet confirmed -> queue ``q`` (connection layer:
   connect / recv-accept; only a flow's first packets, even for UDP that is
   never answered, whose later packets conntrack still calls NEW),
2. anything else -> queue ``q+1`` (transport layer: every other packet).

The queue rules use ``--queue-bypass`` (fail-open: a dead inspector lets traffic
pass) unless ``fail_closed``: then a queue without a listener drops, so the peer
stays blocked until a clean stop, or a sweep, removes the rules. (A DROP rule
behind a bypassing queue rule would never be reached: bypass means ACCEPT.)

With ``reject``, a first rule REJECTs packets the worker marked
(verdict REPEAT with :data:`REJECT_MARK`). REJECT's own answers must not meet
our queue rules: the RST it sends to a local socket (outbound) comes back
through INPUT on ``lo`` and is let through; the RST it sends to the peer
(inbound) leaves through OUTPUT without a socket (``owner ! --socket-exists``),
unlike every RST of a local socket or of the kernel's TCP stack, and is let
through there. ICMP errors match no queue rule. Every rule carries the netfilter
owner tag ``wfptrace:inspect:<pid>:<start>``, so a later start (or stop) sweeps
the rules of a dead inspector. Rules are added and removed atomically per
family with ``iptables-restore --noflush``. ICMP errors match no rule.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

from providers.netfilter import Backend, RuleError, Tag, detect_backend, sweep_stale

from ._config import InspectConfig

__all__ = ["OWNER", "REJECT_MARK", "InspectRules", "render_rules", "sweep"]

OWNER = "inspect"
REJECT_MARK = 0x1F5E0001
_ICMP_TYPES = {4: ("icmp", "--icmp-type", (8, 0, 13, 14)),
               6: ("ipv6-icmp", "--icmpv6-type", (128, 129))}


@dataclass(frozen=True, slots=True)
class RuleLine:
    """One rule: family (4 or 6), chain and the match/target arguments."""

    family: int
    chain: str
    args: tuple[str, ...]


def _matches(config: InspectConfig, family: int, outbound: bool) -> list[list[str]]:
    """One argument list per protocol condition (ports only for TCP/UDP)."""
    out: list[list[str]] = []
    for proto in config.protocols:
        if proto in ("tcp", "udp"):
            args = ["-p", proto]
            if config.ports:
                ports = ",".join(str(p) for p in config.ports)
                args += ["-m", "multiport", "--dports" if outbound else "--sports", ports]
            out.append(args)
        elif not config.ports:
            name, opt, types = _ICMP_TYPES[family]
            out += [["-p", name, "-m", name if family == 4 else "icmp6", opt, str(t)]
                    for t in types]
    return out


def render_rules(config: InspectConfig, tag: Tag) -> list[RuleLine]:
    """Every rule for ``config`` in chain order (first = top of the chain)."""
    comment = ["-m", "comment", "--comment", tag.comment()]
    bypass = () if config.fail_closed else ("--queue-bypass",)
    lines: list[RuleLine] = []
    for net in config.networks:
        fam = net.version
        for chain, outbound in (("OUTPUT", True), ("INPUT", False)):
            addr = ["-d" if outbound else "-s", str(net)]
            if config.reject:
                lines += _reject(fam, chain, addr, comment, outbound)
            conds = _matches(config, fam, outbound)
            for cond in conds:
                lines.append(RuleLine(fam, chain, (*addr, *cond, "-m", "conntrack",
                                                   "--ctstate", "NEW", "!", "--ctstatus",
                                                   "CONFIRMED", *comment, "-j",
                                                   "NFQUEUE", "--queue-num",
                                                   str(config.queue), *bypass)))
                lines.append(RuleLine(fam, chain, (*addr, *cond, *comment, "-j", "NFQUEUE",
                                                   "--queue-num", str(config.queue + 1),
                                                   *bypass)))
    return lines


def _reject(fam: int, chain: str, addr: list[str], comment: list[str],
            outbound: bool) -> list[RuleLine]:
    """REJECT what the worker marked; in INPUT, let our own loopback RSTs reach the socket."""
    mark = ["-m", "mark", "--mark", hex(REJECT_MARK)]
    unreach = "icmp-port-unreachable" if fam == 4 else "icmp6-port-unreachable"
    rst = ("-p", "tcp", "--tcp-flags", "RST", "RST")
    own = ("-m", "owner", "!", "--socket-exists") if outbound else ("-i", "lo")
    own_rst = [RuleLine(fam, chain, (*addr, *own, *rst, *comment, "-j", "ACCEPT"))]
    return [*own_rst,
            RuleLine(fam, chain, (*addr, "-p", "tcp", *mark, *comment, "-j", "REJECT",
                                  "--reject-with", "tcp-reset")),
            RuleLine(fam, chain, (*addr, *mark, *comment, "-j", "REJECT", "--reject-with",
                                  unreach))]


def _restore_binary(backend: Backend, family: int) -> str:
    flavour = "legacy" if backend is Backend.IPTABLES_LEGACY else "nft"
    exe = f"{'ip6tables' if family == 6 else 'iptables'}-{flavour}-restore"
    if shutil.which(exe) is None:
        raise RuleError(f"{exe} is not installed")
    return exe


def _restore(exe: str, body: Sequence[str]) -> None:
    text = "*filter\n" + "".join(line + "\n" for line in body) + "COMMIT\n"
    res = subprocess.run([exe, "-w", "--noflush"], input=text, capture_output=True,
                         text=True, timeout=30)
    if res.returncode != 0:
        raise RuleError(f"{exe}: {res.stderr.strip() or res.returncode}")


def _queue_hits(exe: str, tag: str) -> int:
    """Packets that met our NFQUEUE rules (``*-save -c`` counters of the tagged rules)."""
    res = subprocess.run([exe.replace("-restore", "-save"), "-c", "-t", "filter"],
                         capture_output=True, text=True, timeout=30)
    if res.returncode != 0:
        raise RuleError(f"{exe}: {res.stderr.strip() or res.returncode}")
    total = 0
    for line in res.stdout.splitlines():
        if line.startswith("[") and tag in line and "-j NFQUEUE" in line:
            total += int(line[1:line.index(":")])
    return total


def _nft_tables() -> set[str] | None:
    """``family name`` of every nft table here (None without the nft tool)."""
    if shutil.which("nft") is None:
        return None
    res = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True, timeout=30)
    if res.returncode != 0:
        return None
    return {" ".join(line.split()[1:3]) for line in res.stdout.splitlines()
            if line.startswith("table ")}


def _drop_if_empty(exe: str, table: str) -> None:
    """Delete the nft table iptables-nft made for us if it holds no rule and no chain of
    its own now (the base chains only)."""
    res = subprocess.run([exe.replace("-restore", "-save"), "-t", "filter"],
                         capture_output=True, text=True, timeout=30)
    lines = res.stdout.splitlines()
    if res.returncode != 0 or any(line.startswith("-A") for line in lines):
        return
    if any(line.startswith(":") and line.split()[0][1:] not in ("INPUT", "FORWARD", "OUTPUT")
           for line in lines):
        return
    subprocess.run(["nft", "delete", "table", *table.split()], capture_output=True,
                   timeout=30)


def _quote(args: Sequence[str]) -> str:
    return " ".join(f'"{a}"' if " " in a or ":" in a else a for a in args)


def sweep() -> int:
    """Remove the rules of inspectors that died (crash, SIGKILL); return the count."""
    return sweep_stale(OWNER)


class InspectRules:
    """Install the rules for a configuration; remove them (idempotent)."""

    def __init__(self, config: InspectConfig, backend: Backend | None = None) -> None:
        self.config = config
        self.tag = Tag.mine(OWNER)
        found = backend or detect_backend()
        #: The NFQUEUE target needs iptables; nft's own queue is used through iptables-nft.
        self.backend = Backend.IPTABLES_NFT if found is Backend.NFTABLES else found
        self.lines = render_rules(config, self.tag)
        self.installed = False
        #: Stale rules swept before installing.
        self.swept = 0
        self._tables_before: set[str] | None = None

    def _by_family(self) -> dict[int, list[RuleLine]]:
        fams: dict[int, list[RuleLine]] = {}
        for line in self.lines:
            fams.setdefault(line.family, []).append(line)
        return fams

    def install(self) -> None:
        """Sweep stale rules, then insert ours at the top of each chain, atomically."""
        self.swept = sweep()
        if self.backend is Backend.IPTABLES_NFT:
            self._tables_before = _nft_tables()
        done: list[int] = []
        try:
            for fam, lines in self._by_family().items():
                pos: dict[str, int] = {}
                body = []
                for line in lines:
                    pos[line.chain] = pos.get(line.chain, 0) + 1
                    body.append(f"-I {line.chain} {pos[line.chain]} {_quote(line.args)}")
                _restore(_restore_binary(self.backend, fam), body)
                done.append(fam)
        except BaseException:
            self._remove(done)
            self._drop_made_tables()
            raise
        self.installed = True

    def _remove(self, families: Sequence[int]) -> None:
        errors = []
        by_fam = self._by_family()
        for fam in families:
            exe = _restore_binary(self.backend, fam)
            body = [f"-D {line.chain} {_quote(line.args)}" for line in by_fam[fam]]
            try:
                _restore(exe, body)
            except RuleError as exc:
                errors.append(str(exc))
        if errors:
            raise RuleError("; ".join(errors))

    def queue_hits(self) -> int:
        """Packets our queue rules sent to the queues (queued or let through when full)."""
        return sum(_queue_hits(_restore_binary(self.backend, fam), self.tag.comment())
                   for fam in self._by_family())

    def remove(self) -> None:
        """Remove every rule of ours (all families), and a filter table that only
        holding them made (iptables-nft); a no-op when not installed."""
        if self.installed:
            self.installed = False
            self._remove(list(self._by_family()))
            self._drop_made_tables()

    def _drop_made_tables(self) -> None:
        before = self._tables_before
        if before is None:
            return
        for fam in self._by_family():
            table = "ip filter" if fam == 4 else "ip6 filter"
            if table not in before:
                _drop_if_empty(_restore_binary(self.backend, fam), table)
