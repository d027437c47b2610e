"""The hub's roles with real users and groups: readers read, controllers control, providers
provide, only root registers the built-in providers, and every refusal is traced."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.tracer.service import procs
from tests.tracer.service.conftest import Child, HubProcess, Member, wait_for
from tracer import ProviderEnable, SessionConfig
from tracer.service import RemoteHub, connect
from tracer.service._socketacl import acl_groups

CONTROLLER_OPS = ("start_session", "flush_session", "stop_session", "stop_theirs", "control",
                  "add_manifest")
ALL_OPS = ("list_sessions", "manifests", "subscribe", *CONTROLLER_OPS, "register_provider",
           "register_inspect")


@dataclass
class RoleHub:
    """A root hub with one fresh user per role, a root-owned session and an audit session."""

    hub: HubProcess
    reader: Member
    controller: Member
    provider: Member
    stranger: Member
    root: RemoteHub
    answering: Child
    audit_sub: Any

    def attempt(self, who: Member, *ops: str) -> dict:
        """Run the ``attempt`` role as ``who``; what each operation answered."""
        return who.run("attempt", "--socket", str(self.hub.path), "--session", "watch",
                       "--ops", ",".join(ops))

    def audit(self, count: int) -> list:
        """The next ``count`` AccessDenied events of the audit session."""
        sub = self.audit_sub
        out = []
        while len(out) < count and (event := sub.get(5)) is not None:
            out.append(event)
        return out


@pytest.fixture
def roles(request: pytest.FixtureRequest, start_hub: Callable[..., HubProcess],
          new_member: Callable[[], Member], spawn: Callable[..., Child]) -> Iterator[RoleHub]:
    """The hub started with --readers, --controllers and --providers, one group each (socket
    mode 0660 unless the test asks for another)."""
    reader, controller, provider, stranger = (new_member() for _ in range(4))
    hub = start_hub("--readers", reader.group, "--controllers", controller.group,
                    "--providers", provider.group,
                    "--socket-mode", getattr(request, "param", "0660"))
    answering = spawn("controlled", "--socket", str(hub.path), stdin=True)
    assert answering.line()["connected"]
    with connect(hub.path) as root:
        root.start_session(SessionConfig("watch", [ProviderEnable("svc-demo")], realtime=True))
        root.start_session(SessionConfig(
            "audit", [ProviderEnable("wfptrace-hub", keywords=("security",))], realtime=True))
        audit = root.subscribe("audit")
        yield RoleHub(hub, reader, controller, provider, stranger, root, answering, audit)
        audit.close()


def _refused(answer: object, role: str) -> str:
    assert isinstance(answer, list) and answer[0] == "AccessDeniedError", answer
    assert f"needs the {role} role" in answer[1] or (role == "root" and "needs root" in answer[1])
    return answer[1]


def _check_audit(roles: RoleHub, who: Member, refused: list[str]) -> None:
    events = roles.audit(len(refused))
    assert {e.name for e in events} == {"AccessDenied"}
    assert sorted(e.fields["operation"] for e in events) == sorted(
        "register_provider" if op == "register_inspect" else
        "stop_session" if op == "stop_theirs" else op for op in refused)
    assert {e.fields["uid"] for e in events} == {who.uid}
    assert roles.audit(1) == []


def test_the_socket_carries_an_acl_entry_for_each_other_role_group(roles):
    """The socket (mode 0660) belongs to one role group; the others reach it through ACL
    entries, and a user in none of them cannot connect."""
    st = roles.hub.path.stat()
    assert st.st_mode & 0o777 == 0o660
    gids = {roles.reader.group_gid, roles.controller.group_gid, roles.provider.group_gid}
    assert st.st_gid in gids
    assert set(acl_groups(roles.hub.path)) == gids - {st.st_gid}
    with pytest.raises(pytest.fail.Exception, match="permission denied"):
        roles.attempt(roles.stranger, "list_sessions")


def test_reader_reads_but_cannot_start_sessions_or_send_control_requests(roles):
    """A reader lists sessions and manifests and subscribes; starting, stopping, flushing,
    control requests, manifests and registrations are refused, naming the role, and traced."""
    out = roles.attempt(roles.reader, *ALL_OPS)
    assert out["privileged"] is False
    assert (out["list_sessions"], out["manifests"], out["subscribe"]) == ("ok", "ok", "ok")
    for op in CONTROLLER_OPS:
        _refused(out[op], "controller")
    _refused(out["register_provider"], "provider")
    _refused(out["register_inspect"], "provider")
    _check_audit(roles, roles.reader, [*CONTROLLER_OPS, "register_provider", "register_inspect"])
    assert [s.name for s in roles.root.list_sessions()] == ["watch", "audit"]


def test_controller_starts_and_stops_sessions_and_sends_control_requests(roles):
    """A controller may do what a reader may plus sessions and control requests, but not
    register providers or add a manifest under a reserved name."""
    out = roles.attempt(roles.controller, *ALL_OPS)
    assert out["privileged"] is True
    for op in ("list_sessions", "manifests", "subscribe", "start_session", "flush_session",
               "stop_session", "control"):
        assert out[op] == "ok", (op, out[op])
    assert "needs root" in _refused(out["add_manifest"], "root")
    _refused(out["register_provider"], "provider")
    # stop_theirs stopped root's "watch" session: a controller may stop any session.
    assert out["stop_theirs"] == "ok"
    assert [s.name for s in roles.root.list_sessions()] == ["audit"]
    _check_audit(roles, roles.controller, ["add_manifest", "register_provider",
                                           "register_inspect"])


def test_provider_registers_its_own_name_but_not_a_built_in_one(roles):
    """A provider-role member registers a name of its own, is refused wfptrace-inspect (as root's
    name), and may not read or control."""
    out = roles.attempt(roles.provider, "register_provider", "register_inspect", "list_sessions",
                        "subscribe", "start_session", "control")
    assert out["register_provider"] == "ok"
    message = _refused(out["register_inspect"], "root")
    assert "register_provider of wfptrace-inspect needs root" in message
    for op in ("list_sessions", "subscribe"):
        _refused(out[op], "reader")
    for op in ("start_session", "control"):
        _refused(out[op], "controller")
    _check_audit(roles, roles.provider, ["register_inspect", "list_sessions", "subscribe",
                                         "start_session", "control"])


@pytest.mark.parametrize("roles", ["0666"], indirect=True)
def test_a_user_with_no_role_is_refused_everything_but_hello(roles):
    """A user in none of the role groups (socket mode 0666 here) is refused every operation."""
    out = roles.attempt(roles.stranger, *ALL_OPS)
    assert out["privileged"] is False
    for op in ALL_OPS:
        assert isinstance(out[op], list) and out[op][0] == "AccessDeniedError", op
        assert "with roles: none" in out[op][1]
    assert len(roles.audit(len(ALL_OPS))) == len(ALL_OPS)


def test_forging_the_inspector_is_refused_and_its_events_are_unaffected(roles, spawn):
    """A provider-role member registering wfptrace-inspect is refused before and while the real
    inspector runs; the session gets exactly the real inspector's events, with its pid."""
    path = str(roles.hub.path)
    roles.root.start_session(SessionConfig("verdicts", [ProviderEnable("wfptrace-inspect")],
                                           realtime=True))
    sub = roles.root.subscribe("verdicts")
    before = roles.attempt(roles.provider, "register_inspect")
    assert "needs root" in _refused(before["register_inspect"], "root")
    real = spawn("inspector", "--socket", path, "--count", "5", stdin=True)
    assert real.line()["connected"]
    wait_for(lambda: roles.root.query_session("verdicts").providers["wfptrace-inspect"]
             ["status"] == "registered", what="the inspector to register")
    during = roles.attempt(roles.provider, "register_inspect")
    assert "needs root" in _refused(during["register_inspect"], "root")
    real.tell()
    assert real.line()["flushed"]
    events = []
    while len(events) < 5 and (event := sub.get(5)) is not None:
        events.append(event)
    assert sub.get(0.3) is None
    sub.close()
    assert [(e.name, e.pid, e.fields["verdict"]) for e in events] == [
        ("ConnectionVerdict", real.pid, "block")] * 5
    state = roles.root.query_session("verdicts").providers["wfptrace-inspect"]
    assert (state["status"], state.get("pid")) == ("registered", real.pid)
    _check_audit(roles, roles.provider, ["register_inspect", "register_inspect"])


def test_a_reader_limited_to_the_hub_provider_reads_only_its_events(start_hub, member, spawn):
    """With --readers G:wfptrace-hub a member may not subscribe to a session enabling another
    provider (refused, naming it, traced); in an allowed session it gets only wfptrace-hub's
    events, even after the session adds another provider."""
    hub = start_hub("--readers", f"{member.group}:wfptrace-hub")
    path = str(hub.path)
    with connect(hub.path) as root:
        root.add_manifest(procs.DEMO.manifest())
        root.start_session(SessionConfig("watch", [ProviderEnable("svc-demo")], realtime=True))
        hub_events = ProviderEnable("wfptrace-hub", keywords=("session",))
        root.start_session(SessionConfig("mixed", [hub_events], realtime=True,
                                         flush_interval=0.02))
        root.start_session(SessionConfig(
            "audit", [ProviderEnable("wfptrace-hub", keywords=("security",))], realtime=True))
        audit = root.subscribe("audit")
        out = member.run("attempt", "--socket", path, "--session", "watch", "--ops", "subscribe")
        kind, message = out["subscribe"]
        assert kind == "AccessDeniedError"
        assert ("session watch enables svc-demo; uid "
                f"{member.uid} may read the events of wfptrace-hub only") in message
        denied = audit.get(5)
        assert denied is not None and (denied.fields["operation"], denied.fields["uid"]) == (
            "subscribe", member.uid)
        audit.close()
        as_user = f"{member.uid}:{member.gid}:{member.gid},{member.group_gid}"
        consumer = spawn("consumer", "--socket", path, "--session", "mixed", "--count", "3",
                         "--as-user", as_user)
        assert consumer.line()["subscribed"]
        root.update_session("mixed", [hub_events, ProviderEnable("svc-demo")])
        ticks = spawn("provider", "--socket", path, "--count", "10")
        ticks.line()
        assert ticks.line()["flushed"]
        wait_for(lambda: root.query_session("mixed").events_written >= 11,
                 what="the ticks to reach the session")
        root.start_session(SessionConfig("later", [ProviderEnable("svc-demo")], realtime=True))
        root.stop_session("later")
        got = [consumer.line() for _ in range(3)]
    assert [(e["provider"], e["name"]) for e in got] == [
        ("wfptrace-hub", "SessionUpdated"), ("wfptrace-hub", "SessionStarted"),
        ("wfptrace-hub", "SessionStopped")]
    assert consumer.line()["received"] == 3


def test_a_socket_directory_made_by_the_hub_lets_every_role_group_in(sock_dir, new_member):
    """When the hub creates the socket's directory (mode 0750, one group), the other role
    groups get ACL entries on it too, so each role's member reaches the socket."""
    reader, controller = new_member(), new_member()
    hub = HubProcess(sock_dir / "run" / "hub.sock", "--readers", reader.group,
                     "--controllers", controller.group)
    try:
        st = hub.path.parent.stat()
        assert st.st_mode & 0o777 == 0o750
        assert set(acl_groups(hub.path.parent)) == {reader.group_gid, controller.group_gid} - {
            st.st_gid}
        for who in (reader, controller):
            out = who.run("attempt", "--socket", str(hub.path), "--ops", "list_sessions")
            assert out["list_sessions"] == "ok", (who.user, out)
    finally:
        hub.stop()
