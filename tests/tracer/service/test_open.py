"""A root hub opens a group member's log files as that member, following no links."""

from __future__ import annotations

import errno
import os
import secrets
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.tracer.service.conftest import HubProcess, Member, wait_for
from tests.tracer.service.procs import DEMO
from tracer import ProviderEnable, SessionConfig, read_log
from tracer.service import connect
from tracer.service._access import Peer
from tracer.service._open import PeerOpener, _receive

ROTATE = ("--mode", "rotate", "--max-size", "16384")


@pytest.fixture
def hub(start_hub: Callable[..., HubProcess], member: Member) -> HubProcess:
    """A root hub whose group the member belongs to, knowing the test provider."""
    hub = start_hub("--group", member.group)
    with connect(hub.path) as root:
        root.add_manifest(DEMO.manifest())
    return hub


@pytest.fixture
def victim(member: Member) -> tuple[Path, bytes]:
    """A root-owned 0644 file outside the member's directory, and its bytes."""
    path = member.home.parent / "victim.conf"
    data = secrets.token_bytes(4096)
    path.write_bytes(data)
    path.chmod(0o644)
    return path, data


def _start(member: Member, hub: HubProcess, file: Path, *extra: str) -> dict:
    return member.run("member", "--socket", str(hub.path), "--file", str(file), *extra)


def _refused(out: dict, words: str) -> str:
    assert out["ok"] is False, out
    kind, message = out["error"]
    assert kind == "AccessDeniedError", out
    assert words in message, message
    return message


def test_symlink_to_a_root_file_is_refused_traced_and_the_file_unchanged(hub, member, victim):
    """A member's log path that is a symlink to a root file is refused and traced; no byte
    of the target changes."""
    link = member.home / "trace.jsonl"
    link.symlink_to(victim[0])
    with connect(hub.path) as root:
        root.start_session(SessionConfig(
            "audit", [ProviderEnable("wfptrace-hub", keywords=("security",))], realtime=True))
        audit = root.subscribe("audit")
        message = _refused(_start(member, hub, link), "is a symbolic link")
        assert str(link) in message and f"uid {member.uid}" in message
        event = audit.get(5)
        audit.close()
    assert victim[0].read_bytes() == victim[1]
    assert event is not None and event.name == "AccessDenied"
    assert (event.fields["operation"], event.fields["uid"]) == ("start_session", member.uid)


def test_symlink_in_a_parent_directory_is_refused(hub, member):
    """A symlinked directory anywhere in the path is refused, even into a writable directory."""
    shared = member.home.parent / "shared"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)
    target = shared / "root.log"
    target.write_bytes(b"root's own log\n")
    (member.home / "logs").symlink_to(shared)
    _refused(_start(member, hub, member.home / "logs" / "root.log"),
             f"{member.home / 'logs'} is a symbolic link")
    assert target.read_bytes() == b"root's own log\n"


def test_every_file_sink_of_a_session_is_opened_as_the_member(hub, member, victim):
    """A second file sink (``--sink file:PATH``) pointing at a symlink is refused like the first;
    the session does not start."""
    (member.home / "second.jsonl").symlink_to(victim[0])
    out = _start(member, hub, member.home / "first.jsonl", "--sink",
                 f"file:{member.home / 'second.jsonl'}")
    _refused(out, "second.jsonl is a symbolic link")
    assert victim[0].read_bytes() == victim[1]
    with connect(hub.path) as root:
        assert root.list_sessions() == []


@pytest.mark.parametrize("mode", [0o644, 0o666], ids=["read-only", "world-writable"])
def test_hard_link_to_a_root_file_is_refused(hub, member, victim, mode):
    """A hard link to a root file in the member's directory is refused, however open its mode."""
    victim[0].chmod(mode)
    os.link(victim[0], member.home / "trace.jsonl")
    _refused(_start(member, hub, member.home / "trace.jsonl"),
             "Permission denied" if mode == 0o644 else "has 2 hard links")
    assert victim[0].read_bytes() == victim[1]


def test_fifo_is_refused_without_waiting_for_a_reader(hub, member):
    """A FIFO as log file is refused at once (the open does not block the hub)."""
    fifo = member.home / "trace.jsonl"
    os.mkfifo(fifo)
    os.chown(fifo, member.uid, member.gid)
    t0 = time.monotonic()
    _refused(_start(member, hub, fifo), "not a regular file")
    assert time.monotonic() - t0 < 10


def test_link_swapped_in_during_requests_never_reaches_the_target(hub, member, victim):
    """While the member swaps its log path between a file and a symlink for 3 s, the hub
    refuses every link it meets (or a file swapped away mid-open) and the target never
    changes."""
    out = member.run("racer", "--socket", str(hub.path), "--file",
                     str(member.home / "trace.jsonl"), "--target", str(victim[0]),
                     "--seconds", "3")
    print(f"race: {out['ok']} sessions started, {out['refused']} refused, {out['swaps']} swaps")
    assert victim[0].read_bytes() == victim[1]
    assert out["ok"] > 0 and out["refused"] > 0 and out["swaps"] > 100, out
    assert all("is a symbolic link" in e or "was removed while the hub opened it" in e
               for e in out["errors"]), out["errors"]


@pytest.mark.parametrize("render_worker", [False, True], ids=["in-process", "render-worker"])
def test_rotation_onto_a_planted_symlink_is_refused(hub, member, victim, spawn, render_worker):
    """A symlink named like the next rotation file stops the log there, with the reason in the
    session statistics; the target is unchanged."""
    (member.home / "trace.1.jsonl").symlink_to(victim[0])
    extra = ("--render-worker",) if render_worker else ()
    assert _start(member, hub, member.home / "trace.jsonl", *ROTATE, *extra)["ok"]
    provider = spawn("provider", "--socket", str(hub.path), "--count", "2000")
    provider.line()
    assert provider.line()["emitted"] == 2000
    with connect(hub.path) as root:
        stats = wait_for(lambda: (s := root.flush_session("s1")).last_error and s,
                         what="the rotation failure")
        root.stop_session("s1")
    assert "trace.1.jsonl is a symbolic link" in stats.last_error
    assert stats.events_lost > 0
    assert victim[0].read_bytes() == victim[1]
    assert (member.home / "trace.1.jsonl").is_symlink()


@pytest.mark.parametrize("render_worker", [False, True], ids=["in-process", "render-worker"])
def test_member_log_in_its_own_directory_is_written_and_belongs_to_it(hub, member, spawn,
                                                                      render_worker):
    """A member's rotating log in its own directory is written in full, every file owned by
    the member (so it can read its own log)."""
    extra = ("--render-worker",) if render_worker else ()
    out = _start(member, hub, member.home / "trace.jsonl", *ROTATE, *extra)
    assert out["ok"] and out["log_file"] == str(member.home / "trace.jsonl")
    provider = spawn("provider", "--socket", str(hub.path), "--count", "2000")
    provider.line()
    assert provider.line()["flushed"]
    with connect(hub.path) as root:
        stats = root.stop_session("s1")
    assert (stats.events_written, stats.events_lost, stats.last_error) == (2000, 0, None)
    files = sorted(member.home.glob("trace*.jsonl"))
    assert len(files) > 2
    for f in files:
        st = f.stat()
        assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (member.uid, member.gid, 0o640)
    log = member.home / "trace.jsonl"  # the reader follows the rotated files
    events = [e for e in read_log(log) if e.provider == "svc-demo"]
    assert sorted(e.fields["n"] for e in events) == list(range(2000))


def test_a_hub_not_running_as_root_refuses_files_for_other_users(member):
    """A hub run by an ordinary user cannot act as another user: it refuses and says why."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the "hub", as the member
        try:
            os.setgroups([])
            os.setresgid(member.gid, member.gid, member.gid)
            os.setresuid(member.uid, member.uid, member.uid)
            PeerOpener(Peer(1, 65534, 65534, frozenset({65534})))(
                member.home / "x.jsonl", os.O_WRONLY | os.O_CREAT)
            os.write(w, b"opened")
        except OSError as exc:
            os.write(w, str(exc).encode())
        finally:
            os._exit(0)
    os.close(w)
    answer = os.read(r, 4096).decode()
    os.close(r)
    os.waitpid(pid, 0)
    assert "cannot open files as uid 65534 (it does not run as root)" in answer
    assert not (member.home / "x.jsonl").exists()


def test_an_open_that_stalls_is_abandoned_after_the_timeout():
    """An opener child that never answers (a hung filesystem) is killed after the timeout and
    the open fails; the hub does not wait forever."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    pid = os.fork()
    if pid == 0:
        time.sleep(30)
        os._exit(0)
    theirs.close()
    t0 = time.monotonic()
    with pytest.raises(OSError) as caught:
        _receive(ours, pid, "/stalled/trace.jsonl", 0.3)
    ours.close()
    assert caught.value.errno == errno.ETIMEDOUT
    assert "opening /stalled/trace.jsonl took longer than 0.3 s" in str(caught.value)
    assert time.monotonic() - t0 < 5
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # already reaped
