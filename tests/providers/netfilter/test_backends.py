"""Rule backend detection: a working flavour is chosen without touching the ruleset."""

from __future__ import annotations

import pytest

from providers.netfilter import (
    Backend,
    QueueRule,
    QueueRules,
    RuleError,
    detect_backend,
    list_tagged,
)
from tests.harness import Topology

from .conftest import UDP_PORT

RULE = QueueRule(5, protocol="udp", dport=UDP_PORT)


def nft_queue_supported(netns: Topology) -> bool:
    """Whether the kernel in ``netns`` accepts a native nft queue statement."""
    probe = ("table inet p { chain c { type filter hook output priority 0;"
             " queue num 0 bypass; } }")
    return netns.a.run(["nft", "-c", "-f", "-"], input=probe, check=False).returncode == 0


def test_detection_picks_a_working_backend_and_skips_nft_without_queue(netns: Topology) -> None:
    """Detection returns a backend that works here, never nftables when its queue is missing."""
    with netns.a.enter():
        backend = detect_backend()
    if not nft_queue_supported(netns):
        assert backend in (Backend.IPTABLES_NFT, Backend.IPTABLES_LEGACY)
    with netns.a.enter(), QueueRules("test", [RULE], backend=backend):
        assert list_tagged(backend)


def test_detection_changes_nothing(netns: Topology) -> None:
    """Probing backends leaves the namespace's ruleset exactly as it was."""
    before = netns.a.run(["iptables-save"]).stdout.splitlines()[1:-1]
    with netns.a.enter():
        detect_backend()
    after = netns.a.run(["iptables-save"]).stdout.splitlines()[1:-1]
    assert [ln for ln in after if not ln.startswith("#")] == \
        [ln for ln in before if not ln.startswith("#")]
    assert netns.a.run(["nft", "list", "tables"]).stdout.count("wfptrace") == 0


def test_nftables_backend_without_kernel_queue_fails_cleanly(netns: Topology) -> None:
    """Forcing native nftables where the kernel lacks queue support raises RuleError."""
    if nft_queue_supported(netns):
        pytest.skip("this kernel supports nft queue")
    with netns.a.enter():
        rules = QueueRules("test", [RULE], backend=Backend.NFTABLES)
        with pytest.raises(RuleError, match="queue"):
            rules.install()
        rules.close()
    assert "wfptrace" not in netns.a.run(["nft", "list", "tables"]).stdout

