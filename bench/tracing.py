"""Benchmark of the tracing core against structlog and the OpenTelemetry SDK.

Measures, as medians of several repetitions in one run:
* the cost of a disabled event check against a bare no-op function call;
* an enabled event written into a session buffer;
* end-to-end events/s into a JSON-lines file (headline: a session as configured
  by default, with the C accelerator ``tracer._speedups`` when it is built; also
  with the session's render worker, and in pure Python, ``WFPTRACE_PURE=1``, in a
  child process), against structlog configured the fast way (bound logger, orjson
  JSONRenderer, BytesLogger) and against the OpenTelemetry SDK (one span per event,
  BatchSpanProcessor, in-memory exporter);
* RSS growth and exact accounting while producing 10x faster than the "disk"
  (a FIFO drained at a fixed rate by another process) absorbs.

Usage: python bench/tracing.py [--quick]
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/ holds scripts named like stdlib modules (inspect.py): never import from it.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import argparse  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import timeit  # noqa: E402

from bench._common import RssSampler, emit, median_of, progress  # noqa: E402
from tracer import Hub, Level, Provider, ProviderEnable, SessionConfig  # noqa: E402
from tracer._accel import SPEEDUPS  # noqa: E402

PROVIDER = Provider("bench-tracing", keywords=["connect", "packet"])
VERDICT = PROVIDER.event(
    2, "ConnectionVerdict", Level.INFO, "connect",
    {"direction": str, "remote": str, "remote_port": int, "verdict": str, "latency_us": float},
    "Connection {direction} {remote}:{remote_port} -> {verdict}")
DISABLED = PROVIDER.event(3, "PacketVerdict", Level.VERBOSE, "packet",
                          {"direction": str, "size": int, "verdict": str})


def _noop(*args: object) -> None:
    return None


def disabled_ns(loops: int) -> tuple[float, float]:
    """ns per disabled check (``if EV.enabled: EV.write(...)``) and per no-op call."""
    ev = DISABLED
    glb = {"ev": ev, "noop": _noop}
    base = timeit.timeit("pass", number=loops)
    check = timeit.timeit("if ev.enabled: ev.write('in', 64, 'permit')", globals=glb,
                          number=loops) - base
    call = timeit.timeit("noop()", globals=glb, number=loops) - base
    return check / loops * 1e9, call / loops * 1e9


def enabled_us(n: int) -> float:
    """us per enabled write into a session buffer (flush thread idle)."""
    with Hub(load_installed=False) as hub:
        hub.register(PROVIDER)
        session = hub.start_session(SessionConfig(
            "enabled", [ProviderEnable(PROVIDER.name, Level.INFO)], realtime=True,
            buffer_size=1 << 20, buffer_count=2, flush_interval=3600))
        write = VERDICT.write
        t0 = time.perf_counter()
        for i in range(n):
            write("out", "10.0.0.2", i, "permit", 12.5)
        dt = time.perf_counter() - t0
        assert session.stats().events_pending == n
    return dt / n * 1e6


def ours_e2e(n: int, path: str, worker: bool) -> float:
    """events/s from write to a closed JSON-lines file (rendered in a child if ``worker``)."""
    with Hub(load_installed=False) as hub:
        hub.register(PROVIDER)
        t0 = time.perf_counter()
        hub.start_session(SessionConfig("e2e", [ProviderEnable(PROVIDER.name, Level.INFO)],
                                        file=path, buffer_size=8192, buffer_count=256,
                                        render_worker=worker))
        write = VERDICT.write
        for i in range(n):
            write("out", "10.0.0.2", i, "permit", 12.5)
        stats = hub.stop_session("e2e")
        dt = time.perf_counter() - t0
    assert stats.events_written == n, stats
    return n / dt


def pure_python_e2e(n: int, path: str) -> float:
    """events/s of :func:`ours_e2e` (in process) in a child without the C accelerator."""
    code = ("import importlib.util as u; "  # by path: bench/ must not go on sys.path
            f"s = u.spec_from_file_location('bench_tracing', {__file__!r}); "
            "m = u.module_from_spec(s); s.loader.exec_module(m); "
            f"print(m.ours_e2e({n}, {path!r}, False))")
    env = {**os.environ, "WFPTRACE_PURE": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True)
    return float(out.stdout.split()[-1])


def structlog_e2e(n: int, path: str) -> float:
    """events/s for structlog configured the fast way, same events and fields."""
    import orjson
    import structlog

    with open(path, "wb") as f:
        log = structlog.wrap_logger(
            structlog.BytesLogger(f),
            processors=[structlog.processors.add_log_level,
                        structlog.processors.TimeStamper(fmt="iso", utc=True),
                        structlog.processors.JSONRenderer(serializer=orjson.dumps)],
            wrapper_class=structlog.make_filtering_bound_logger(20),
            cache_logger_on_first_use=True)
        log = log.bind()
        t0 = time.perf_counter()
        for i in range(n):
            log.info("ConnectionVerdict", direction="out", remote="10.0.0.2", remote_port=i,
                     verdict="permit", latency_us=12.5)
        f.flush()
        dt = time.perf_counter() - t0
    return n / dt


def otel_e2e(n: int) -> float:
    """events/s for the OpenTelemetry SDK: one span per event, batch processor."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(exporter, max_queue_size=1 << 16))
    tracer = provider.get_tracer("bench")
    t0 = time.perf_counter()
    for i in range(n):
        with tracer.start_as_current_span("ConnectionVerdict") as span:
            span.set_attributes({"direction": "out", "remote": "10.0.0.2", "remote_port": i,
                                 "verdict": "permit", "latency_us": 12.5})
    provider.force_flush()
    dt = time.perf_counter() - t0
    provider.shutdown()
    return n / dt


_DRAIN = """
import os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
rate = float(sys.argv[2]); fast = sys.argv[3]
t0 = time.monotonic(); got = 0
while True:
    fast_now = os.path.exists(fast)
    chunk = os.read(fd, 1 << 16)
    if not chunk:
        break
    got += len(chunk)
    if not fast_now:
        ahead = got / rate - (time.monotonic() - t0)
        if ahead > 0:
            time.sleep(ahead)
print(got)
"""


def overload(n: int, tmp: str, worker: bool = False) -> dict[str, float]:
    """Produce far faster than a throttled FIFO absorbs; check memory and accounting.

    With ``worker`` the session renders in a child, whose RSS growth is added.
    """
    fifo = os.path.join(tmp, f"slow-{worker}.fifo")
    fast = os.path.join(tmp, f"fast-{worker}.flag")
    os.mkfifo(fifo)
    rate = 2 * 1024 * 1024  # bytes/s the "disk" absorbs
    drain = subprocess.Popen([sys.executable, "-c", _DRAIN, fifo, str(rate), fast],
                             stdout=subprocess.PIPE)
    with Hub(load_installed=False) as hub:
        hub.register(PROVIDER)
        sampler = RssSampler()
        session = hub.start_session(SessionConfig(
            "slow", [ProviderEnable(PROVIDER.name, Level.INFO)], file=fifo, buffer_size=1024,
            buffer_count=16, render_worker=worker))
        child = RssSampler(pid=session.render_worker_pid) if worker else None
        t0 = time.perf_counter()
        for i in range(n):
            VERDICT.write("out", "10.0.0.2", i, "permit", 12.5)
        produce_s = time.perf_counter() - t0
        Path(fast).touch()
        child_growth = child.stop() if child else 0.0  # before the child exits
        stats = hub.stop_session("slow")
        growth = sampler.stop() + child_growth
    drain.wait(timeout=60)
    absorbed_per_s = rate / (stats.bytes_written / max(stats.events_written, 1))
    return {"rss_growth_mb": growth, "emitted": n, "written": stats.events_written,
            "lost": stats.events_lost, "produce_vs_absorb": (n / produce_s) / absorbed_per_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs (under a minute)")
    args = parser.parse_args()
    reps = 5
    n = 100_000 if args.quick else 300_000
    loops = 1_000_000 if args.quick else 3_000_000
    progress("disabled-event cost")
    pairs = [disabled_ns(loops) for _ in range(reps)]
    dis = sorted(p[0] for p in pairs)[reps // 2]
    noop = sorted(p[1] for p in pairs)[reps // 2]
    progress("enabled write into the buffer")
    en = median_of(reps, lambda: enabled_us(n))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "bench.jsonl")
        # Rounds alternate the contenders, so a change of machine speed (these VMs drift)
        # hits all of them; each ratio is the median of the per-round ratios.
        rounds = []
        for i in range(reps):
            progress(f"end to end, round {i + 1}/{reps}: wfptrace (default, render worker, "
                     "pure Python), structlog, OpenTelemetry SDK")
            rounds.append((ours_e2e(n, path, False), ours_e2e(n, path, True),
                           pure_python_e2e(n, path), structlog_e2e(n, path), otel_e2e(n // 4)))
        ours, worker, pure, sl, ot = (statistics.median(r[k] for r in rounds) for k in range(5))
        paired = {name: statistics.median(r[a] / r[b] for r in rounds)
                  for name, a, b in (("vs_structlog", 0, 3), ("vs_otel", 0, 4),
                                     ("worker_vs_structlog", 1, 3),
                                     ("pure_python_vs_structlog", 2, 3))}
        progress("overload: producing faster than the disk absorbs")
        over = overload(n * 2, tmp)
        progress("overload with the render worker")
        over_w = overload(n * 2, tmp, worker=True)
    metrics = {"disabled_ns": round(dis, 1), "noop_call_ns": round(noop, 1),
               "enabled_us": round(en, 3), "e2e_events_per_s": round(ours),
               "e2e_worker_events_per_s": round(worker),
               "e2e_pure_python_events_per_s": round(pure),
               "c_accelerator": int(SPEEDUPS is not None),
               "structlog_events_per_s": round(sl), "otel_events_per_s": round(ot),
               "rss_growth_mb": round(over["rss_growth_mb"], 1),
               "produce_vs_absorb": round(over["produce_vs_absorb"], 1),
               "emitted": over["emitted"], "written": over["written"], "lost": over["lost"],
               "worker_rss_growth_mb": round(over_w["rss_growth_mb"], 1),
               "worker_emitted": over_w["emitted"], "worker_written": over_w["written"],
               "worker_lost": over_w["lost"]}
    ratios = {k: round(v, 2) for k, v in paired.items()}
    emit("tracing", metrics, ratios)


if __name__ == "__main__":
    main()
