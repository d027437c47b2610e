"""The interception points: tagged iptables rules that feed the two queues.

For every inspected network, in OUTPUT (matched on the destination) and INPUT
(matched on the source), for TCP, UDP and the non-error ICMP/ICMPv6 types:

1. ``ctstate NEW`` and not yet confirmed -> queue ``q`` (connection layer:
   connect / recv-accept; only a flow's first packets, even for UDP that is
   never answered, whose later packets conntrack still calls NEW),
2. anything else -> queue ``q+1`` (transport layer: every other packet).

The queue rules live in the ``mangle`` table, never in ``filter``: a permitted
packet's ACCEPT ends only the mangle chain, so every rule of the host firewall
(``filter``: DROP, REJECT, anything the user adds before, during or after) still
applies to it, while the inspector runs, after it is killed and after a restart.
They use ``--queue-bypass`` (fail-open: a dead inspector lets traffic pass on to
``filter``) unless ``fail_closed``: then a queue without a listener drops, so the
peer stays blocked until a clean stop, or a sweep, removes the rules.

With ``reject``, the worker marks a packet to refuse (verdict REPEAT with
:data:`REJECT_MARK`): it walks mangle again, where a first rule lets marked
packets past the queue rules, and two rules at the top of ``filter`` REJECT
exactly the marked packets (REJECT exists only in ``filter``; nothing unmarked
matches them). REJECT's own answers must not meet our queue rules: the RST it
sends to a local socket (outbound) comes back through INPUT on ``lo``; the RST it
sends to the peer (inbound) leaves through OUTPUT without a socket (``owner !
--socket-exists``), unlike every RST of a local socket or of the kernel's TCP
stack; both skip our queue rules (in mangle: filter still sees them). ICMP errors
match no queue rule. Every rule carries the netfilter owner tag
``wfptrace:inspect:<pid>:<start>``, so a later start (or stop) sweeps the rules of
a dead inspector. Rules are added and removed atomically per family with
``iptables-restore --noflush`` (:class:`providers.netfilter.RuleSet`).
"""

from __future__ import annotations

from providers.netfilter import Backend, RuleLine, RuleSet, Tag, sweep_stale

from ._config import InspectConfig

__all__ = ["OWNER", "REJECT_MARK", "InspectRules", "RuleLine", "render_rules", "sweep"]

OWNER = "inspect"
REJECT_MARK = 0x1F5E0001
_MANGLE = "mangle"
_ICMP_TYPES = {4: ("icmp", "--icmp-type", (8, 0, 13, 14)),
               6: ("ipv6-icmp", "--icmpv6-type", (128, 129))}


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
    """Every rule for ``config`` in chain order (first = top of the chain), the queue
    rules in ``mangle``, the REJECT rules (``reject`` only) in ``filter``."""
    comment = ["-m", "comment", "--comment", tag.comment()]
    bypass = () if config.fail_closed else ("--queue-bypass",)
    lines: list[RuleLine] = []
    for net in config.networks:
        fam = net.version
        for chain, outbound in (("OUTPUT", True), ("INPUT", False)):
            addr = ["-d" if outbound else "-s", str(net)]
            if config.reject:
                lines += _reject(fam, chain, addr, comment, outbound)
            for cond in _matches(config, fam, outbound):
                lines.append(RuleLine(fam, chain, (*addr, *cond, "-m", "conntrack",
                                                   "--ctstate", "NEW", "!", "--ctstatus",
                                                   "CONFIRMED", *comment, "-j",
                                                   "NFQUEUE", "--queue-num",
                                                   str(config.queue), *bypass), _MANGLE))
                lines.append(RuleLine(fam, chain, (*addr, *cond, *comment, "-j", "NFQUEUE",
                                                   "--queue-num", str(config.queue + 1),
                                                   *bypass), _MANGLE))
    return lines


def _reject(fam: int, chain: str, addr: list[str], comment: list[str],
            outbound: bool) -> list[RuleLine]:
    """REJECT (in filter) what the worker marked; in mangle, marked packets and our own
    RSTs skip the queue rules."""
    mark = ["-m", "mark", "--mark", hex(REJECT_MARK)]
    unreach = "icmp-port-unreachable" if fam == 4 else "icmp6-port-unreachable"
    rst = ("-p", "tcp", "--tcp-flags", "RST", "RST")
    own = ("-m", "owner", "!", "--socket-exists") if outbound else ("-i", "lo")
    return [RuleLine(fam, chain, (*addr, *own, *rst, *comment, "-j", "ACCEPT"), _MANGLE),
            RuleLine(fam, chain, (*addr, *mark, *comment, "-j", "ACCEPT"), _MANGLE),
            RuleLine(fam, chain, (*addr, "-p", "tcp", *mark, *comment, "-j", "REJECT",
                                  "--reject-with", "tcp-reset"), "filter"),
            RuleLine(fam, chain, (*addr, *mark, *comment, "-j", "REJECT", "--reject-with",
                                  unreach), "filter")]


def sweep() -> int:
    """Remove the rules of inspectors that died (crash, SIGKILL); return the count."""
    return sweep_stale(OWNER)


class InspectRules:
    """Install the rules for a configuration; remove them (idempotent)."""

    def __init__(self, config: InspectConfig, backend: Backend | None = None) -> None:
        self.config = config
        self.tag = Tag.mine(OWNER)
        self.lines = render_rules(config, self.tag)
        self._set = RuleSet(OWNER, self.lines, self.tag, backend)
        #: The NFQUEUE target needs iptables; nft's own queue is used through iptables-nft.
        self.backend = self._set.backend
        #: Stale rules swept before installing.
        self.swept = 0

    @property
    def installed(self) -> bool:
        """True while our rules are in place."""
        return self._set.installed

    def install(self) -> None:
        """Sweep stale rules, then insert ours at the top of each chain, atomically."""
        self.swept = sweep()
        self._set.install()

    def queue_hits(self) -> int:
        """Packets our queue rules sent to the queues (queued or let through when full)."""
        return self._set.counters("NFQUEUE")

    def remove(self) -> None:
        """Remove every rule of ours (all families), and a table that only holding them
        made (iptables-nft); a no-op when not installed."""
        self._set.remove()
