"""The monitor's filters: hold a new TCP connection's first packet, copy marked flows.

In the ``mangle`` table of both families, at the top of OUTPUT and INPUT, so no
rule of ``filter`` (the host firewall) is ever skipped (only the owner cache's
bit is cleared in ``filter``, below):

1. ``SEEN|MON`` packet mark -> ``CONNMARK`` the flow with :data:`MARK_MON`,
2. a new connection's SYN (``--syn``, ctstate NEW) neither ``SEEN`` nor
   :data:`MARK_KNOWN` -> NFQUEUE
   ``q`` with ``--queue-bypass``: held while its owner is looked up; with no
   monitor bound (killed) it passes at once,
3. ``SEEN`` packet mark -> both bits cleared (the packet's own mark is restored),
4. ``MON`` connection mark -> NFLOG group ``g``: a passive copy of every packet
   of the monitored application's flows, both directions; nothing waits for it.

The monitor answers every held SYN with REPEAT and its mark plus ``SEEN`` (and
``MON`` for the application's flows): the SYN walks mangle again, rule 1 marks
its connection, rule 3 restores its mark, and it goes on through every later
rule and table as if we were not there (Suricata's repeat mode). INPUT skips
``lo``: a loopback flow is seen whole in OUTPUT. A suspended monitor holds only
SYNs (the queue accepts when full), and only until its stall watchdog gives them
the same REPEAT with ``SEEN``; established flows never wait for it.

Most SYNs never reach rule 2: the monitor's owner cache (a BPF program at socket
creation, :mod:`providers.netfilter._sockowner`) puts :data:`MARK_KNOWN` into the
socket mark (``sk_mark``) of every new TCP socket of a process already judged not
to be the application, and a locally generated packet takes its mark from its
socket. Such a SYN is not queued (rule 2 queues only a SYN with neither bit) nor
copied, and keeps the bit through ``mangle``: clearing it there would make the
kernel route the SYN again (a changed mark in ``mangle`` OUTPUT does), which cost
about 6% of a short loopback connection (and in namespaces over veth, alternating
configurations: the rules cost +4 us per short connection with the ``filter`` rule,
+9 us with the bit cleared in ``mangle``). A rule at the top of ``filter`` OUTPUT
clears it instead, where a mark change reroutes nothing, so the host firewall's
rules see the packet's own mark. Consequences, by design:

- the bit leaves the socket mark once the connection is established (a second
  BPF program), so established packets are unmarked; user rules in ``mangle``
  OUTPUT after ours see it on the SYN (the route was chosen with it, as
  ``connect`` chose it with the socket's mark); a socket created while the
  monitor ran but not yet connected (or a listener) keeps it after the monitor
  stops: nothing clears it from its SYN (or SYN-ACKs) then, and a later monitor
  does not queue that SYN;
- a program that sets ``SO_MARK`` itself replaces the bit: its SYNs are queued
  and decided as before (one held SYN each), which is only slower;
- the application's own SYNs are always queued (the cache holds no verdict for
  it), so each of its connections is attributed exactly (pid and path);
- inbound SYNs (a process as a server) are still queued: the mark of an inbound
  packet is not its listener's, and ``-m socket --restore-skmark`` would cost a
  socket lookup per SYN and replace the packet's whole mark, so it is not used.
"""

from __future__ import annotations

from providers.netfilter import MAX_COPY, RuleLine, Tag

__all__ = ["MARK_KNOWN", "MARK_MON", "MARK_SEEN", "OWNER", "render_filters"]

#: The owner name in the filters' tags.
OWNER = "msnmon"
#: Packet and connection mark bit: a flow of the monitored application.
MARK_MON = 0x10000000
#: Packet mark bit: this SYN was answered by the monitor (do not queue it again).
MARK_SEEN = 0x20000000
#: Socket and packet mark bit: the owner cache knows this socket's process is not the
#: application (its SYN is not queued).
MARK_KNOWN = 0x40000000
_BOTH = MARK_MON | MARK_SEEN


def _mark(value: int, mask: int) -> str:
    return f"{value:#x}/{mask:#x}"


def _chain(fam: int, chain: str, queue: int, group: int, comment: list[str]) -> list[RuleLine]:
    skip_lo = ("!", "-i", "lo") if chain == "INPUT" else ()
    rules = [
        ("-m", "mark", "--mark", _mark(_BOTH, _BOTH), *comment,
         "-j", "CONNMARK", "--set-xmark", _mark(MARK_MON, MARK_MON)),
        (*skip_lo, "-p", "tcp", "--syn", "-m", "conntrack", "--ctstate", "NEW",
         "-m", "mark", "--mark", _mark(0, MARK_SEEN | MARK_KNOWN), *comment,
         "-j", "NFQUEUE", "--queue-num", str(queue), "--queue-bypass"),
        ("-m", "mark", "--mark", _mark(MARK_SEEN, MARK_SEEN), *comment,
         "-j", "MARK", "--set-xmark", _mark(0, _BOTH)),
        (*skip_lo, "-m", "connmark", "--mark", _mark(MARK_MON, MARK_MON), *comment,
         "-j", "NFLOG", "--nflog-group", str(group), "--nflog-size", str(MAX_COPY)),
    ]
    lines = [RuleLine(fam, chain, args, "mangle") for args in rules]
    if chain == "OUTPUT":  # the owner cache's bit, cleared where it reroutes nothing
        lines.append(RuleLine(fam, chain, ("-m", "mark", "--mark", _mark(MARK_KNOWN, MARK_KNOWN),
                                           *comment, "-j", "MARK", "--set-xmark",
                                           _mark(0, MARK_KNOWN)), "filter"))
    return lines


def render_filters(tag: Tag, queue: int, group: int) -> list[RuleLine]:
    """The monitor's rules for ``tag``, both families, OUTPUT then INPUT."""
    comment = ["-m", "comment", "--comment", tag.comment()]
    return [line for fam in (4, 6) for chain in ("OUTPUT", "INPUT")
            for line in _chain(fam, chain, queue, group, comment)]
