"""Benchmark the inspect provider inside network namespaces (one run, medians).

The inspector runs in namespace ``a`` with ``remote_address`` = b's address,
the static decider in permit mode: every packet is decided by the worker.

- ``udp_zero_loss_pps``: highest paced rate of 64-byte UDP datagrams a -> b
  delivered complete (sent == counted by a rule in b) through the inspector.
- ``netfilterqueue_zero_loss_pps``: the same search with a minimal
  NetfilterQueue (libnetfilter_queue) accept loop on a plain queue rule.
- ``udp_no_inspection_pps``: an unpaced flood without any queue.
- ``tcp_gbps`` / ``tcp_no_inspection_gbps``: iperf3 a -> b with and without the
  inspector (every segment queued, GSO super-packets, header-only copies).
- ``added_latency_p50_ms`` / ``_p99_ms``: ICMP echo round trips with the
  inspector minus without (both ways queued: request out, reply in).
- ``tracing_overhead_pct``: unpaced UDP throughput lost when a trace session
  enables the provider (connect, worker, config; per-packet events off).
- ``stall_resume_ms``: the longest pause of an echo exchange a -> b (TCP, one
  small message at a time) after SIGSTOP of the inspector: how long until its
  stall watchdog lets the held traffic go (target <= 250).

Every figure measured over several runs is the median; ``NAME_min`` and
``NAME_max`` give the spread over the runs (for a paired figure, the spread of
the per-run pairs, each measured back to back in the same conditions).

Usage: ``python bench/inspect.py [--quick]``; the last stdout line is the JSON result.
"""

# ruff: noqa: E402  (imports follow the sys.path fix below)
from __future__ import annotations

import os
import sys

# This file is named like the stdlib module: take its folder off sys.path before
# anything imports ``inspect`` (dataclasses does), or that import would load us.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]

import argparse
import contextlib
import itertools
import json
import select
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench._common import emit, progress, spread
from providers.netfilter import QueueRule, QueueRules
from tests.harness import Namespace, Topology, build_topology, netns_unavailable_reason

FLOOD = str(ROOT / "tests" / "harness" / "udpflood.py")
UDP_PORT = 9
TCP_PORT = 5201
ECHO_PORT = 7001
NFQ_QUEUE = 77
#: Sender and consumer (inspector or NetfilterQueue loop) on separate CPUs, so one
#: does not starve the other on this 2-core box.
SENDER_CPU, CONSUMER_CPU = 0, 1
_PIN = ["taskset", "-c", str(CONSUMER_CPU)]


# -- a minimal NetfilterQueue accept loop (the peer), run inside namespace a ---------------
def _netfilterqueue_missing() -> str | None:
    try:
        import netfilterqueue  # type: ignore[import-not-found]  # noqa: F401
    except ImportError as exc:
        return f"NetfilterQueue binding not installed: {exc}"
    return None


def netfilterqueue_main(queue: int, seconds: float) -> int:
    """Accept every packet of ``queue`` for ``seconds`` or until SIGTERM (subprocess entry)."""
    from netfilterqueue import NetfilterQueue  # type: ignore[import-not-found]

    nfq = NetfilterQueue()
    nfq.bind(queue, lambda pkt: pkt.accept(), max_len=8192, sock_len=32 << 20)
    print("ready", flush=True)
    fd, end = nfq.get_fd(), time.monotonic() + seconds
    while time.monotonic() < end:
        select.select([fd], [], [], 0.05)
        nfq.run(block=False)
    nfq.unbind()
    return 0


# -- the inspector process -----------------------------------------------------------------
class Inspector:
    """``python -m providers.inspect start`` in namespace a (optionally traced)."""

    def __init__(self, topo: Topology, tmp: Path, trace: bool = False, pin: bool = True) -> None:
        self.topo, self.run_dir = topo, tmp / "run"
        argv = [*(_PIN if pin else []), sys.executable, "-m", "providers.inspect", "--run-dir",
                str(self.run_dir), "start", "--remote", topo.b.ip4]
        if trace:
            argv += ["--trace", str(tmp / "trace.jsonl")]
        self.proc = topo.a.spawn(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 text=True, cwd=ROOT)
        line = self.proc.stdout.readline()  # type: ignore[union-attr]
        if "started" not in line:
            raise RuntimeError(f"inspector did not start: {line}")

    def close(self) -> None:
        """SIGTERM: what ``inspect stop`` sends."""
        self.proc.terminate()
        self.proc.wait(20)


@contextlib.contextmanager
def inspecting(topo: Topology, tmp: Path, trace: bool = False,
               pin: bool = True) -> Iterator[Inspector]:
    """An inspector for the ``with`` body; ``pin`` puts it on CONSUMER_CPU (UDP runs)."""
    insp = Inspector(topo, tmp, trace, pin)
    try:
        yield insp
    finally:
        insp.close()


@contextlib.contextmanager
def netfilterqueue(topo: Topology, seconds: float) -> Iterator[None]:
    """The NetfilterQueue accept loop on a plain rule for UDP to b's port."""
    with topo.a.enter():
        rules = QueueRules("benchinspect", [QueueRule(NFQ_QUEUE, protocol="udp", dport=UDP_PORT,
                                                      family="ipv4", dst=topo.b.ip4)])
    proc = topo.a.spawn([*_PIN, sys.executable, __file__, "--netfilterqueue", str(seconds)],
                        stdout=subprocess.PIPE, text=True)
    if proc.stdout.readline().strip() != "ready":  # type: ignore[union-attr]
        raise RuntimeError("NetfilterQueue consumer did not start")
    try:
        with rules:
            yield
    finally:
        proc.terminate()
        proc.wait(30)


# -- traffic -------------------------------------------------------------------------------
def _delivered(topo: Topology) -> int:
    """Datagrams counted by b's rule since the last call (then zeroed)."""
    out = topo.b.run(["iptables", "-w", "-nvxL", "INPUT", "-Z"]).stdout
    for line in out.splitlines():
        if f"udp dpt:{UDP_PORT}" in line:
            return int(line.split()[0])
    raise RuntimeError("counting rule missing")


def _flood(topo: Topology, seconds: float, rate: float | None = None) -> tuple[int, float]:
    argv = [sys.executable, FLOOD, topo.b.ip4, str(UDP_PORT), "--seconds", str(seconds),
            "--cpu", str(SENDER_CPU)]
    if rate:
        argv += ["--rate", str(rate)]
    data = json.loads(topo.a.run(argv, timeout=seconds + 30).stdout.strip().splitlines()[-1])
    return int(data["sent"]), float(data["elapsed"])


def udp_rate(topo: Topology, seconds: float) -> float:
    """Delivered datagrams/s of an unpaced flood."""
    _delivered(topo)
    _sent, elapsed = _flood(topo, seconds)
    time.sleep(0.2)
    return _delivered(topo) / elapsed


def _cpu_ns(pid: int) -> int:
    """Nanoseconds on a CPU of all of a process's threads (scheduler statistics: clock
    ticks, 10 ms each, would be a few percent off on a one-second flood)."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{task}/schedstat") as f:
            total += int(f.read().split()[0])
    return total


def udp_rate_and_cost(topo: Topology, seconds: float, pid: int) -> tuple[float, float]:
    """Delivered datagrams/s of an unpaced flood and the inspector's CPU us per datagram."""
    _delivered(topo)
    before = _cpu_ns(pid)
    _sent, elapsed = _flood(topo, seconds)
    time.sleep(0.2)
    got = _delivered(topo)
    return got / elapsed, (_cpu_ns(pid) - before) / 1000 / max(got, 1)


def zero_loss(topo: Topology, rate: float, seconds: float) -> tuple[bool, float]:
    """Whether a paced flood at ``rate`` arrives complete; and the rate achieved."""
    _delivered(topo)
    sent, elapsed = _flood(topo, seconds, rate)
    time.sleep(0.3)
    return _delivered(topo) == sent, sent / elapsed


def zero_loss_search(topo: Topology, setup: Callable[[float], contextlib.AbstractContextManager],
                     rates: list[int], seconds: float) -> tuple[float, list[dict]]:
    """The highest rate of ``rates`` (ascending) that is delivered with zero loss."""
    best, tried = 0.0, []
    with setup(len(rates) * (seconds + 2) + 10):
        for rate in rates:
            ok, achieved = zero_loss(topo, rate, seconds)
            tried.append({"rate": rate, "achieved": round(achieved), "zero_loss": ok})
            if not ok:
                break
            best = max(best, achieved)
    return best, tried


def tcp_gbps(topo: Topology, seconds: float) -> float:
    """iperf3 a -> b throughput in Gbit/s."""
    server = topo.b.spawn(["iperf3", "-s", "-1", "-p", str(TCP_PORT)])
    topo.b.wait_listening(TCP_PORT)
    try:
        res = topo.a.run(["iperf3", "-c", topo.b.ip4, "-p", str(TCP_PORT), "-t", str(seconds),
                          "-J"], timeout=seconds + 30)
        return float(json.loads(res.stdout)["end"]["sum_received"]["bits_per_second"]) / 1e9
    finally:
        server.wait(10)


def _checksum(data: bytes) -> int:
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    return ~(total + (total >> 16)) & 0xFFFF


def ping_rtts(ns: Namespace, addr: str, count: int) -> list[float]:
    """Round trips in ms of ``count`` sequential ICMP echoes (raw socket; one identifier)."""
    with ns.enter():
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    ident, rtts = os.getpid() & 0xFFFF, []
    with s:
        for seq in range(count):
            body = struct.pack("!HH", ident, seq) + b"x" * 48
            msg = struct.pack("!BBH", 8, 0, _checksum(struct.pack("!BBH", 8, 0, 0) + body))
            start = time.perf_counter()
            s.sendto(msg + body, (addr, 0))
            while select.select([s], [], [], 1.0)[0]:
                data = s.recv(2048)
                icmp = data[(data[0] & 0x0F) * 4:]
                if icmp[0] == 0 and struct.unpack("!HH", icmp[4:8]) == (ident, seq):
                    rtts.append((time.perf_counter() - start) * 1000)
                    break
    return rtts


# -- stall: how long the traffic waits when the inspector is suspended ---------------------
class _Echo:
    """A TCP echo server in namespace b (a thread of this process)."""

    def __init__(self, topo: Topology) -> None:
        with topo.b.enter():
            self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((topo.b.ip4, ECHO_PORT))
        self.sock.listen(8)
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = self.sock.accept()
                threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    @staticmethod
    def _echo(conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            while data := conn.recv(4096):
                conn.sendall(data)

    def close(self) -> None:
        self.sock.close()


def stall_gap_ms(topo: Topology, insp: Inspector, stopped_s: float = 1.0) -> float:
    """The longest pause of a one-message-at-a-time echo exchange once the inspector is
    suspended (SIGSTOP for ``stopped_s``, then SIGCONT)."""
    with topo.a.enter():
        c = socket.socket()
    c.settimeout(5)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    c.connect((topo.b.ip4, ECHO_PORT))
    marks: list[float] = []
    done = threading.Event()

    def exchange() -> None:
        with contextlib.suppress(OSError):
            while not done.is_set():
                c.sendall(b"x" * 64)
                c.recv(64)
                marks.append(time.monotonic())

    t = threading.Thread(target=exchange, daemon=True)
    t.start()
    time.sleep(0.2)
    start = time.monotonic()
    os.kill(insp.proc.pid, signal.SIGSTOP)
    time.sleep(stopped_s)
    os.kill(insp.proc.pid, signal.SIGCONT)
    end = time.monotonic()
    time.sleep(0.1)
    done.set()
    t.join(5)
    c.close()
    inside = [start, *(m for m in marks if start < m < end), end]
    return max(b - a for a, b in itertools.pairwise(inside)) * 1000


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# -- the run -------------------------------------------------------------------------------
def run(quick: bool) -> dict[str, object]:
    """Every measurement in one topology."""
    seconds, runs = (1.0, 2) if quick else (2.0, 5)
    rates = [50_000, 75_000, 100_000] if quick else [
        25_000, 50_000, 75_000, 100_000, 125_000, 150_000, 200_000]
    nfq_missing = _netfilterqueue_missing()
    topo = build_topology(2)
    m: dict[str, object] = {}
    notes: dict[str, str] = {}
    try:
        topo.b.run(["iptables", "-w", "-A", "INPUT", "-p", "udp", "--dport", str(UDP_PORT),
                    "-j", "DROP"])
        with tempfile.TemporaryDirectory() as tmpdir:
            tmp = Path(tmpdir)
            progress("udp: no inspection")
            m.update(spread("udp_no_inspection_pps",
                            [udp_rate(topo, seconds) for _ in range(max(runs, 3))]))
            progress("udp: zero-loss search through the inspector")
            m["udp_zero_loss_pps"], m["udp_zero_loss_trials"] = zero_loss_search(
                topo, lambda s: inspecting(topo, tmp), rates, seconds)
            if nfq_missing:
                m["netfilterqueue_zero_loss_pps"] = None
                notes["udp_vs_netfilterqueue"] = nfq_missing
            else:
                progress("udp: zero-loss search through NetfilterQueue")
                m["netfilterqueue_zero_loss_pps"], m["netfilterqueue_trials"] = (
                    zero_loss_search(topo, lambda s: netfilterqueue(topo, s), rates, seconds))
            progress("udp: tracing overhead (interleaved runs)")
            # at least four pairs: the median of two is their mean, and one noisy pair
            # decides it
            m.update(_tracing_overhead(topo, tmp, seconds, max(runs, 4)))
            progress("tcp: iperf3 (pairs: without, then with the inspector)")
            m.update(_tcp_pairs(topo, tmp, seconds + 1, max(2, runs - 2)))
            progress("latency: ping")
            count = 1000 if quick else 3000
            base = ping_rtts(topo.a, topo.b.ip4, count)
            with inspecting(topo, tmp, pin=False):  # unpinned: any idle CPU may serve it
                ping_rtts(topo.a, topo.b.ip4, 5)  # the flow's first echo is the connection
                inspected = ping_rtts(topo.a, topo.b.ip4, count)
            m["added_latency_p50_ms"] = _pct(inspected, 0.5) - _pct(base, 0.5)
            m["added_latency_p99_ms"] = _pct(inspected, 0.99) - _pct(base, 0.99)
            m["ping_p50_ms"], m["ping_no_inspection_p50_ms"] = (_pct(inspected, 0.5),
                                                                _pct(base, 0.5))
            progress("stall: SIGSTOP of the inspector during an echo exchange")
            echo = _Echo(topo)
            try:
                with inspecting(topo, tmp, pin=False) as insp:
                    gaps = [stall_gap_ms(topo, insp, 0.6 if quick else 1.0)
                            for _ in range(3 if quick else 5)]
            finally:
                echo.close()
            m.update(spread("stall_resume_ms", gaps))
    finally:
        topo.close()
    return _result(m, notes, runs)


def _tracing_overhead(topo: Topology, tmp: Path, seconds: float, runs: int) -> dict[str, float]:
    """Interleaved unpaced floods with and without a trace session (packet events off).

    Throughput on this shared 2-core box swings by tens of percent between runs,
    so the overhead is taken from the inspector's CPU time per datagram (what
    bounds its throughput when saturated); the raw rates are reported too.
    """
    rates: dict[bool, list[float]] = {False: [], True: []}
    costs: dict[bool, list[float]] = {False: [], True: []}
    for i in range(runs):
        for trace in ((False, True) if i % 2 == 0 else (True, False)):  # no order bias
            with inspecting(topo, tmp, trace=trace) as insp:
                rate, cost = udp_rate_and_cost(topo, seconds, insp.proc.pid)
            rates[trace].append(rate)
            costs[trace].append(cost)
    # signed: a negative value is run-to-run noise, shown as measured
    pairs = [(t / p - 1) * 100 for p, t in zip(costs[False], costs[True], strict=True) if p]
    return {**spread("udp_inspected_pps", rates[False]),
            **spread("udp_inspected_traced_pps", rates[True]),
            **spread("cpu_us_per_pkt", costs[False]),
            **spread("cpu_us_per_pkt_traced", costs[True]),
            **spread("tracing_overhead_pct", pairs or [0.0])}


def _tcp_pairs(topo: Topology, tmp: Path, seconds: float, runs: int) -> dict[str, float]:
    """iperf3 without and with the inspector, back to back, ``runs`` times."""
    plain, inspected = [], []
    for _ in range(runs):
        plain.append(tcp_gbps(topo, seconds))
        with inspecting(topo, tmp, pin=False):
            inspected.append(tcp_gbps(topo, seconds))
    return {**spread("tcp_no_inspection_gbps", plain), **spread("tcp_gbps", inspected),
            **spread("tcp_vs_no_inspection", [i / p for p, i in zip(plain, inspected,
                                                                       strict=True) if p])}


def _result(m: dict[str, object], notes: dict[str, str], runs: int) -> dict[str, object]:
    def ratio(a: object, b: object) -> float | None:
        return round(float(a) / float(b), 3) if a and b else None  # type: ignore[arg-type]

    ratios = {
        "udp_vs_netfilterqueue": ratio(m["udp_zero_loss_pps"], m["netfilterqueue_zero_loss_pps"]),
        "udp_vs_no_inspection": ratio(m["udp_inspected_pps"], m["udp_no_inspection_pps"]),
    }
    for key in ("tcp_vs_no_inspection", "tcp_vs_no_inspection_min", "tcp_vs_no_inspection_max"):
        ratios[key] = round(float(m.pop(key)), 3)  # type: ignore[arg-type]
    metrics = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in m.items()}
    out: dict[str, object] = {"metrics": metrics, "ratios": ratios, "runs": runs}
    if notes:
        out["notes"] = notes
    return out


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="short runs (under a minute)")
    p.add_argument("--netfilterqueue", type=float, metavar="S", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.netfilterqueue:
        return netfilterqueue_main(NFQ_QUEUE, a.netfilterqueue)
    reason = netns_unavailable_reason()
    if reason:
        emit("inspect", {}, {"error": reason})
        return 1
    t0 = time.monotonic()
    result = run(a.quick)
    progress(f"done in {time.monotonic() - t0:.0f} s")
    extra = {k: v for k, v in result.items() if k not in ("metrics", "ratios")}
    if extra:
        progress(json.dumps(extra))
    emit("inspect", result["metrics"], result["ratios"])  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
