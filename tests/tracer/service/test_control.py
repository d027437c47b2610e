"""Access control at the hub: refusals for uids outside the group, traced on the hub provider."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
from collections.abc import Iterator

import pytest

from tests.tracer.service import procs
from tests.tracer.service.conftest import wait_for
from tracer import Hub, ProviderEnable, SessionConfig, SinkSpec
from tracer.service import AccessDeniedError, connect
from tracer.service._access import Peer, Policy
from tracer.service._control import Controller

NOBODY = 65534
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a child as uid 65534")


@pytest.fixture
def group() -> Iterator[tuple[str, int]]:
    """A fresh system group for the hub (removed after the test)."""
    name = f"wfpt{os.getpid() % 100000}"
    subprocess.run(["groupadd", "-f", name], check=True)
    gid = int(subprocess.run(["getent", "group", name], capture_output=True, text=True,
                             check=True).stdout.split(":")[2])
    yield name, gid
    subprocess.run(["groupdel", name], check=False)


def _as_user(path: str, groups: list[int]) -> dict:
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    child = ctx.Process(target=procs.as_user, args=(path, NOBODY, groups, results))
    child.start()
    out = results.get(timeout=30)
    child.join(10)
    return out


def test_socket_is_mode_0660_and_owned_by_the_group(start_hub, group):
    """The hub creates its socket mode 0660 with the configured group."""
    hub = start_hub("--group", group[0])
    st = hub.path.stat()
    assert st.st_mode & 0o777 == 0o660 and st.st_gid == group[1]


def test_uid_outside_the_group_cannot_connect_to_the_socket(start_hub, group):
    """With the default mode a non-member is refused at connect, with a clear error."""
    hub = start_hub("--group", group[0])
    out = _as_user(str(hub.path), [])
    assert out["connect"][0] == "AccessDeniedError"
    assert "permission denied" in out["connect"][1]


def test_uid_outside_the_group_is_refused_and_each_refusal_is_traced(start_hub, group):
    """A non-member reaching the hub may not list, control, read events or provide; each refusal
    names the role needed and is traced."""
    hub = start_hub("--group", group[0], "--socket-mode", "0666")
    with connect(hub.path) as root:
        root.add_manifest(procs.DEMO.manifest())
        root.start_session(SessionConfig(
            "sec", [ProviderEnable("wfptrace-hub", keywords=("security",))], realtime=True))
        audit = root.subscribe("sec")
        out = _as_user(str(hub.path), [])
        roles = {"start_session": "controller", "subscribe": "reader",
                 "stop_session": "controller", "list_sessions": "reader",
                 "register_provider": "provider"}
        for op, role in roles.items():
            kind, message = out[op]
            assert kind == "AccessDeniedError", op
            assert f"needs the {role} role (root or members of group {group[0]})" in message
            assert f"you are uid {NOBODY} with roles: none" in message
        denied = []
        while len(denied) < 5 and (event := audit.get(5)) is not None:
            denied.append(event)
        assert {e.name for e in denied} == {"AccessDenied"}
        assert {e.fields["operation"] for e in denied} == set(roles)
        assert {e.fields["uid"] for e in denied} == {NOBODY}
        assert [s.name for s in root.list_sessions()] == ["sec"]
        audit.close()


def test_group_member_may_control_sessions_and_provide(start_hub, group):
    """A uid with the hub's group among its groups may start and stop sessions and register."""
    hub = start_hub("--group", group[0])
    with connect(hub.path) as root:
        root.add_manifest(procs.DEMO.manifest())
        root.start_session(SessionConfig("sec", [ProviderEnable("svc-demo")], realtime=True))
        out = _as_user(str(hub.path), [group[1]])
    assert {op: out[op] for op in ("start_session", "subscribe", "stop_session",
                                   "register_provider")} == dict.fromkeys(
        ("start_session", "subscribe", "stop_session", "register_provider"), "ok")


def test_second_registration_of_a_live_name_is_refused_naming_the_first(start_hub, member, spawn):
    """A member registering a provider name that is live is refused with the first's pid, traced;
    the first keeps the name until it leaves, then the name is free again."""
    hub = start_hub("--group", member.group)
    with connect(hub.path) as root:
        root.add_manifest(procs.DEMO.manifest())
        root.start_session(SessionConfig("watch", [ProviderEnable("svc-demo")], realtime=True))
        root.start_session(SessionConfig(
            "audit", [ProviderEnable("wfptrace-hub", keywords=("security",))], realtime=True))
        audit = root.subscribe("audit")
        first = spawn("controlled", "--socket", str(hub.path), stdin=True)
        assert first.line()["connected"]
        out = member.run("provider", "--socket", str(hub.path), "--count", "1")
        kind, message = out["refused"]
        assert kind == "AccessDeniedError"
        assert f"provider svc-demo is already registered by pid {first.pid}" in message
        event = audit.get(5)
        audit.close()
        assert event is not None and event.name == "AccessDenied"
        assert (event.fields["operation"], event.fields["uid"]) == ("register_provider",
                                                                    member.uid)
        assert root.control("svc-demo", {"op": "echo"})["pid"] == first.pid
        first.tell()
        wait_for(lambda: root.query_session("watch").providers["svc-demo"]["status"] == "gone",
                 what="the first provider to leave")
        out = member.run("provider", "--socket", str(hub.path), "--count", "1")
        assert (out.get("emitted"), out.get("connects")) == (1, 1), out


def test_the_hub_providers_own_name_cannot_be_taken(start_hub, member):
    """A member cannot register under the hub's own provider name to forge its events."""
    hub = start_hub("--group", member.group)
    kind, message = member.run("forger", "--socket", str(hub.path))["refused"]
    assert kind == "AccessDeniedError"
    assert "register_provider of wfptrace-hub needs root" in message


def test_sinks_that_might_open_paths_as_root_are_refused_to_members():
    """Through the hub a member gets file sinks (opened as the member), real-time, null and OTLP
    only; any other sink kind is refused, naming the ones allowed."""
    controller = Controller(Hub(load_installed=False), Policy(owner_uid=0))
    config = SessionConfig("x", [ProviderEnable("wfptrace-hub")],
                           sinks=[SinkSpec("file", "/tmp/x.jsonl"), SinkSpec("custom", "/etc/x")])
    with pytest.raises(AccessDeniedError) as refused:
        controller._check_sinks(Peer(1, 54321, 54321, frozenset({54321})), config)
    assert ("sink custom is not available through the hub to uid 54321 "
            "(only file, null, otlp, realtime)") in str(refused.value)
