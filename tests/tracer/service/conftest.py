"""Fixtures for the hub service tests: a hub process and helpers for child processes."""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import secrets
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

ROOT = Path(__file__).resolve().parents[3]


class Child:
    """A child process whose stdout is JSON lines, read with a timeout."""

    def __init__(self, args: list[str], stdin: bool = False) -> None:
        self.proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True,
                                     stdin=subprocess.PIPE if stdin else subprocess.DEVNULL)
        self.pid = self.proc.pid

    def line(self, timeout: float = 15.0) -> dict[str, Any]:
        """The next JSON line, failing the test if none arrives in time."""
        assert self.proc.stdout is not None
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout):
            pytest.fail(f"no output from {self.proc.args} within {timeout}s")
        text = self.proc.stdout.readline()
        if not text:
            err = self.proc.stderr.read() if self.proc.stderr else ""
            pytest.fail(f"{self.proc.args} exited ({self.proc.wait()}): {err}")
        return orjson.loads(text)

    def tell(self, text: str = "go") -> None:
        """Write a line to the child's stdin."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def stop(self) -> None:
        """Kill the child if it still runs."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)


class HubProcess(Child):
    """``python -m tracer.service`` on a socket in a private directory."""

    def __init__(self, path: Path, *extra: str) -> None:
        super().__init__([sys.executable, "-m", "tracer.service", "--socket", str(path),
                          *extra])
        self.path = path
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX) as s:
                s.connect(str(path))
                return
            if self.proc.poll() is not None:
                pytest.fail(f"hub exited: {self.proc.stderr.read() if self.proc.stderr else ''}")
            time.sleep(0.05)
        self.stop()
        pytest.fail("the hub did not start listening")

    def terminate(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> tuple[int, str]:
        """Signal the hub and return its exit status and stderr."""
        self.proc.send_signal(sig)
        _, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, err


@pytest.fixture
def sock_dir() -> Iterator[Path]:
    """A world-traversable private directory (so a test uid can reach the socket)."""
    d = Path(tempfile.mkdtemp(prefix="wfptrace-svc-"))
    d.chmod(0o755)
    yield d
    subprocess.run(["rm", "-rf", str(d)], check=False)


@pytest.fixture
def start_hub(sock_dir: Path) -> Iterator[Callable[..., HubProcess]]:
    """Start hub processes on ``sock_dir/hub.sock``; every one is stopped after the test."""
    hubs: list[HubProcess] = []

    def start(*extra: str) -> HubProcess:
        hub = HubProcess(sock_dir / "hub.sock", *extra)
        hubs.append(hub)
        return hub
    yield start
    for hub in hubs:
        if hub.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(hub.pid, signal.SIGCONT)
        hub.stop()


@pytest.fixture
def hubd(start_hub: Callable[..., HubProcess]) -> HubProcess:
    """A running hub process."""
    return start_hub()


@pytest.fixture
def spawn() -> Iterator[Callable[..., Child]]:
    """Run roles of ``tests.tracer.service.procs`` in child processes (killed after)."""
    children: list[Child] = []

    def run(*args: str, stdin: bool = False) -> Child:
        child = Child([sys.executable, "-m", "tests.tracer.service.procs", *args], stdin)
        children.append(child)
        return child
    yield run
    for child in children:
        child.stop()


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "") -> Any:
    """Poll ``predicate`` until it returns a true value; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.01)
    pytest.fail(f"timed out waiting for {what or predicate}")


@dataclass(frozen=True)
class Member:
    """A real user created for a test, in a fresh group the hub is started with."""

    user: str
    uid: int
    gid: int
    group: str
    group_gid: int
    #: A directory of the member's own (mode 0755); its parent belongs to root.
    home: Path

    def run(self, *args: str, timeout: float = 60.0) -> dict[str, Any]:
        """Run a role of ``tests.tracer.service.procs`` as this user; its last JSON line."""
        as_user = f"{self.uid}:{self.gid}:{self.gid},{self.group_gid}"
        proc = subprocess.run([sys.executable, "-m", "tests.tracer.service.procs", *args,
                               "--as-user", as_user], cwd=ROOT, capture_output=True,
                              text=True, timeout=timeout, check=False)
        if proc.returncode != 0 or not proc.stdout.strip():
            pytest.fail(f"{args[0]} as {self.user} exited {proc.returncode}: {proc.stderr}")
        return orjson.loads(proc.stdout.splitlines()[-1])


def _run_quietly(*cmd: str) -> None:
    subprocess.run(cmd, check=False, capture_output=True)


@contextlib.contextmanager
def created_member() -> Iterator[Member]:
    """A fresh user in a fresh group (useradd/groupadd), removed afterwards even on failure."""
    tag = f"{os.getpid() % 100000}{secrets.token_hex(2)}"
    user, group = f"wfptu{tag}", f"wfptg{tag}"
    base = Path(tempfile.mkdtemp(prefix="wfptrace-member-"))
    try:
        subprocess.run(["groupadd", group], check=True, capture_output=True)
        subprocess.run(["useradd", "--no-create-home", "--user-group", "--shell",
                        "/usr/sbin/nologin", "--groups", group, user],
                       check=True, capture_output=True)
        pw = pwd.getpwnam(user)
        base.chmod(0o755)
        home = base / user
        home.mkdir(mode=0o755)
        os.chown(home, pw.pw_uid, pw.pw_gid)
        yield Member(user, pw.pw_uid, pw.pw_gid, group, grp.getgrnam(group).gr_gid, home)
    finally:
        _run_quietly("userdel", user)
        _run_quietly("groupdel", group)
        _run_quietly("rm", "-rf", str(base))


def _need_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to create a user and a group (useradd, groupadd)")


@pytest.fixture
def member() -> Iterator[Member]:
    """A fresh user and hub group (useradd/groupadd), removed after the test even on failure."""
    _need_root()
    with created_member() as made:
        yield made


@pytest.fixture
def new_member() -> Iterator[Callable[[], Member]]:
    """Make fresh users, each in its own fresh group; all removed after the test."""
    _need_root()
    with contextlib.ExitStack() as stack:
        yield lambda: stack.enter_context(created_member())
