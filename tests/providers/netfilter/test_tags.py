"""Owner tags: parsing from rule listings and liveness of the owner."""

from __future__ import annotations

from providers.netfilter import Tag


def test_tag_round_trips_through_comment_and_table_name() -> None:
    """A tag parses back from both its iptables comment and nft table forms."""
    tag = Tag("inspect", 1234, 5678)
    assert Tag.parse(f'-A OUTPUT -m comment --comment "{tag.comment()}" -j NFQUEUE') == tag
    assert Tag.parse(tag.table_name()) == tag
    assert Tag.parse("-A OUTPUT -j ACCEPT") is None


def test_dead_owner_tag_is_not_alive() -> None:
    """A tag whose pid or start time does not match a running process is stale."""
    me = Tag.mine("x")
    assert me.alive
    assert not Tag("x", me.pid, me.start + 1).alive

