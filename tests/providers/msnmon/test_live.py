"""Live monitoring in network namespaces: simulator sessions through NFQUEUE, attributed."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from providers.msnmon import PROVIDER
from providers.msnmon._callouts import CalloutRegistry
from providers.msnmon._control import enable_request
from providers.msnmon._driver import MonitorDriver
from providers.msnmon._live import LiveSession
from providers.netfilter import list_tagged

from .simapps import expected_commands, make_app, observed_commands, run_client, start_server

QUEUE = 41


def test_only_the_monitored_application_is_traced_exactly(topology, tmp_path, state_dir,
                                                         record):
    """The app's session gives exactly the commands it sent and received (its tickets and
    cookies as the monitor's tokens: secrets are not captured by default); the other
    app's session on the same ports is ignored."""
    msn = make_app(tmp_path, "wfpt-msn-client")
    other = make_app(tmp_path, "wfpt-other-app")
    start_server(topology)
    CalloutRegistry().add(QUEUE)
    rec = record()
    with topology.a.enter():
        driver = MonitorDriver()
        live = LiveSession(driver, msn)
        live.start()
    try:
        PROVIDER.control(enable_request())
        theirs = run_client(topology, other, tmp_path / "other.json")
        ours = run_client(topology, msn, tmp_path / "msn.json")
        deadline = time.monotonic() + 10  # the last packets may still be in the queue
        while driver.monitor.stats.commands < len(ours["commands"]) \
                and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        live.close()
        driver.close()
    flows = [e.fields for e in rec.events("FlowEstablished")]
    assert {f["process.executable"] for f in flows} == {msn}
    assert all(f["process.pid"] > 0 for f in flows)
    assert len(flows) == len(ours["connections"])
    their_ports = {c["client"][1] for c in theirs["connections"]}
    assert not their_ports & {f["source.port"] for f in flows}
    commands = [e.fields for e in rec.events("Command")]
    token = driver.monitor.redactor.token
    assert observed_commands(flows, commands) == expected_commands(ours, token)
    assert any("<redacted:hmac:" in " ".join(c["args"]) for c in commands)
    # the other app's first SYN is held; its later sockets are marked at creation
    assert live.errors == 0
    assert live.stats.flows_other + live.stats.sockets_premarked >= len(their_ports)
    assert live.stats.copies_lost == 0 and live.stats.copies_truncated == 0
    (ended,) = [e.fields["detail"] for e in rec.events("MonitorState")
                if e.fields["state"] == "session ended"]
    assert f"{live.stats.flows_marked} flows marked" in ended and "0 lost" in ended


def test_closing_the_session_removes_its_filters(topology, state_dir):
    """The session's tagged rules exist while it runs and are gone after close."""
    CalloutRegistry().add(QUEUE)
    with topology.a.enter():
        driver = MonitorDriver()
        live = LiveSession(driver, "wfpt-msn-client")
        live.start()
        during = list_tagged()
    live.close()
    driver.close()
    with topology.a.enter():
        after = list_tagged()
    assert [t.owner for t in during] and {t.owner for t in during} == {"msnmon"}
    assert after == []


def test_a_suspended_or_killed_monitor_never_stalls_another_application(topology, tmp_path,
                                                                         state_dir):
    """Another application's transfer never pauses while the monitor is suspended
    (SIGSTOP) or after kill -9; its new connections complete: held SYNs on SIGCONT (the
    queue holds only SYNs), at once after kill -9 (queue bypass)."""
    from tests.harness.traffic import Bulk, Servers, short_connection

    from .monproc import cli, kill, start_monitor, stop

    assert cli(topology, state_dir, "addcallouts", "--queue", "53").returncode == 0
    servers = Servers(topology.b, topology.b.ip4, 18660)
    proc = start_monitor(topology, state_dir, "wfpt-msn-client", tmp_path / "m.jsonl")
    bulk = Bulk(topology.a, topology.b.ip4, 18660)
    try:
        time.sleep(0.5)
        t0 = time.monotonic()
        time.sleep(0.5)
        running, _ = bulk.window(t0, time.monotonic())
        kill(proc, signal.SIGSTOP)
        t1 = time.monotonic()
        held: list[float | None] = []
        waiter = threading.Thread(target=lambda: held.append(
            short_connection(topology.a, topology.b.ip4, 18661)))
        waiter.start()
        time.sleep(1.0)
        stopped, gap = bulk.window(t1, time.monotonic())
        # (1 s suspended against 0.5 s running: at least a quarter of the rate, on a
        # shared machine; a held transfer would move nothing)
        assert stopped >= running / 2, "the transfer goes on while suspended"
        assert gap < 0.2, f"the transfer paused {gap:.3f} s while the monitor was suspended"
        kill(proc, signal.SIGCONT)
        waiter.join(5)
        assert held and held[0] is not None, "a SYN held while suspended passes on SIGCONT"
        assert all(short_connection(topology.a, topology.b.ip4, 18661) is not None
                   for _ in range(20))
        kill(proc)
        t2 = time.monotonic()
        took = [short_connection(topology.a, topology.b.ip4, 18661) for _ in range(50)]
        assert all(t is not None and t < 0.2 for t in took), took
        time.sleep(0.5)
        _, gap = bulk.window(t2, time.monotonic())
        assert gap < 0.2, f"the transfer paused {gap:.3f} s after kill -9"
    finally:
        bulk.close()
        stop(proc)
        servers.close()


_MSNP_LINES = (b"VER 1 MSNP8 CVR0\r\nCVR 2 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS "
               b"alice@example.com\r\nUSR 3 TWN I alice@example.com\r\nPNG\r\nCHG 4 NLN 0\r\n"
               b"MSG 5 N 11\r\nhello world")
_MSNP_COMMANDS = [("VER", 1, ["MSNP8", "CVR0"], 0),
                  ("CVR", 2, ["0x0409", "winnt", "5.1", "i386", "MSNMSGR", "6.0.0602", "MSMSGS",
                              "alice@example.com"], 0),
                  ("USR", 3, ["TWN", "I", "alice@example.com"], 0), ("PNG", None, [], 0),
                  ("CHG", 4, ["NLN", "0"], 0), ("MSG", 5, ["N", "11"], 11)]


def _fresh_connection(topo, port: int, sport: int) -> float | None:
    """One connection (seconds) from a new process in ``a``, source port ``sport``."""
    import json
    import subprocess

    from tests.harness import TCPCONN
    from tests.providers.msnmon.simapps import python_binary

    res = subprocess.run(topo.a.argv([python_binary(), TCPCONN, "connect", topo.b.ip4,
                                      str(port), str(sport), "1"]),
                         capture_output=True, text=True, timeout=30)
    out = json.loads(res.stdout)
    return None if out["failures"] else out["durations_ms"][0] / 1000


def _echo_server(ns, addr: str, port: int) -> threading.Thread:
    """Echo one connection's bytes back until its end (an MSNP peer answering in kind)."""
    import socket

    with ns.enter():
        srv = socket.create_server((addr, port))

    def serve() -> None:
        conn, _ = srv.accept()
        with conn, srv:
            while data := conn.recv(65536):
                conn.sendall(data)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread


def _msnp_exchange(topology, argv: list[str]) -> int:
    """Run ``argv`` (a client sending the MSNP lines on stdin) in ``a`` against an echo
    server in ``b`` on port 1863; check it got every line back; return its pid."""
    import subprocess

    server = _echo_server(topology.b, topology.b.ip4, 1863)
    peer = subprocess.Popen(topology.a.argv(argv), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE)
    out, _ = peer.communicate(_MSNP_LINES, timeout=20)
    server.join(10)
    assert out == _MSNP_LINES
    return peer.pid


@pytest.mark.parametrize("client", ["socat", "nc"])
def test_msnp_lines_from_a_non_python_client_are_traced_exactly(topology, tmp_path, state_dir,
                                                               client):
    """socat / nc sending MSNP lines: exactly those commands, both directions, attributed
    to the client's executable and pid."""
    import shutil

    from tracer import read_log

    from .monproc import cli, start_monitor, stop

    exe = shutil.which(client)
    if exe is None:
        pytest.skip(f"{client} is not installed")
    exe = os.path.realpath(exe)
    assert cli(topology, state_dir, "addcallouts", "--queue", "54").returncode == 0
    log = tmp_path / "m.jsonl"
    proc = start_monitor(topology, state_dir, exe, log)
    try:
        argv = ([exe, "-t", "3", "-", f"TCP:{topology.b.ip4}:1863"] if client == "socat"
                else [exe, "-N", topology.b.ip4, "1863"])
        peer_pid = _msnp_exchange(topology, argv)
        time.sleep(0.5)
    finally:
        stop(proc)
    events = list(read_log(str(log)))
    (flow,) = [e.fields for e in events if e.name == "FlowEstablished"]
    assert flow["process.executable"] == exe and flow["process.pid"] == peer_pid
    for direction in ("egress", "ingress"):
        got = [(e.fields["verb"], e.fields["trid"], list(e.fields["args"]),
                e.fields["payload_len"]) for e in events
               if e.name == "Command" and e.fields["network.direction"] == direction]
        assert got == _MSNP_COMMANDS, direction


def test_a_suspended_monitor_releases_held_syns_and_traces_the_stall(topology, tmp_path,
                                                                      state_dir):
    """With the monitor SIGSTOPped, new processes' short connections complete within
    250 ms + RTT; after SIGCONT the monitor traces the stall with its counts and attributes
    new connections again."""
    import re
    import shutil
    import statistics

    from tests.harness.traffic import Servers, short_connection
    from tracer import read_log

    from .monproc import cli, kill, start_monitor, stop

    nc = shutil.which("nc")
    if nc is None:
        pytest.skip("nc is not installed")
    nc = os.path.realpath(nc)
    assert cli(topology, state_dir, "addcallouts", "--queue", "55").returncode == 0
    servers = Servers(topology.b, topology.b.ip4, 18670)
    log = tmp_path / "m.jsonl"
    proc = start_monitor(topology, state_dir, nc, log)
    try:
        base = [short_connection(topology.a, topology.b.ip4, 18671) for _ in range(5)]
        assert all(t is not None for t in base), base
        rtt = statistics.median(t for t in base if t is not None)
        kill(proc, signal.SIGSTOP)
        time.sleep(0.1)
        # new processes: one that connected before is decided by the kernel (owner cache)
        took = [_fresh_connection(topology, 18671, 62700 + i) for i in range(10)]
        kill(proc, signal.SIGCONT)
        assert all(t is not None and t < 0.25 + rtt for t in took), (rtt, took)
        time.sleep(0.3)  # the monitor's loop runs again and reports the stall
        peer_pid = _msnp_exchange(topology, [nc, "-N", topology.b.ip4, "1863"])
        time.sleep(0.5)
    finally:
        stop(proc)
        servers.close()
    events = list(read_log(str(log)))
    stalls = [e.fields["detail"] for e in events
              if e.name == "MonitorState" and e.fields["state"] == "stall-open"]
    assert stalls, "the stall is traced once the monitor runs again"
    released = sum(int(re.match(r"(\d+) SYNs released", d).group(1)) for d in stalls)
    assert released >= len(took), stalls
    (flow,) = [e.fields for e in events if e.name == "FlowEstablished"]
    assert flow["process.executable"] == nc and flow["process.pid"] == peer_pid
    verbs = [e.fields["verb"] for e in events
             if e.name == "Command" and e.fields["network.direction"] == "egress"]
    assert verbs == [c[0] for c in _MSNP_COMMANDS]
