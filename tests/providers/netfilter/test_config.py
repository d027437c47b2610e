"""QueueConfig: the kernel flag bits it asks for."""

from __future__ import annotations

from providers.netfilter import QueueConfig
from providers.netfilter._config import (
    NFQA_CFG_F_CONNTRACK,
    NFQA_CFG_F_FAIL_OPEN,
    NFQA_CFG_F_GSO,
    NFQA_CFG_F_UID_GID,
)


def test_default_asks_only_for_gso() -> None:
    """By default GSO is on and fail-open, conntrack and uid/gid are off."""
    assert QueueConfig().flags == NFQA_CFG_F_GSO


def test_each_option_sets_its_flag() -> None:
    """Every boolean option maps to exactly its NFQA_CFG_F_* bit."""
    cfg = QueueConfig(fail_open=True, gso=False, conntrack=True, uid_gid=True)
    assert cfg.flags == NFQA_CFG_F_FAIL_OPEN | NFQA_CFG_F_CONNTRACK | NFQA_CFG_F_UID_GID
