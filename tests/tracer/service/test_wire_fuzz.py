"""Fuzzing the hub's wire protocol on a real hub socket, as a reader-role member and as root:
malformed frames, wrong types, huge lengths, unknown operations and forged registrations get
errors (never an internal error), refusals are traced, and the hub keeps serving others."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.tracer.service.conftest import HubProcess, Member, created_member, wait_for
from tests.tracer.service.procs import DEMO
from tracer import ProviderEnable, SessionConfig
from tracer.service import MAX_FRAME, VERSION, RemoteHub, connect
from tracer.service import _wire as wire
from tracer.service._control import role_for

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to create a member")

#: Examples per run: CI runs a fixed, derandomized set; set WFPTRACE_FUZZ_EXAMPLES for a
#: longer, random search.
EXAMPLES = int(os.environ.get("WFPTRACE_FUZZ_EXAMPLES", "400"))
KNOWN_OPS = ["start_session", "stop_session", "flush_session", "update_session",
             "capture_state", "control", "add_manifest", "query_session", "list_sessions",
             "session_config", "manifests", "subscribe", "register_provider"]
NAMES = ["wfptrace-hub", "wfptrace-inspect", "wfptrace-msnmon", "wfptrace-packets",
         "wfptrace-x", "svc-demo", "fuzz-watch", "fuzz-own", ""]
ARG_KEYS = ["name", "provider", "request", "manifest", "providers", "config", "maxsize"]


@dataclass
class FuzzHub:
    """A hub whose group-less reader role is held by one member's group."""

    hub: HubProcess
    member: Member
    bystander: RemoteHub
    audit: Any


@pytest.fixture(scope="module")
def fuzz() -> Iterator[FuzzHub]:
    """One hub for the whole fuzz run, a bystander client and an audit subscription."""
    d = Path(tempfile.mkdtemp(prefix="wfptrace-fuzz-"))
    d.chmod(0o755)
    with created_member() as member, contextlib.ExitStack() as cleanup:
        cleanup.callback(shutil.rmtree, d, ignore_errors=True)
        hub = HubProcess(d / "hub.sock", "--readers", member.group)
        try:
            with connect(hub.path) as bystander:
                bystander.add_manifest(DEMO.manifest())
                bystander.start_session(SessionConfig(
                    "fuzz-watch", [ProviderEnable("svc-demo")], realtime=True))
                bystander.start_session(SessionConfig(
                    "fuzz-audit", [ProviderEnable("wfptrace-hub", keywords=("security",))],
                    realtime=True, flush_interval=0.02))
                audit = bystander.subscribe("fuzz-audit")
                yield FuzzHub(hub, member, bystander, audit)
                audit.close()
        finally:
            hub.stop()


def _connect_as(path: os.PathLike[str], member: Member | None) -> socket.socket:
    """A connection whose peer credentials are the member's: a forked child drops to the
    member, connects, and hands the socket back (SCM_RIGHTS)."""
    if member is None:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(str(path))
        return s
    parent, child = socket.socketpair()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child only makes system calls
        try:
            os.setgroups([member.gid, member.group_gid])
            os.setresgid(member.gid, member.gid, member.gid)
            os.setresuid(member.uid, member.uid, member.uid)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(str(path))
            socket.send_fds(child, [b"s"], [s.fileno()])
        except OSError as exc:
            child.send(str(exc).encode()[:200])
        finally:
            os._exit(0)
    child.close()
    msg, fds, _, _ = socket.recv_fds(parent, 256, 1)
    parent.close()
    os.waitpid(pid, 0)
    if not fds:
        pytest.fail(f"cannot connect as {member.user}: {msg.decode()}")
    return socket.socket(fileno=fds[0])


# -- strategies ------------------------------------------------------------------------------
leaves = (st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats()
          | st.text(max_size=20) | st.binary(max_size=20) | st.sampled_from(NAMES))
values = st.recursive(leaves, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)
names = st.sampled_from(NAMES) | st.text(max_size=10)
fields = st.lists(st.fixed_dictionaries({"name": st.text(max_size=6),
                                         "type": st.sampled_from(["int", "str", "float", "x"])}),
                  max_size=3)
events = st.lists(st.fixed_dictionaries(
    {"id": st.integers(0, 70000) | values, "name": st.text(max_size=8), "level": st.integers(0, 9)},
    optional={"fields": fields | values, "keywords": values, "template": values}), max_size=3)
manifests = st.fixed_dictionaries(
    {"name": names | values},
    optional={"events": events | values, "keywords": values, "guid": values,
              "description": values})
typed_args = st.fixed_dictionaries({}, optional={
    "name": names, "provider": names, "request": st.dictionaries(st.text(max_size=6), values),
    "manifest": manifests, "providers": st.lists(values | st.dictionaries(
        st.sampled_from(["name", "level", "keywords"]), values), max_size=3),
    "config": st.dictionaries(st.sampled_from(["name", "providers", "file", "realtime", "sinks"])
                              | st.text(max_size=6), values), "maxsize": values})
args_maps = typed_args | st.dictionaries(st.sampled_from(ARG_KEYS) | st.text(max_size=6),
                                         values, max_size=4)
ops = st.sampled_from(KNOWN_OPS) | st.text(max_size=12)
records = st.lists(st.tuples(st.integers(-5, 2**63) | values, st.integers(-1, 70000) | values,
                             st.lists(values, max_size=4), st.integers(-1, 2**64 - 1)),
                   max_size=4)


def _raw(obj: Any) -> bytes:
    return wire.frame(msgspec.msgpack.encode(obj))


requests = st.tuples(ops, args_maps).map(lambda t: ("request", t[0], t[1]))
registers = manifests.map(lambda m: ("raw", wire.encode(wire.Register(m))))
#: A provider's messages after its registration, with hostile contents.
provider_messages = st.one_of(
    st.builds(lambda r, tids: ("raw", _raw([7, r, tids, None])), records,
              st.dictionaries(st.integers(0, 10), st.integers(-1, 10), max_size=2)),
    st.builds(lambda i, ok, v: ("raw", _raw([14, i, ok, v])), st.integers(-1, 3), values,
              values),
    st.integers(0, 2**64 - 1).map(lambda n: ("raw", wire.encode(wire.Ping(n)))),
)
#: Well-framed messages, each in a role's usual order: requests, or a registration and then
#: events, pings and control results (a mismatch with the hello is one more hostile case).
bodies = (st.lists(requests, max_size=6)
          | st.builds(lambda r, rest: [r, *rest], registers,
                      st.lists(provider_messages, max_size=4)))
#: Malformed frames: wrong tags and types, garbage, huge and zero lengths.
malformed = st.one_of(
    st.builds(lambda tag, rest: ("raw", _raw([tag, *rest])), st.integers(0, 16),
              st.lists(values, max_size=4)),
    values.map(lambda v: ("raw", _raw(v))),
    st.binary(min_size=1, max_size=64).map(lambda b: ("raw", b)),
    st.integers(MAX_FRAME + 1, 2**32 - 1).map(lambda n: ("raw", n.to_bytes(4, "big"))),
    st.just(("raw", b"\x00\x00\x00\x00")),
)
_good = [wire.encode(wire.Hello(wire.MAGIC, VERSION, r, 1)) for r in ("client", "provider")]
_bad = st.builds(lambda m, v, r: wire.encode(wire.Hello(m, v, r, 1)),
                st.sampled_from([wire.MAGIC, "", "WFPTRACE"]), st.integers(-1, 3),
                st.sampled_from(["client", "provider", "root", ""]))
#: Mostly a good hello (so the frames after it are read), sometimes a bad one.
hellos = st.integers(0, 9).flatmap(lambda i: st.sampled_from(_good) if i < 8 else _bad)


def _spared(item: tuple) -> bool:
    """Requests root may not fuzz: starting sessions (files anywhere), or stopping or updating
    the bystander's and the audit's sessions."""
    if item[0] != "request":
        return False
    if item[1] == "start_session":
        return True
    return item[1] in ("stop_session", "update_session") and item[2].get("name") in (
        "fuzz-watch", "fuzz-audit")


def _script(hello: bytes, items: list[tuple]) -> tuple[bytes, dict[int, str]]:
    """The bytes to send and the operation of each request id (register: id 0)."""
    data, ids = [hello], {}
    for i, item in enumerate(items, 1):
        if item[0] == "request":
            ids[i] = item[1]
            data.append(wire.encode(wire.Request(i, item[1], item[2])))
        else:
            data.append(item[1])
    return b"".join(data), ids


def _exchange(s: socket.socket, data: bytes) -> list[Any]:
    """Send everything, close our side, and read what the hub answers until it hangs up."""
    s.settimeout(10)
    try:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
    except OSError:
        pass  # the hub hung up early (a bad frame): read what it said
    out = []
    try:
        for payload in wire.FrameReader(s):
            out.append(wire.decode(wire.client_decoder, payload))
    except ConnectionResetError:
        pass
    finally:
        s.close()
    return out


class Tally:
    """Refusals the member received, to compare with the AccessDenied events traced."""

    member_refusals = 0
    examples = 0
    t0 = 0.0


def _check(answers: list[Any], ids: dict[int, str], as_member: bool) -> int:
    """Assert the answers are errors where they must be; return the member's refusals."""
    refusals = 0
    for msg in answers:
        if isinstance(msg, wire.Error):
            assert not msg.message.startswith("internal error"), msg
            assert msg.kind in ("ProtocolError", "AccessDeniedError"), msg
            refusals += msg.kind == "AccessDeniedError"
        elif isinstance(msg, wire.Reply):
            op = ids.get(msg.id, "register_provider") if msg.id else "register_provider"
            if not msg.ok:
                assert isinstance(msg.value, list) and len(msg.value) == 2, msg
                refusals += msg.value[0] == "AccessDeniedError"
                if as_member and role_for(op) not in (None, "reader"):
                    assert msg.value[0] == "AccessDeniedError", (op, msg)
                    assert f"needs the {role_for(op)} role" in msg.value[1], msg
            elif as_member:
                assert role_for(op) == "reader", (op, msg)
    return refusals if as_member else 0


@settings(max_examples=EXAMPLES, deadline=None,
          derandomize="WFPTRACE_FUZZ_EXAMPLES" not in os.environ,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(as_member=st.booleans(), hello=hellos, body=bodies,
       tail=st.lists(malformed | requests | registers | provider_messages, max_size=2))
def test_hostile_frames_get_errors_and_the_hub_keeps_serving(fuzz, as_member, hello, body, tail):
    """Whatever a member or root sends, the hub answers only valid messages, refuses with
    errors (never an internal error), grants a reader nothing beyond reading, and keeps
    answering the bystander."""
    if not Tally.t0:
        Tally.t0 = time.monotonic()
    items = [i for i in body + tail if as_member or not _spared(i)]
    data, ids = _script(hello, items)
    answers = _exchange(_connect_as(fuzz.hub.path, fuzz.member if as_member else None), data)
    Tally.member_refusals += _check(answers, ids, as_member)
    Tally.examples += 1
    assert fuzz.hub.proc.poll() is None, "the hub died"
    assert "fuzz-watch" in [s.name for s in fuzz.bystander.list_sessions()]


def test_every_refusal_of_the_fuzz_run_was_traced(fuzz):
    """Each refusal the fuzzing member received appears as an AccessDenied event for its uid,
    and the whole run stayed within its time budget."""
    if not Tally.examples:
        pytest.skip("the fuzz test did not run first in this session (same module, in order)")
    if "WFPTRACE_FUZZ_EXAMPLES" not in os.environ:
        assert time.monotonic() - Tally.t0 < 60
    traced: list[Any] = []

    def drained() -> bool:
        while (event := fuzz.audit.get(0.05)) is not None:
            if event.name == "AccessDenied" and event.fields["uid"] == fuzz.member.uid:
                traced.append(event)
        return len(traced) >= Tally.member_refusals

    wait_for(drained, what="the AccessDenied events")
    assert Tally.member_refusals > 0
    assert len(traced) == Tally.member_refusals
    assert all(e.fields["reason"].startswith("permission denied") for e in traced)
