"""The live monitor with its in-kernel owner cache, in network namespaces (root)."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from providers.msnmon import PROVIDER
from providers.msnmon._callouts import CalloutRegistry
from providers.msnmon._control import enable_request
from providers.msnmon._driver import MonitorDriver
from providers.msnmon._live import LiveSession
from providers.netfilter._bpf import loaded_prog_ids
from providers.netfilter._sockowner import PROG_NAME, sock_create_prog_ids
from tests.harness import TCPCONN
from tracer import read_log

from .simapps import make_app, python_binary

QUEUE = 43
PORT = 18690


@pytest.fixture
def sink(topology):
    """tcpconn's sink server on b's PORT."""
    topology.b.spawn([python_binary(), TCPCONN, "serve", str(PORT)])
    topology.b.wait_listening(PORT)
    return PORT


def _live(topology, app: str) -> tuple[MonitorDriver, LiveSession]:
    CalloutRegistry().add(QUEUE)
    with topology.a.enter():
        driver = MonitorDriver()
        live = LiveSession(driver, app)
        live.start()
    PROVIDER.control(enable_request())
    assert live.owner_cache is not None, live.owner_cache_status
    return driver, live


def _connect(topology, exe: str, first: int, count: int) -> dict:
    res = subprocess.run(topology.a.argv([exe, TCPCONN, "connect", topology.b.ip4, str(PORT),
                                          str(first), str(count)]),
                         capture_output=True, text=True, timeout=60, check=True)
    out = json.loads(res.stdout)
    assert out["failures"] == 0
    return out


def test_an_unmonitored_process_holds_only_its_first_syn(topology, tmp_path, state_dir, sink):
    """Of 20 connections of another application only the first SYN is queued (queue
    rule counter and syns_held); the other 19 sockets are marked in the kernel."""
    other = make_app(tmp_path, "wfpt-other-app")
    driver, live = _live(topology, "wfpt-msn-client")
    try:
        _connect(topology, other, 61100, 20)
        premarked = live.owner_cache.premarked if live.owner_cache else 0
        with topology.a.enter():
            queued = live.rules.counters("NFQUEUE") if live.rules else -1
    finally:
        live.close()
        driver.close()
    assert queued == 1 and live.stats.syns_held == 1 and live.stats.flows_other == 1
    assert premarked == 19 and live.stats.sockets_premarked == 19
    assert live.stats.flows_marked == 0 and live.stats.copies == 0 and live.errors == 0


def test_a_process_that_sets_its_own_mark_has_that_syn_held_as_before(topology, tmp_path,
                                                                      state_dir, sink):
    """SO_MARK replaces the kernel's bit: that connection's SYN is queued and decided in
    user space (the process's plain sockets stay decided in the kernel)."""
    other = make_app(tmp_path, "wfpt-other-app")
    script = ("import socket, sys\n"
              "for mark in (None, None, 0x1, None):\n"
              "    s = socket.socket()\n"
              "    if mark: s.setsockopt(socket.SOL_SOCKET, socket.SO_MARK, mark)\n"
              "    s.connect((sys.argv[1], int(sys.argv[2])))\n"
              "    s.close()\n")
    driver, live = _live(topology, "wfpt-msn-client")
    try:
        subprocess.run(topology.a.argv([other, "-c", script, topology.b.ip4, str(PORT)]),
                       check=True, timeout=30)
    finally:
        live.close()
        driver.close()
    assert live.stats.syns_held == 2 and live.stats.flows_other == 2
    assert live.stats.sockets_premarked == 3  # the marked one too, before SO_MARK


@pytest.mark.parametrize("name", ["renamed", "same-name"])
def test_a_process_that_execs_into_the_app_is_attributed_after_the_exec(
        topology, tmp_path, state_dir, sink, record, name):
    """A process that connected as another program and then exec()s the app (a binary
    of another name, or of the same name in another directory: the same comm) has every
    later connection traced with its pid and the app's path; the earlier ones are not."""
    (tmp_path / "app").mkdir()
    (tmp_path / "other").mkdir()
    app = make_app(tmp_path / "app", "wfpt-msn-client")
    other = make_app(tmp_path / "other",
                     "wfpt-msn-client" if name == "same-name" else "wfpt-other-app")
    # tcpconn in this very process first (a child would be another tgid): import its
    # connect() by running the module's source, then connect, then exec into the app
    script = ("import os, runpy, sys\n"
              f"mod = runpy.run_path({TCPCONN!r})\n"
              f"mod['connect']({topology.b.ip4!r}, {PORT}, 61200, 3)\n"
              f"os.execv({app!r}, [{app!r}, {TCPCONN!r}, 'connect', {topology.b.ip4!r}, "
              f"'{PORT}', '61300', '5'])\n")
    rec = record()
    driver, live = _live(topology, app)
    try:
        proc = subprocess.Popen(topology.a.argv([other, "-c", script]), stdout=subprocess.PIPE,
                                text=True)
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0 and json.loads(out)["failures"] == 0
        deadline = time.monotonic() + 5
        while live.stats.flows_marked < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        live.close()
        driver.close()
    flows = {f["source.port"]: (f["process.executable"], f["process.pid"])
             for f in (e.fields for e in rec.events("FlowEstablished"))}
    assert flows == {port: (app, proc.pid) for port in range(61300, 61305)}
    assert live.stats.flows_other == 1 and live.stats.sockets_premarked == 2


_NAMES = (PROG_NAME, "wfpt_unmark", "wfpt_forget")


def _loaded() -> set[int]:
    return {i for name in _NAMES for i in loaded_prog_ids(name)}


def test_kill_9_of_the_monitor_leaves_no_bpf_program(topology, tmp_path, state_dir):
    """After kill -9 of a monitor process its socket program is no longer attached to the
    cgroup2 root and all four of its programs are freed."""
    from .monproc import cli, kill, start_monitor, stop

    assert cli(topology, state_dir, "addcallouts", "--queue", "56").returncode == 0
    before = _loaded()
    proc = start_monitor(topology, state_dir, "wfpt-msn-client", tmp_path / "m.jsonl")
    try:
        attached = set(sock_create_prog_ids()) - before
        ours = _loaded() - before
        assert len(attached) == 1 and len(ours) == 4 and attached <= ours
        kill(proc)
        deadline = time.monotonic() + 5
        while ours & _loaded() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop(proc)
    assert not attached & set(sock_create_prog_ids())
    assert not ours & _loaded()


def test_without_bpf_the_monitor_holds_every_syn_and_says_so(topology, tmp_path, state_dir,
                                                             sink):
    """A monitor refused BPF (no CAP_BPF/CAP_SYS_ADMIN) says so once, holds every SYN,
    and still traces the app's connections with pid and path."""
    from .monproc import PY, cli, stop
    from .test_live import _MSNP_LINES, _echo_server

    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("setpriv is not installed")
    assert cli(topology, state_dir, "addcallouts", "--queue", "57").returncode == 0
    app, other = make_app(tmp_path, "wfpt-msn-client"), make_app(tmp_path, "wfpt-other-app")
    log = tmp_path / "m.jsonl"
    drop = "-bpf,-sys_admin,-perfmon"
    proc = subprocess.Popen(
        topology.a.argv([setpriv, f"--bounding-set={drop}", f"--inh-caps={drop}", *PY,
                         "monitor", app, "--file", str(log)]),
        cwd=Path(__file__).resolve().parents[3], stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    lines = []
    while "Press any key" not in (line := proc.stdout.readline()):
        assert line, "".join(lines)
        lines.append(line)
    try:
        _connect(topology, other, 61400, 10)
        server = _echo_server(topology.b, topology.b.ip4, 1863)
        peer = subprocess.Popen(topology.a.argv([app, "-c", (
            "import socket, sys\ns = socket.create_connection((sys.argv[1], 1863))\n"
            "s.sendall(sys.stdin.buffer.read())\ns.shutdown(1)\nwhile s.recv(65536): pass\n"),
            topology.b.ip4]), stdin=subprocess.PIPE)
        peer.communicate(_MSNP_LINES, timeout=20)
        server.join(10)
        time.sleep(0.5)
    finally:
        out = stop(proc)
    assert [line for line in lines + out.splitlines() if "Owner cache" in line] == [
        next(line for line in lines if "Owner cache off" in line)]
    events = list(read_log(str(log)))
    states = {e.fields["state"]: e.fields["detail"] for e in events if e.name == "MonitorState"}
    assert states["owner-cache"].startswith("off (")
    assert states["session ended"].startswith("11 SYNs held, 1 flows marked, 10 of other")
    assert " 0 sockets marked at creation" in states["session ended"]
    (flow,) = [e.fields for e in events if e.name == "FlowEstablished"]
    assert flow["process.executable"] == app and flow["process.pid"] == peer.pid
