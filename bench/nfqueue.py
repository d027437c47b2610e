"""Benchmark the NFQUEUE path inside network namespaces.

One run measures, medians of several repetitions each:

- ``nfq_batch_pps``: 64-byte UDP flood from namespace ``a`` to ``b`` through an
  NFQUEUE on a's OUTPUT, consumed by our client (recvmmsg + one batch accept
  verdict per receive); packets/s delivered to ``b``.
- ``baseline_pps``: the same flood without the queue.
- ``netfilterqueue_pps``: the same flood consumed by the NetfilterQueue binding
  (libnetfilter_queue, per-packet verdicts), when it is installed.
- ``nfq_drain_pps`` / ``netfilterqueue_drain_pps``: consumer capacity alone,
  draining 40k queued packets with no sender competing for the CPU.
- ``nfq_zero_loss_pps``: the highest paced rate (from 50k/s up) delivered
  with zero loss (sent == delivered, kernel drop counters zero).
- ``tcp_gbps`` / ``tcp_baseline_gbps``: iperf3 throughput with every TCP
  segment of the test port queued (GSO flag on, whole packets copied) and
  without a queue; ``tcp_headers_only_gbps`` copies only 128 bytes per packet.
- ``attribution_accuracy``: 200 short-lived connections from 3 executables,
  first packet held while attributed (see tests/harness/scenarios.py).

Usage: ``python bench/nfqueue.py [--quick]``; the last line printed is the JSON
result. Needs root (namespaces); prints a JSON line with an "error" otherwise.
"""

# ruff: noqa: E402  (imports follow the sys.path fix below, on purpose)
from __future__ import annotations

import os
import sys

# Run as ``python bench/nfqueue.py``, bench/ is on sys.path, and sibling scripts
# named like stdlib modules (bench/inspect.py) would shadow them: drop it.
_HERE = os.path.dirname(os.path.realpath(__file__))
sys.path[:] = [p for p in sys.path if os.path.realpath(p or os.curdir) != _HERE]

import argparse
import contextlib
import json
import select
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from providers.netfilter import QueueRule, QueueRules
from tests.harness import Topology, build_topology, netns_unavailable_reason
from tests.harness.scenarios import attribution_scenario

FLOOD = str(ROOT / "tests" / "harness" / "udpflood.py")
UDP_PORT = 9
TCP_PORT = 5201
QUEUE = 0
QUEUE_LEN = 32_768  # ~0.4 s of packets at 75k/s: absorbs scheduling hiccups
DRAIN_MAX = 100_000
# Sender and consumer on their own CPUs, so neither steals the other's time.
PIN = len(os.sched_getaffinity(0)) >= 2
SENDER_CPU, CONSUMER_CPU = sorted(os.sched_getaffinity(0))[:2] if PIN else (0, 0)
DRAIN_PACKETS = 40_000


# -- consumer processes (run inside namespace a) -----------------------------
def _stop_on_stdin() -> threading.Event:
    """An event set when the parent writes a line (or closes stdin)."""
    stop = threading.Event()

    def wait() -> None:
        sys.stdin.readline()
        stop.set()

    threading.Thread(target=wait, daemon=True).start()
    return stop


def _consume_ours(queue: int, seconds: float, copy_range: int) -> dict[str, object]:
    from providers.netfilter import NfQueue, QueueConfig

    with NfQueue(QueueConfig(queue_num=queue, max_len=QUEUE_LEN, copy_range=copy_range,
                                 rcvbuf=64 << 20)) as q:
        stop = _stop_on_stdin()
        print("ready", flush=True)
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            batch = q.receive()
            if batch:
                q.accept_all(batch)
            elif stop.is_set():  # asked to stop and the queue is drained
                break
            else:
                q.wait(0.05)
        st = q.stats()
        k = st.kernel
        return {"packets": st.packets, "batches": st.batches, "enobufs": st.enobufs,
                "queue_dropped": k.queue_dropped if k else None,
                "user_dropped": k.user_dropped if k else None}


def _consume_netfilterqueue(queue: int, seconds: float, copy_range: int) -> dict[str, object]:
    from netfilterqueue import NetfilterQueue  # type: ignore[import-not-found]

    count = 0

    def cb(pkt) -> None:  # type: ignore[no-untyped-def]
        nonlocal count
        count += 1
        pkt.accept()

    nfq = NetfilterQueue()
    nfq.bind(queue, cb, max_len=QUEUE_LEN, range=copy_range, sock_len=64 << 20)
    stop = _stop_on_stdin()
    print("ready", flush=True)
    fd = nfq.get_fd()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        before = count
        select.select([fd], [], [], 0.05)
        nfq.run(block=False)
        if stop.is_set() and count == before:  # asked to stop and drained
            break
    nfq.unbind()
    return {"packets": count}


def _drain_ours(queue: int) -> dict[str, object]:
    from providers.netfilter import NfQueue, QueueConfig

    with NfQueue(QueueConfig(queue_num=queue, max_len=DRAIN_MAX, rcvbuf=256 << 20)) as q:
        print("ready", flush=True)
        sys.stdin.readline()
        t0 = last = time.perf_counter()
        n = 0
        while time.perf_counter() - last < 0.1:
            batch = q.receive()
            if batch:
                q.accept_all(batch)
                n += len(batch)
                last = time.perf_counter()
            else:
                q.wait(0.01)
        return {"packets": n, "elapsed": last - t0}


def _drain_netfilterqueue(queue: int) -> dict[str, object]:
    from netfilterqueue import NetfilterQueue  # type: ignore[import-not-found]

    count = 0
    last = 0.0

    def cb(pkt) -> None:  # type: ignore[no-untyped-def]
        nonlocal count, last
        count += 1
        pkt.accept()

    nfq = NetfilterQueue()
    nfq.bind(queue, cb, max_len=DRAIN_MAX, sock_len=256 << 20)
    print("ready", flush=True)
    sys.stdin.readline()
    t0 = last = time.perf_counter()
    while time.perf_counter() - last < 0.1:
        before = count
        select.select([nfq.get_fd()], [], [], 0.01)
        nfq.run(block=False)
        if count != before:
            last = time.perf_counter()
    nfq.unbind()
    return {"packets": count, "elapsed": last - t0}


def consumer_main(kind: str, queue: int, seconds: float, copy_range: int) -> int:
    """Subprocess entry: consume for ``seconds``, then print one JSON stats line."""
    if PIN:
        os.sched_setaffinity(0, {CONSUMER_CPU})
    t0 = os.times()
    if kind.startswith("drain-"):
        stats = (_drain_ours if kind == "drain-ours" else _drain_netfilterqueue)(queue)
    else:
        fn = _consume_ours if kind == "ours" else _consume_netfilterqueue
        stats = fn(queue, seconds, copy_range)
    t1 = os.times()
    cpu = (t1.user - t0.user) + (t1.system - t0.system)
    stats["cpu_us_per_packet"] = cpu * 1e6 / stats["packets"] if stats["packets"] else None
    print(json.dumps(stats), flush=True)
    return 0


def _netfilterqueue_missing() -> str | None:
    try:
        import netfilterqueue  # type: ignore[import-not-found]  # noqa: F401
    except ImportError as exc:
        return f"NetfilterQueue binding not installed: {exc}"
    return None


# -- measurements -------------------------------------------------------------
def _delivered(topo: Topology) -> int:
    """Packets that reached b's counting rule since the last call (then zeroed)."""
    out = topo.b.run(["iptables", "-w", "-nvxL", "INPUT", "-Z"]).stdout
    for line in out.splitlines():
        if f"udp dpt:{UDP_PORT}" in line:
            return int(line.split()[0])
    raise RuntimeError("counting rule missing")


def _flood(topo: Topology, seconds: float, rate: float | None = None) -> tuple[int, float]:
    argv = [sys.executable, FLOOD, topo.b.ip4, str(UDP_PORT), "--seconds", str(seconds)]
    if PIN:
        argv += ["--cpu", str(SENDER_CPU)]
    if rate:
        argv += ["--rate", str(rate)]
    data = json.loads(topo.a.run(argv, timeout=seconds + 30).stdout.strip().splitlines()[-1])
    return int(data["sent"]), float(data["elapsed"])


def _with_consumer(topo: Topology, kind: str, seconds: float, body: Callable[[], object],
                   copy_range: int = 0xFFFF) -> tuple[object, dict[str, object]]:
    proc = topo.a.spawn([sys.executable, __file__, "--consumer", kind, "--queue", str(QUEUE),
                         "--seconds", str(seconds), "--copy-range", str(copy_range)],
                        stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if line != "ready":
        _, err = proc.communicate(timeout=30)
        raise RuntimeError(f"{kind} consumer did not start: {line!r} {err[-2000:]}")
    try:
        result = body()
    finally:
        out, _ = proc.communicate("stop\n", timeout=seconds + 30)
    return result, json.loads(out.strip().splitlines()[-1])


def udp_pps(topo: Topology, kind: str | None, seconds: float) -> tuple[float, float | None]:
    """Delivered packets/s of an unpaced flood through ``kind``'s consumer (or none),
    and the consumer's CPU time per packet in microseconds."""
    _delivered(topo)

    def window() -> tuple[int, float]:
        """Packets delivered while the flood ran (not the queue's tail after it)."""
        _sent, elapsed = _flood(topo, seconds)
        return _delivered(topo), elapsed

    if kind is None:
        got, elapsed = window()
        return got / elapsed, None
    with _queue_rules(topo, "udp", UDP_PORT):
        (got, elapsed), stats = _with_consumer(topo, kind, seconds + 1.5, window)
    return got / elapsed, stats["cpu_us_per_packet"]  # type: ignore[return-value]


def drain_pps(topo: Topology, kind: str) -> tuple[float, float]:
    """Packets/s a consumer drains from a pre-filled queue, with no sender running.

    Measures consumer capacity alone: the flood fills the queue first, then
    the consumer is told to start.
    """
    proc = topo.a.spawn([sys.executable, __file__, "--consumer", f"drain-{kind}", "--queue",
                         str(QUEUE)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdin is not None
    if proc.stdout.readline().strip() != "ready":
        raise RuntimeError(f"drain consumer failed: {proc.communicate(timeout=30)[1][-2000:]}")
    with _queue_rules(topo, "udp", UDP_PORT):
        topo.a.run([sys.executable, FLOOD, topo.b.ip4, str(UDP_PORT), "--count",
                    str(DRAIN_PACKETS), "--seconds", "5"])
        out, _ = proc.communicate("go\n", timeout=60)
    stats = json.loads(out.strip().splitlines()[-1])
    return float(stats["packets"]) / float(stats["elapsed"]), float(stats["cpu_us_per_packet"])


def zero_loss(topo: Topology, rate: float, seconds: float) -> dict[str, object]:
    """Send a paced flood at ``rate`` through our queue; count what got lost where."""
    _delivered(topo)
    with _queue_rules(topo, "udp", UDP_PORT):
        (sent, elapsed), stats = _with_consumer(topo, "ours", seconds + 1.5,
                                                lambda: _flood(topo, seconds, rate))
    got = _delivered(topo)
    full, undeliverable = stats.get("queue_dropped") or 0, stats.get("user_dropped") or 0
    return {"ok": got == sent and full == 0 and undeliverable == 0, "pps": sent / elapsed,
            "missing": sent - got, "queue_full": full, "undeliverable": undeliverable}


def tcp_gbps(topo: Topology, seconds: float, queued: bool, copy_range: int = 0xFFFF) -> float:
    """iperf3 a -> b throughput, optionally with every segment through our queue
    (GSO on; ``copy_range`` bytes of each packet copied to us)."""
    server = topo.b.spawn(["iperf3", "-s", "-1", "-p", str(TCP_PORT)])
    topo.b.wait_listening(TCP_PORT)
    argv = ["iperf3", "-c", topo.b.ip4, "-p", str(TCP_PORT), "-t", str(seconds), "-J"]

    def run() -> float:
        res = json.loads(topo.a.run(argv, timeout=seconds + 30).stdout)
        return float(res["end"]["sum_received"]["bits_per_second"]) / 1e9

    try:
        if not queued:
            return run()
        with _queue_rules(topo, "tcp", TCP_PORT):
            gbps, _ = _with_consumer(topo, "ours", seconds + 3, run, copy_range)
        return float(gbps)  # type: ignore[arg-type]
    finally:
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:  # the client never connected
            os.killpg(server.pid, 9)
            server.wait(10)


@contextlib.contextmanager
def _queue_rules(topo: Topology, proto: str, port: int) -> Iterator[None]:
    """Queue rule for one protocol/port in a's OUTPUT, installed from inside a."""
    with topo.a.enter():
        rules = QueueRules("bench", [QueueRule(QUEUE, protocol=proto, dport=port,
                                               family="ipv4")])
    with rules:
        yield


# -- the run -------------------------------------------------------------------
def _median(fn: Callable[[], float], runs: int) -> float:
    return statistics.median(fn() for _ in range(runs))


def run(quick: bool) -> dict[str, object]:
    """All measurements in one topology; returns the result object."""
    seconds, runs = (1.2, 3) if quick else (3.0, 5)
    topo = build_topology(2)
    try:
        topo.b.run(["iptables", "-w", "-A", "INPUT", "-p", "udp", "--dport", str(UDP_PORT),
                    "-j", "DROP"])
        nfq_missing = _netfilterqueue_missing()
        metrics: dict[str, object] = {}
        metrics.update(_udp_rounds(topo, seconds, runs, with_nfq=not nfq_missing))
        metrics.update(_drain_rounds(topo, 1 if quick else runs, with_nfq=not nfq_missing))
        metrics.update(_zero_loss_search(topo, seconds, quick))
        metrics["tcp_baseline_gbps"] = _median(lambda: tcp_gbps(topo, seconds, False),
                                               max(1, runs - 2))
        metrics["tcp_gbps"] = _median(lambda: tcp_gbps(topo, seconds, True), max(1, runs - 2))
        metrics["tcp_headers_only_gbps"] = _median(
            lambda: tcp_gbps(topo, seconds, True, copy_range=128), max(1, runs - 2))
        with tempfile.TemporaryDirectory() as tmp:
            attr = attribution_scenario(topo, Path(tmp), connections=200)
        metrics["attribution_accuracy"] = attr.accuracy
        metrics["attribution_median_conn_ms"] = statistics.median(attr.durations_ms)
    finally:
        topo.close()
    return _result(metrics, nfq_missing, runs)


def _udp_rounds(topo: Topology, seconds: float, runs: int,
                with_nfq: bool) -> dict[str, object]:
    """Interleave baseline / ours / NetfilterQueue runs so load drift hits all alike."""
    kinds: list[tuple[str, str | None]] = [("baseline", None), ("nfq_batch", "ours")]
    if with_nfq:
        kinds.append(("netfilterqueue", "netfilterqueue"))
    pps: dict[str, list[float]] = {name: [] for name, _ in kinds}
    cpu: dict[str, list[float]] = {name: [] for name, _ in kinds}
    for _ in range(runs):
        for name, kind in kinds:
            rate, us = udp_pps(topo, kind, seconds)
            pps[name].append(rate)
            if us is not None:
                cpu[name].append(us)
    out: dict[str, object] = {f"{n}_pps": statistics.median(v) for n, v in pps.items()}
    out.update({f"{n}_cpu_us_per_pkt": statistics.median(v) for n, v in cpu.items() if v})
    if not with_nfq:
        out["netfilterqueue_pps"] = None
    return out


def _drain_rounds(topo: Topology, runs: int, with_nfq: bool) -> dict[str, object]:
    """Interleaved drain runs: consumer capacity (pps) and CPU per packet."""
    kinds = [("nfq", "ours")] + ([("netfilterqueue", "netfilterqueue")] if with_nfq else [])
    res: dict[str, list[tuple[float, float]]] = {name: [] for name, _ in kinds}
    for _ in range(runs):
        for name, kind in kinds:
            res[name].append(drain_pps(topo, kind))
    out: dict[str, object] = {"netfilterqueue_drain_pps": None}
    for name, vals in res.items():
        out[f"{name}_drain_pps"] = statistics.median(v[0] for v in vals)
        out[f"{name}_drain_cpu_us_per_pkt"] = statistics.median(v[1] for v in vals)
    return out


def _zero_loss_search(topo: Topology, seconds: float, quick: bool) -> dict[str, object]:
    rates = [50_000, 100_000] if quick else [50_000, 75_000, 100_000, 125_000, 150_000]
    best, tried = 0.0, []
    for rate in rates:
        reps = [zero_loss(topo, rate, seconds + 0.5) for _ in range(1 if quick else 2)]
        ok = all(r["ok"] for r in reps)
        achieved = statistics.median(float(r["pps"]) for r in reps)  # type: ignore[arg-type]
        tried.append({"rate": rate, "achieved": round(achieved), "zero_loss": ok,
                      "missing": max(int(r["missing"]) for r in reps),  # type: ignore[call-overload]
                      "queue_full": max(int(r["queue_full"]) for r in reps)})  # type: ignore[call-overload]
        if not ok:
            break
        best = achieved
    return {"nfq_zero_loss_pps": best, "zero_loss_trials": tried}


def _result(m: dict[str, object], nfq_missing: str | None, runs: int) -> dict[str, object]:
    def ratio(a: object, b: object) -> float | None:
        return round(float(a) / float(b), 3) if a and b else None  # type: ignore[arg-type]

    ratios = {
        "vs_netfilterqueue": ratio(m["nfq_batch_pps"], m["netfilterqueue_pps"]),
        "cpu_per_pkt_vs_netfilterqueue": ratio(m.get("nfq_batch_cpu_us_per_pkt"),
                                               m.get("netfilterqueue_cpu_us_per_pkt")),
        "drain_vs_netfilterqueue": ratio(m["nfq_drain_pps"], m["netfilterqueue_drain_pps"]),
        "vs_no_queue_baseline": ratio(m["nfq_batch_pps"], m["baseline_pps"]),
        "tcp_vs_no_queue_baseline": ratio(m["tcp_gbps"], m["tcp_baseline_gbps"]),
    }
    metrics = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in m.items()}
    out: dict[str, object] = {"bench": "nfqueue", "metrics": metrics, "ratios": ratios,
                              "runs": runs}
    if nfq_missing:
        out["notes"] = {"vs_netfilterqueue": nfq_missing}
    return out


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="short runs (under a minute)")
    p.add_argument("--consumer", choices=["ours", "netfilterqueue", "drain-ours",
                                          "drain-netfilterqueue"], help=argparse.SUPPRESS)
    p.add_argument("--queue", type=int, default=QUEUE, help=argparse.SUPPRESS)
    p.add_argument("--seconds", type=float, default=3.0, help=argparse.SUPPRESS)
    p.add_argument("--copy-range", type=int, default=0xFFFF, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.consumer:
        return consumer_main(a.consumer, a.queue, a.seconds, a.copy_range)
    reason = netns_unavailable_reason()
    if reason:
        print(json.dumps({"bench": "nfqueue", "metrics": {}, "ratios": {}, "error": reason}))
        return 1
    t0 = time.monotonic()
    result = run(a.quick)
    result["seconds"] = round(time.monotonic() - t0, 1)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
