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


READERS, CONTROLLERS, PROVIDERS, AUDITORS = 5001, 5002, 5003, 5004


def _peer(*groups: int) -> Peer:
    return Peer(1, 2000, 2000, frozenset({2000, *groups}))


def _policy(**kw) -> Policy:
    return Policy(owner_uid=0, readers=[READERS, f"{AUDITORS}:wfptrace-hub,svc-demo"],
                  controllers=[CONTROLLERS], providers=[PROVIDERS], reserved=(), **kw)


def test_each_role_group_holds_its_role_and_a_controller_also_reads():
    """Readers read, controllers read and control, providers only provide; root does all."""
    policy = _policy()
    assert policy.roles_of(_peer(READERS)) == ["reader"]
    assert policy.roles_of(_peer(CONTROLLERS)) == ["reader", "controller"]
    assert policy.roles_of(_peer(PROVIDERS)) == ["provider"]
    assert policy.roles_of(_peer(READERS, PROVIDERS)) == ["reader", "provider"]
    assert policy.roles_of(Peer(1, 0, 0, frozenset({0}))) == ["reader", "controller", "provider"]
    assert policy.roles_of(_peer()) == []


def test_group_is_a_shorthand_for_every_role():
    """--group G gives G's members reader, controller and provider, and owns the socket."""
    policy = Policy(group=12345, owner_uid=0, reserved=())
    assert policy.roles_of(_peer(12345)) == ["reader", "controller", "provider"]
    assert policy.socket_gid() == 12345


def test_refusal_names_the_role_needed_and_who_holds_it():
    """A refusal says which role the operation needs, which groups hold it and the peer's roles."""
    message = _policy().refusal(_peer(READERS), "control", "controller")
    assert "control needs the controller role (root or members of group 5002)" in message
    assert "you are uid 2000 with roles: reader" in message


def test_built_in_installed_and_wfptrace_names_are_reserved():
    """The built-in providers, every installed provider and any wfptrace-* name are reserved."""
    policy = Policy(owner_uid=0)
    for name in ("wfptrace-hub", "wfptrace-inspect", "wfptrace-msnmon", "wfptrace-packets",
                 "wfptrace-new"):
        assert policy.is_reserved(name), name
    assert not policy.is_reserved("svc-demo")


def test_a_reader_group_may_be_limited_to_some_providers_events():
    """GROUP:P1,P2 limits a reader to those providers (the union over its groups); any
    unlimited reader group, the controller role or root lift the limit."""
    policy = _policy()
    assert policy.readable(_peer(AUDITORS)) == {"wfptrace-hub", "svc-demo"}
    assert policy.readable(_peer(AUDITORS, READERS)) is None
    assert policy.readable(_peer(AUDITORS, CONTROLLERS)) is None
    assert policy.readable(Peer(1, 0, 0, frozenset())) is None
    assert "5004 (events of svc-demo, wfptrace-hub only)" in policy.holders("reader")
