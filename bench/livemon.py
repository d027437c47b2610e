"""Benchmark the live MSN monitor in network namespaces: what it costs everyone else.

The monitor (``wfptrace monitor monitor APP``) runs in namespace ``a``; APP is a
renamed copy of the Python binary. In one run, paired and interleaved (the order
alternates), with the monitor running and not running:

- ``unmonitored_tcp_ratio`` and ``unmonitored_conn_ratio``: an unmonitored application's
  iperf3 a -> b throughput and its short connections (socket, connect, send, close,
  sequential; one over the median time of one), with the monitor over without. Each
  run measures both states (the order alternates), and in each state the traffic
  alternates between ``a`` and an identical namespace pair that is never monitored
  (the twin): connection by connection (sockets made in small batches per namespace,
  each creation timed, so no namespace switch is in a connection's time), and iperf3
  transfer by transfer (``TCP_BYTES`` each, ABBA). A run's ratio is ``a``'s figure over
  the twin's with the monitor, divided by the same with it off: the load drift of a
  shared 2-core machine between the two states cancels (the twin saw it too), and so
  does any asymmetry of the two pairs (the off state measures it:
  ``unmonitored_conn_ratio_null``). Not in the ratios, because the twin pays them too:
  the monitor process's own CPU use (``monitor_cpu_pct``: its processes' CPU time over
  the window, in % of one CPU) and the owner cache's BPF programs' early exit for
  sockets of other namespaces. ``conn_cost_us`` is what the monitor adds to one
  connection (a process's first SYN is held while its owner is looked up, the later
  ones are decided in the kernel by the owner cache).
  ``unmonitored_conn_ratio_sequential`` and ``held_syn_us`` are the older design, kept
  for comparison: ``a`` alone, off then on, half a second each; a load swing between
  the two halves of a pair moves it by tens of percent.
- ``unmonitored_packets_copied``: packets of those unmonitored flows the NFLOG rules
  copied to the monitor (counters of its rules; 0 expected).
- ``monitored_commands_exact``: 1 if the monitor traced exactly the MSNP commands of
  the simulator's scripted session (its transcript), run as APP, else 0.
- ``attribution_accuracy``: of connections shorter than 5 ms opened at the same time
  by APP and by another executable, the share attributed right (APP's traced with
  its pid, the other's not traced).
- ``stall_resume_ms``: after SIGSTOP of the monitor, how long until an unmonitored
  application's traffic flows again: the longest pause of an established transfer
  and the wait of a new connection (of a new process: one that connected before is
  decided by the kernel's owner cache and never waits), whichever is longer. Its SYN
  waits in the queue until the monitor's stall watchdog (a process of its own)
  releases it; SIGCONT comes ``stop_window_ms`` after the SIGSTOP, so a wait that
  long means the watchdog did not act. ``established_stall_ms`` is the transfer's
  pause alone.

Namespace ``a`` has a stateful host firewall (an ``ESTABLISHED,RELATED`` accept rule), as
hosts do, so connection tracking runs in both states and the ratios show the monitor's
own cost; its rules need conntrack, and on a host that tracks nothing turning it on costs
more: ``conntrack_tcp_ratio`` (full runs only) is iperf3 with only a conntrack rule over
none. Each paired figure is reported as its median with ``_min``/``_max`` over the runs.
Usage: ``python bench/livemon.py [--quick]``; the last stdout line is the JSON result.
"""

# ruff: noqa: E402  (imports follow the sys.path fix below)
from __future__ import annotations

import os
import sys

# bench/inspect.py is named like the stdlib module: take this folder off sys.path before
# anything imports ``inspect``.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]

import argparse
import contextlib
import itertools
import json
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench._common import emit, progress, spread
from tests.harness import (
    TCPCONN,
    Namespace,
    Topology,
    build_topology,
    netns_unavailable_reason,
)
from tests.harness.traffic import Bulk, Servers
from tracer import read_log

QUEUE = 1863
IPERF_PORT = 5201
SHORT_PORT = 18800  # Servers: sink on it, accept-and-close on +1
SIM_PORT = 18630
CONN_PORT = 18900
TCP_BYTES = "768M"  # one iperf3 transfer of the alternating series (~0.5-1 s here)
_S = TypeVar("_S")


def _python() -> str:
    for cand in ("/usr/bin/python3.11", "/usr/bin/python3", sys.executable):
        real = os.path.realpath(cand)
        if os.path.exists(real):
            return real
    raise FileNotFoundError("no python binary to copy")


def _app(tmp: Path, name: str) -> str:
    dst = tmp / name
    shutil.copy2(_python(), dst)
    return os.path.realpath(dst)


class Monitor:
    """``python -m providers.msnmon monitor APP`` in namespace ``a``."""

    def __init__(self, topo: Topology, state: Path, app: str, log: Path,
                 extra: tuple[str, ...] = ()) -> None:
        env = {**os.environ, "WFPTRACE_STATE_DIR": str(state)}
        self.proc = subprocess.Popen(
            topo.a.argv([sys.executable, "-m", "providers.msnmon", "monitor", app, "--file",
                         str(log), *extra]), cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert self.proc.stdout is not None
        while "Press any key" not in (line := self.proc.stdout.readline()):
            if not line:
                raise RuntimeError("the monitor did not start")

    def signal(self, sig: int) -> None:
        os.kill(self.proc.pid, sig)

    def wait_stopped(self, timeout: float = 1.0) -> None:
        """Return once the monitor is in state T (a SIGSTOP takes effect asynchronously)."""
        deadline = time.monotonic() + timeout
        stat = Path(f"/proc/{self.proc.pid}/stat")
        while stat.read_bytes().rsplit(b")", 1)[-1].split()[:1] != [b"T"]:
            if time.monotonic() > deadline:
                raise RuntimeError("the monitor did not stop on SIGSTOP")
            time.sleep(0.001)

    def stop(self) -> str:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGCONT)
        self.proc.terminate()
        out, _ = self.proc.communicate(timeout=30)
        return out or ""


@contextlib.contextmanager
def monitoring(topo: Topology, state: Path, app: str, log: Path,
               extra: tuple[str, ...] = ()) -> Iterator[Monitor]:
    mon = Monitor(topo, state, app, log, extra)
    try:
        yield mon
    finally:
        mon.stop()


# -- measurements ------------------------------------------------------------------------
def tcp_gbps(topo: Topology, seconds: float, nbytes: str = "") -> float:
    """iperf3 a -> b throughput in Gbit/s (for ``seconds``, or ``nbytes`` such as 512M)."""
    server = topo.b.spawn(["iperf3", "-s", "-1", "-p", str(IPERF_PORT)])
    topo.b.wait_listening(IPERF_PORT)
    amount = ["-n", nbytes] if nbytes else ["-t", str(max(1, round(seconds)))]
    try:
        res = topo.a.run(["iperf3", "-c", topo.b.ip4, "-p", str(IPERF_PORT), *amount, "-J"],
                         timeout=seconds + 30)
        return float(json.loads(res.stdout)["end"]["sum_received"]["bits_per_second"]) / 1e9
    finally:
        server.wait(10)


def conn_rate(topo: Topology, seconds: float) -> float:
    """Short connections per second from ``a`` (this process: unmonitored), sequential:
    one over the median time a connection takes (robust to the load spikes of a shared
    machine, which a plain count over a second is not)."""
    took = []
    end = time.monotonic() + seconds
    with topo.a.enter():
        while time.monotonic() < end:
            start = time.perf_counter()
            s = socket.socket()
            s.settimeout(5)
            with contextlib.suppress(OSError):
                s.connect((topo.b.ip4, SHORT_PORT + 1))
                s.sendall(b"x")
                s.close()
                took.append(time.perf_counter() - start)
            s.close()
    return 1 / statistics.median(took) if took else 0.0


def _sockets(ns: Namespace, count: int) -> list[tuple[socket.socket, float]]:
    """``count`` TCP sockets made in ``ns``, each with the seconds its creation took (the
    owner cache's program runs there); made in a batch, so the namespace switch is not
    in any connection's time."""
    made = []
    with ns.enter():
        for _ in range(count):
            start = time.perf_counter()
            sock = socket.socket()
            made.append((sock, time.perf_counter() - start))
    return made


def _one_conn(sock: socket.socket, created: float, dst: str) -> float | None:
    """Connect, send, close: the seconds it took plus the socket's creation."""
    start = time.perf_counter()
    with sock, contextlib.suppress(OSError):
        sock.settimeout(5)
        sock.connect((dst, SHORT_PORT + 1))
        sock.sendall(b"x")
        sock.close()
        return time.perf_counter() - start + created
    return None


def conn_times(topo: Topology, twin: Topology, seconds: float) -> tuple[float, float]:
    """Median seconds of one connection from ``topo.a`` and from ``twin.a``, the two
    alternating connection by connection in one window."""
    took: tuple[list[float], list[float]] = ([], [])
    end = time.monotonic() + seconds
    pairs = (topo, twin)
    while time.monotonic() < end:
        batches = [_sockets(p.a, 32) for p in pairs]
        for i in range(64):
            side = i % 2
            sock, created = batches[side][i // 2]
            if (t := _one_conn(sock, created, pairs[side].b.ip4)) is not None:
                took[side].append(t)
    return statistics.median(took[0]), statistics.median(took[1])


def tcp_alternating(topo: Topology, twin: Topology, nbytes: str,
                    rounds: int) -> tuple[float, float]:
    """Median iperf3 Gbit/s of ``topo`` and of ``twin``, transfers alternating (ABBA...)."""
    got: tuple[list[float], list[float]] = ([], [])
    for i in range(rounds):
        for side in ((0, 1) if i % 2 == 0 else (1, 0)):
            got[side].append(tcp_gbps((topo, twin)[side], 1.0, nbytes))
    return statistics.median(got[0]), statistics.median(got[1])


def _cpu_ns(pid: int) -> int:
    """CPU nanoseconds of a process's threads and its children's (the stall watchdog)."""
    total = 0
    pids = [pid]
    with contextlib.suppress(OSError):
        pids += [int(c) for t in os.listdir(f"/proc/{pid}/task")
                 for c in Path(f"/proc/{pid}/task/{t}/children").read_text().split()]
    for p in pids:
        with contextlib.suppress(OSError):
            for task in os.listdir(f"/proc/{p}/task"):
                with contextlib.suppress(OSError):
                    total += int(Path(f"/proc/{p}/task/{task}/schedstat").read_text().split()[0])
    return total


def _nflog_hits(topo: Topology) -> int:
    """Packets the monitor's NFLOG rules matched (its copies), both families."""
    total = 0
    for exe in ("iptables-save", "ip6tables-save"):
        for line in topo.a.run([exe, "-c", "-t", "mangle"]).stdout.splitlines():
            if "wfptrace:msnmon" in line and "-j NFLOG" in line:
                total += int(line[1:line.index(":")])
    return total


_STATEFUL = ["-A", "INPUT", "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j",
             "ACCEPT"]


def conntrack_ratios(topo: Topology, seconds: float, runs: int) -> list[float]:
    """iperf3 with a conntrack rule over without, per run (before the stateful firewall)."""
    ratios = []
    for _ in range(runs):
        plain = tcp_gbps(topo, seconds)
        topo.a.run(["iptables", "-w", *_STATEFUL])
        tracked = tcp_gbps(topo, seconds)
        topo.a.run(["iptables", "-w", "-D", *_STATEFUL[1:]])
        ratios.append(tracked / plain)
    return ratios


def paired_states(runs: int, measure: Callable[[bool], _S]) -> tuple[list[_S], list[_S]]:
    """``measure(monitored)`` for both states per run, the order alternating."""
    got: dict[bool, list[_S]] = {False: [], True: []}
    for i in range(runs):
        for on in ((False, True) if i % 2 == 0 else (True, False)):
            got[on].append(measure(on))
    return got[False], got[True]


def monitored_commands_exact(topo: Topology, state: Path, app: str, tmp: Path) -> int:
    """The simulator's scripted session as APP: 1 if the trace has exactly its commands."""
    transcript, log = tmp / "sim.json", tmp / "sim.jsonl"
    # the transcript has the session's tickets and cookies in clear: so must the trace
    with monitoring(topo, state, app, log, ("--capture-secrets", "--capture-bodies")):
        subprocess.run(topo.a.argv([app, "-m", "samples.msnsim", "client", "--host",
                                    topo.b.ip4, "--port-base", str(SIM_PORT), "--transcript",
                                    str(transcript)]),
                       cwd=ROOT, check=True, capture_output=True, timeout=60)
        time.sleep(0.5)
    want = json.loads(transcript.read_text())
    ports = {c["id"]: c["client"][1] for c in want["connections"]}
    expected = sorted((ports[c["conn"]], c["dir"], c["verb"], c["trid"], tuple(c["args"]),
                       c["payload_len"]) for c in want["commands"])
    events = list(read_log(str(log)))
    flows = {e.fields["network.community_id"]: e.fields["source.port"] for e in events
             if e.name == "FlowEstablished"}
    dirs = {"egress": "sent", "ingress": "received"}
    got = sorted((flows[e.fields["network.community_id"]],
                  dirs[e.fields["network.direction"]], e.fields["verb"],
                  e.fields["trid"], tuple(e.fields["args"]), e.fields["payload_len"])
                 for e in events if e.name == "Command")
    return int(got == expected and len(expected) > 0)


def attribution_accuracy(topo: Topology, state: Path, app: str, other: str, tmp: Path,
                         count: int) -> tuple[float, int]:
    """Short connections of APP and of another executable at once: the share attributed
    right among those under 5 ms, and how many that was."""
    log = tmp / "attr.jsonl"
    firsts = {app: 61000, other: 63000}  # above the ephemeral range: never in use
    with monitoring(topo, state, app, log):
        procs = {exe: subprocess.Popen(topo.a.argv([exe, TCPCONN, "connect", topo.b.ip4,
                                                    str(CONN_PORT), str(first), str(count)]),
                                       stdout=subprocess.PIPE, text=True)
                 for exe, first in firsts.items()}
        results = {exe: (p.pid, json.loads(p.communicate(timeout=60)[0]))
                   for exe, p in procs.items()}
        time.sleep(0.5)
    traced = {e.fields["source.port"]: (e.fields["process.executable"], e.fields["process.pid"])
              for e in read_log(str(log)) if e.name == "FlowEstablished"}
    right = total = 0
    for exe, (pid, res) in results.items():
        if res["failures"]:
            raise RuntimeError(f"{exe}: {res['failures']} connections failed")
        for i, ms in enumerate(res["durations_ms"]):
            if ms >= 5:
                continue
            total += 1
            port = firsts[exe] + i
            right += traced.get(port) == (app, pid) if exe == app else port not in traced
    return (right / total if total else 0.0), total


def stall(topo: Topology, state: Path, app: str, tmp: Path, window: float) -> dict[str, float]:
    """SIGSTOP the monitor under an unmonitored transfer and a new connection; SIGCONT
    after ``window`` s. The transfer's longest pause and the connection's wait (ms)."""
    with monitoring(topo, state, app, tmp / "stall.jsonl") as mon:
        bulk = Bulk(topo.a, topo.b.ip4, SHORT_PORT)
        try:
            time.sleep(0.3)
            mon.signal(signal.SIGSTOP)
            t0 = time.monotonic()
            mon.wait_stopped()
            waited: list[float | None] = []
            conn = threading.Thread(target=lambda: waited.append(
                fresh_connection(topo, SHORT_PORT + 1)))
            conn.start()
            time.sleep(window)
            _, pause = bulk.window(t0, time.monotonic())
            mon.signal(signal.SIGCONT)
            conn.join(window + 10)
        finally:
            bulk.close()
    wait = waited[0] if waited and waited[0] is not None else float("inf")
    return {"established_stall_ms": pause * 1000, "new_conn_wait_ms": wait * 1000}


_FRESH_PORTS = itertools.count(62900)  # above the ephemeral range, one per connection


def fresh_connection(topo: Topology, port: int) -> float | None:
    """One connection (seconds) from a process that never connected before: the owner
    cache knows nothing of it, so its SYN is held (a process that already connected,
    like this one, is decided in the kernel and would not measure the watchdog)."""
    res = topo.a.run([_python(), TCPCONN, "connect", topo.b.ip4, str(port),
                      str(next(_FRESH_PORTS)), "1"],
                     check=False, timeout=30)
    with contextlib.suppress(ValueError, KeyError, IndexError):
        out = json.loads(res.stdout)
        if not out["failures"]:
            return float(out["durations_ms"][0]) / 1000
    return None


@dataclass
class _State:
    """One state's figures in one run: ``a`` and the twin, alternating."""

    conn_s: tuple[float, float]
    gbps: tuple[float, float]
    conn_per_s_seq: float
    monitor_cpu_pct: float = 0.0
    copied: int = 0


def _measure(topo: Topology, twin: Topology, seconds: float, mon: Monitor | None) -> _State:
    cpu0, t0 = (_cpu_ns(mon.proc.pid) if mon else 0), time.monotonic()
    st = _State(conn_times(topo, twin, seconds),
                tcp_alternating(topo, twin, TCP_BYTES, 2), conn_rate(topo, seconds / 2))
    if mon is not None:
        st.monitor_cpu_pct = (_cpu_ns(mon.proc.pid) - cpu0) / 1e7 / (time.monotonic() - t0)
        st.copied = _nflog_hits(topo)
    return st


def unmonitored(topo: Topology, twin: Topology,
                monitor: Callable[[], contextlib.AbstractContextManager[Monitor]],
                runs: int, seconds: float) -> dict[str, float]:
    """The unmonitored application's figures, monitor off and on (see the module doc)."""
    def measure(on: bool) -> _State:
        if not on:
            return _measure(topo, twin, seconds, None)
        with monitor() as mon:
            return _measure(topo, twin, seconds, mon)

    offs, ons = paired_states(runs, measure)
    pairs = list(zip(offs, ons, strict=True))
    m: dict[str, float] = {}
    # times: twin over a is a's rate over the twin's; throughput: a over the twin
    m.update(spread("unmonitored_conn_ratio", [
        (on.conn_s[1] / on.conn_s[0]) / (off.conn_s[1] / off.conn_s[0]) for off, on in pairs]))
    m.update(spread("unmonitored_tcp_ratio", [
        (on.gbps[0] / on.gbps[1]) / (off.gbps[0] / off.gbps[1]) for off, on in pairs]))
    m.update(spread("conn_cost_us", [
        ((on.conn_s[0] - on.conn_s[1]) - (off.conn_s[0] - off.conn_s[1])) * 1e6
        for off, on in pairs]))
    m.update(spread("conn_us", [on.conn_s[0] * 1e6 for on in ons]))
    m.update(spread("conn_unmonitored_us", [off.conn_s[0] * 1e6 for off in offs]))
    m.update(spread("unmonitored_conn_ratio_null", [off.conn_s[1] / off.conn_s[0]
                                                    for off in offs]))
    m.update(spread("tcp_gbps", [on.gbps[0] for on in ons]))
    m.update(spread("tcp_unmonitored_gbps", [off.gbps[0] for off in offs]))
    m.update(spread("monitor_cpu_pct", [on.monitor_cpu_pct for on in ons]))
    m.update(spread("unmonitored_conn_ratio_sequential", [
        on.conn_per_s_seq / off.conn_per_s_seq for off, on in pairs]))
    m.update(spread("held_syn_us", [1e6 / on.conn_per_s_seq - 1e6 / off.conn_per_s_seq
                                    for off, on in pairs]))
    m["unmonitored_packets_copied"] = sum(on.copied for on in ons)
    return m


# -- the run -------------------------------------------------------------------------------
def run(quick: bool) -> dict[str, object]:
    """Every measurement in one topology."""
    seconds, runs, count, window = (1.0, 4, 100, 1.0) if quick else (3.0, 6, 300, 2.0)
    topo = build_topology(2)
    twin = build_topology(2)  # the same pair, never monitored (interleaved connections)
    m: dict[str, object] = {}
    try:
        with tempfile.TemporaryDirectory() as tmpdir:
            tmp = Path(tmpdir)
            state = tmp / "state"
            env = {**os.environ, "WFPTRACE_STATE_DIR": str(state)}
            subprocess.run([sys.executable, "-m", "providers.msnmon", "addcallouts", "--queue",
                            str(QUEUE)], cwd=ROOT, env=env, check=True, capture_output=True)
            app, other = _app(tmp, "wfpt-msn-client"), _app(tmp, "wfpt-other-app")
            servers = Servers(topo.b, topo.b.ip4, SHORT_PORT)
            twin_servers = Servers(twin.b, twin.b.ip4, SHORT_PORT)
            topo.b.spawn([_python(), "-m", "samples.msnsim", "server", "--host", topo.b.ip4,
                          "--port-base", str(SIM_PORT)], cwd=str(ROOT))
            topo.b.spawn([_python(), TCPCONN, "serve", str(CONN_PORT)])
            for port in (SIM_PORT, SIM_PORT + 1, SIM_PORT + 2, CONN_PORT):
                topo.b.wait_listening(port, timeout=15)
            try:
                if not quick:
                    progress("the cost of conntrack itself")
                    m.update(spread("conntrack_tcp_ratio",
                                    conntrack_ratios(topo, seconds, runs)))
                for exe in ("iptables", "ip6tables"):
                    topo.a.run([exe, "-w", *_STATEFUL])
                    twin.a.run([exe, "-w", *_STATEFUL])
                progress("unmonitored throughput and connections, monitor off/on, "
                         "alternating with the twin pair")
                m.update(unmonitored(topo, twin, lambda: monitoring(topo, state, app,
                                                                    tmp / "m.jsonl"),
                                     runs, seconds))
                progress("monitored: the simulator's session")
                m["monitored_commands_exact"] = monitored_commands_exact(topo, state, app, tmp)
                progress("attribution of short connections")
                m["attribution_accuracy"], m["attribution_connections"] = (
                    attribution_accuracy(topo, state, app, other, tmp, count))
                progress("stall: SIGSTOP of the monitor")
                stalls = [stall(topo, state, app, tmp, window) for _ in range(max(1, runs - 3))]
                for key in ("established_stall_ms", "new_conn_wait_ms"):
                    m.update(spread(key, [s[key] for s in stalls]))
                m.update(spread("stall_resume_ms", [max(s.values()) for s in stalls]))
                m["stop_window_ms"] = window * 1000
            finally:
                servers.close()
                twin_servers.close()
    finally:
        topo.close()
        twin.close()
    m["runs"] = runs
    return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in m.items()}


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="short runs (under a minute)")
    a = p.parse_args(argv)
    reason = netns_unavailable_reason()
    if reason:
        emit("livemon", {}, {"error": reason})
        return 1
    t0 = time.monotonic()
    m = run(a.quick)
    progress(f"done in {time.monotonic() - t0:.0f} s")
    ratios = {"unmonitored_tcp_ratio": m["unmonitored_tcp_ratio"],
              "unmonitored_conn_ratio": m["unmonitored_conn_ratio"]}
    emit("livemon", m, ratios)
    return 0


if __name__ == "__main__":
    socket.setdefaulttimeout(30)
    sys.exit(main())
