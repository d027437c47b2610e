"""Peer credentials and the hub's access rule."""

from __future__ import annotations

import os
import socket

from tracer.service._access import Peer, Policy, peer_of


def test_peer_credentials_come_from_the_kernel():
    """SO_PEERCRED gives the connected process's pid, uid and groups."""
    _a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    peer = peer_of(b)
    assert (peer.pid, peer.uid, peer.gid) == (os.getpid(), os.getuid(), os.getgid())
    assert set(os.getgroups()) <= peer.groups


def test_root_owner_and_group_members_are_privileged_others_not():
    """Root, the hub's own uid and members of its group may control; anyone else may not."""
    policy = Policy(group=12345, owner_uid=1000)
    assert policy.privileged(Peer(1, 0, 0, frozenset({0})))
    assert policy.privileged(Peer(1, 1000, 1000, frozenset({1000})))
    assert policy.privileged(Peer(1, 2000, 2000, frozenset({2000, 12345})))
    stranger = Peer(1, 2000, 2000, frozenset({2000}))
    assert not policy.privileged(stranger)
    assert "you are uid 2000 with roles: none" in policy.refusal(stranger, "subscribe", "reader")
