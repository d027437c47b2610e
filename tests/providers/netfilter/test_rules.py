"""Queue rules: backend detection, owner tags, cleanup, and stale-rule sweeping."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from providers.netfilter import (
    Backend,
    NfQueue,
    QueueConfig,
    QueueRule,
    QueueRules,
    RuleError,
    Tag,
    Verdict,
    list_tagged,
    sweep_stale,
)
from providers.netfilter._rules import _iptables_args, _nft_script
from tests.harness import Topology

from .conftest import UDP_PORT, UdpPath, take

IPTABLES = [pytest.param(b, marks=pytest.mark.skipif(
                shutil.which(f"ip6tables-{b.value.split('-')[1]}") is None,
                reason=f"{b.value} is not installed"), id=b.value)
            for b in (Backend.IPTABLES_NFT, Backend.IPTABLES_LEGACY)]
RULE = QueueRule(5, protocol="udp", dport=UDP_PORT)




@pytest.mark.parametrize("backend", IPTABLES)
def test_rules_carry_owner_tag_for_both_families_and_vanish_on_exit(
        netns: Topology, backend: Backend) -> None:
    """Each rule is installed for IPv4 and IPv6 with our tag, and removed on exit."""
    with netns.a.enter():
        with QueueRules("test", [RULE], backend=backend) as rules:
            tags = list_tagged(backend)
            assert tags == [rules.tag, rules.tag]
            assert rules.tag == Tag("test", os.getpid(), rules.tag.start)
            assert rules.tag.alive
        assert list_tagged(backend) == []


@pytest.mark.parametrize("backend", IPTABLES)
def test_queued_traffic_flows_through_installed_rules(udp_path: UdpPath, backend: Backend) -> None:
    """Packets matching the rule land in the queue for both IP families."""
    with udp_path.topo.a.enter():
        rules = QueueRules("other", [QueueRule(11, protocol="udp", dport=UDP_PORT)],
                           backend=backend)
        q = NfQueue(QueueConfig(queue_num=11))
    with rules, q:
        # The fixture's own rule (queue 7, bypass, no consumer) sits below ours.
        udp_path.send(b"four")
        udp_path.send(b"six", v6=True)
        pkts = take(q, 2)
        assert sorted(p.hw_protocol for p in pkts) == [0x0800, 0x86DD]
        q.verdicts([(p, Verdict.ACCEPT) for p in pkts])
        assert udp_path.received() == [b"four"]
        assert udp_path.received(v6=True) == [b"six"]


def test_bypass_lets_traffic_pass_when_nobody_listens(udp_path: UdpPath) -> None:
    """With the default queue bypass and no consumer bound, traffic still flows."""
    udp_path.send(b"through")
    assert udp_path.received() == [b"through"]


def test_without_bypass_an_unbound_queue_drops(netns: Topology) -> None:
    """bypass=False makes an unconsumed queue drop: the documented fail-closed choice."""
    import socket

    with netns.b.enter():
        rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rx.bind((netns.b.ip4, UDP_PORT))
        rx.settimeout(0.5)
    with netns.a.enter():
        tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rules = QueueRules("test", [QueueRule(5, protocol="udp", dport=UDP_PORT,
                                              bypass=False, family="ipv4")])
    with rules, tx, rx:
        tx.sendto(b"lost", (netns.b.ip4, UDP_PORT))
        with pytest.raises(TimeoutError):
            rx.recv(100)


_INSTALLER = """
import sys, time
from providers.netfilter import QueueRule, QueueRules
rules = QueueRules(sys.argv[1], [QueueRule(5, protocol="udp", dport=1)])
rules.install()
print("ready", flush=True)
time.sleep(120)
"""


def _spawn_installer(netns: Topology, owner: str) -> subprocess.Popen:
    proc = netns.a.spawn([sys.executable, "-c", _INSTALLER, owner], stdout=subprocess.PIPE,
                         text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def test_rules_of_a_crashed_process_are_swept_at_next_start(netns: Topology) -> None:
    """Rules left by a killed owner are removed when the next owner installs."""
    victim = _spawn_installer(netns, "crashy")
    victim.kill()
    victim.wait()
    with netns.a.enter():
        assert {t.owner for t in list_tagged()} == {"crashy"}
        with QueueRules("test", [RULE]) as rules:
            assert rules.swept == 2  # its IPv4 and IPv6 rule
            assert {t.owner for t in list_tagged()} == {"test"}


def test_rules_of_a_live_process_are_kept(netns: Topology) -> None:
    """Sweeping never removes rules whose owner is still running."""
    _spawn_installer(netns, "alive")
    with netns.a.enter(), QueueRules("test", [RULE]) as rules:
        assert rules.swept == 0
        assert sorted(t.owner for t in list_tagged()) == ["alive", "alive", "test", "test"]


def test_rules_stay_in_their_namespace_even_when_removed_from_outside(netns: Topology) -> None:
    """Rules go into the creating thread's namespace and are removed there from anywhere."""
    with netns.a.enter():
        rules = QueueRules("test", [RULE])
        rules.install()
    with netns.b.enter():
        assert list_tagged(rules.backend) == []
    rules.close()  # this thread is back outside namespace a
    with netns.a.enter():
        assert list_tagged(rules.backend) == []


def test_failed_install_leaves_nothing_behind(netns: Topology) -> None:
    """If any rule fails, those already added are removed and RuleError is raised."""
    bad = QueueRule(5, protocol="udp", dport=UDP_PORT, family="ipv6", dst="10.0.0.1")
    with netns.a.enter():
        rules = QueueRules("test", [RULE, bad], backend=Backend.IPTABLES_NFT)
        with pytest.raises(RuleError):
            rules.install()
        assert list_tagged(Backend.IPTABLES_NFT) == []
        rules.close()


@pytest.mark.parametrize("rule, message", [
    (QueueRule(dport=80), "ports need a protocol"),
    (QueueRule(src="10.0.0.1"), "addresses need family"),
    (QueueRule(chain="NOPE"), "unknown chain"),
    (QueueRule(protocol="icmp"), "unsupported protocol"),
    (QueueRule(queue_num=4, balance=2), "balance"),
])
def test_inexpressible_rules_are_refused(rule: QueueRule, message: str) -> None:
    """Rules the backends cannot express fail validation with a clear message."""
    with pytest.raises(RuleError, match=message):
        rule.validate()


def test_owner_names_that_would_break_tags_are_refused() -> None:
    """Owners with separators or spaces are rejected before anything runs."""
    for owner in ("a:b", "a_b", "", "has space"):
        with pytest.raises(RuleError):
            QueueRules(owner, [])


def test_rule_rendering_covers_every_match() -> None:
    """Both renderings carry protocol, ports, ct state, queue range, bypass and tag."""
    tag = Tag("t", 1, 2)
    rule = QueueRule(3, chain="INPUT", family="ipv4", protocol="tcp", dport=443, sport=1000,
                     src="10.0.0.0/8", new_only=True, balance=4)
    args = _iptables_args(rule, "ipv4", tag)
    for piece in ("-p tcp", "-s 10.0.0.0/8", "--sport 1000", "--dport 443",
                  "--ctstate NEW", "--queue-balance 3:4", "--queue-bypass", tag.comment()):
        assert piece in " ".join(args)
    script = _nft_script([rule], tag)
    for piece in ("hook input", "ip saddr 10.0.0.0/8", "th dport 443", "ct state new",
                  "queue num 3-4 bypass", f"table inet {tag.table_name()}"):
        assert piece in script


def test_sweep_removes_stale_nft_tables_of_dead_owners_only(netns: Topology) -> None:
    """sweep_stale drops wfptrace nft tables whose owner is dead, for one owner or all."""
    me = Tag.mine("live")
    script = "".join(f"table inet {t.table_name()} {{}}\n" for t in
                     (Tag("dead", 1, 1), Tag("gone", 1, 1), me))
    netns.a.run(["nft", "-f", "-"], input=script)
    with netns.a.enter():
        assert sweep_stale(owner="dead", backend=Backend.NFTABLES) == 1
        assert sorted(t.owner for t in list_tagged(Backend.NFTABLES)) == ["gone", "live"]
        assert sweep_stale(backend=Backend.NFTABLES) == 1
        assert list_tagged(Backend.NFTABLES) == [me]
