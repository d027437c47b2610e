"""TraceView benchmark: opening big logs in a terminal, frames and key latency at 20k events/s.

What a user waits for, in tmux (``bench/_logopen.py``): ``traceview FILE`` to the first
rows painted for logs of 1M and 10M events written by a real session, resident memory
then, jumping to the end, a field filter over the 10M log; toolong and lnav open the
1M file the same way. Also measured: first paint with 1M events already in memory,
and, against Textual's DataTable and RichLog, memory per event and the frame time and
key latency at 20k events/s. The last line printed is one JSON object:
``{"bench": "traceview", "metrics": {...}, "ratios": {...}}`` (medians of the runs).

Usage: ``python bench/traceview.py [--quick]`` (``--quick`` finishes in under a minute).
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/ holds other benchmarks (e.g. inspect.py) that would shadow stdlib modules.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if p and Path(p).resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

from textual import events  # noqa: E402
from textual.app import App, ComposeResult  # noqa: E402
from textual.screen import Screen  # noqa: E402
from textual.widgets import DataTable, RichLog  # noqa: E402

from bench._common import rss_mb  # noqa: E402
from tracer import Event, Hub, ProviderEnable, SessionConfig, format_event  # noqa: E402
from tracer._lnav import LNAV_FORMAT  # noqa: E402
from viewer import TraceViewApp  # noqa: E402
from viewer._demo import demo_providers  # noqa: E402
from viewer._events_view import EventsView  # noqa: E402
from viewer._ring import EventRing  # noqa: E402

SIZE = (120, 40)
_REAL = {p.name: p for p in demo_providers()}
PENDED = _REAL["wfptrace-inspect"].events["ConnectionPended"]
PACKET = _REAL["wfptrace-inspect"].events["PacketVerdict"]
COMMAND = _REAL["wfptrace-msnmon"].events["Command"]
_frames: list[float] = []
_frame_cpu: list[float] = []
_frame_ends: list[float] = []
_orig_update = Screen._on_timer_update


def _timed_update(self: Screen) -> None:  # type: ignore[type-arg]
    t0, c0 = time.perf_counter(), time.thread_time()
    _orig_update(self)
    t1, c1 = time.perf_counter(), time.thread_time()
    if self._compositor is not None and self.is_current:
        _frames.append(t1 - t0)
        _frame_cpu.append(c1 - c0)
        _frame_ends.append(t1)


Screen._on_timer_update = _timed_update  # type: ignore[method-assign]


# @timestamp None: the record's time is its write time (a live firehose)
def _pended_args(i: int) -> tuple:
    return (None, i, f"1:flow{i}=", "tcp", "127.0.0.1", 40000 + i % 20000,
            f"10.0.{i % 7}.{i % 250}", 1863, "egress", "connect", "/usr/bin/msnmsgr", 3100)


def _command_args(i: int) -> tuple:
    return (None, f"1:flow{i}=", "egress", "MSG", i, ["U", "128"], 128, "switchboard",
            "client_server", 0, b"MSG %d U 128" % i)


def _event(etype, args: tuple, tid: int) -> Event:  # type: ignore[no-untyped-def]
    skip = 1 if etype.timed else 0  # @timestamp is the event's time, not a field
    return Event(time_ns=0, seq=0, provider=etype.provider.name, name=etype.name, id=etype.id,
                 level=etype.level, keywords=etype.keyword_names, pid=100, tid=tid,
                 fields=dict(zip(etype.fields[skip:], args[skip:], strict=True)),
                 template=etype.template)


def sample_events(n: int = 997) -> list[Event]:
    """The real inspect and msnmon event types (ConnectionPended, Command) to cycle through."""
    return [_event(PENDED, _pended_args(i), 12345) if i % 2 else
            _event(COMMAND, _command_args(i), 12346) for i in range(n)]


def fill(ring: EventRing, n: int) -> None:
    """Append ``n`` events to the ring in batches."""
    samples = sample_events()
    t = time.time_ns()
    done = 0
    while done < n:
        batch = samples[: min(len(samples), n - done)]
        for ev in batch:
            done += 1
            ev.seq = done
            ev.time_ns = t + done * 1000
        ring.extend(batch)


# -- first paint -------------------------------------------------------------------------
async def first_paint_ms(ring: EventRing) -> float:
    """Time from starting the app to the first paint of the events view (ring prefilled)."""
    painted: list[float] = []
    t0 = time.perf_counter()
    app = TraceViewApp(None, ring=ring, capacity=ring.capacity)
    async with app.run_test(size=SIZE) as pilot:
        view = app.query_one(EventsView)
        view.paint_hook = lambda dt: painted.append(time.perf_counter()) if len(app.rows) else None
        while not painted:
            await pilot.pause(0.001)
        return (painted[0] - t0) * 1000


class _TableApp(App[None]):
    def __init__(self, rows: list[tuple]) -> None:
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        yield DataTable()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("Seq", "Time", "Provider", "Lvl", "Event", "Message")
        table.add_rows(self.rows)


def _table_rows(n: int) -> list[tuple]:
    samples = sample_events()
    return [(str(i), "02:20:00.000", ev.provider, "INFO", ev.name, ev.message)
            for i, ev in zip(range(n), _cycle(samples), strict=False)]


def _cycle(items: list[Event]):  # type: ignore[no-untyped-def]
    while True:
        yield from items


async def peer_first_paint_ms(n: int) -> float:
    """The same for Textual's DataTable holding ``n`` events."""
    rows = _table_rows(n)
    t0 = time.perf_counter()
    app = _TableApp(rows)
    async with app.run_test(size=SIZE) as pilot:
        start = len(_frame_ends)
        while len(_frame_ends) == start:
            await pilot.pause(0.001)
        await pilot.pause()
        return (_frame_ends[-1] - t0) * 1000


class Firehose:
    """Writes the real providers' event types at a fixed rate with minimal producer cost
    (pre-built arguments)."""

    def __init__(self, rate: float) -> None:
        rng = random.Random(5)
        self.rate = rate
        self.emitted = 0
        self.calls = [
            (PENDED.write, _pended_args(i)) if i % 3 == 0 else
            (COMMAND.write, _command_args(i)) if i % 3 == 1 else
            (PACKET.write, (None, f"1:flow{i}=", "ingress", rng.randint(40, 1500), "permit"))
            for i in range(1000)]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Firehose:
        self.started = time.perf_counter()
        self._thread.start()
        return self

    def _run(self) -> None:
        tick, due, k = 0.01, 0.0, 0
        calls, n_calls = self.calls, len(self.calls)
        next_t = time.monotonic()
        while not self._stop.is_set():
            due += self.rate * tick
            n = int(due)
            due -= n
            for _ in range(n):
                write, args = calls[k]
                write(*args)
                k = (k + 1) % n_calls
            self.emitted += n
            next_t += tick
            self._stop.wait(max(0.0, next_t - time.monotonic()))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


# -- load: frames and key latency at a given event rate -------------------------------------
async def under_load(rate: float, seconds: float, peer: bool) -> dict[str, float]:
    """Run the app (or the RichLog peer) on a real session fed at ``rate`` events/s."""
    with Hub(load_installed=False) as hub:
        for p in demo_providers():
            hub.register(p)
        hub.start_session(SessionConfig("bench", [ProviderEnable("wfptrace-inspect"),
                                                  ProviderEnable("wfptrace-msnmon")],
                                        realtime=True, buffer_count=256))
        app = _RichLogApp(hub) if peer else TraceViewApp(hub)
        if not peer:
            app.control.watch("bench")  # type: ignore[union-attr]
        traffic = Firehose(rate)
        async with app.run_test(size=SIZE) as pilot:
            traffic.start()
            await pilot.pause(0.5)
            _frames.clear()
            _frame_cpu.clear()
            cpu0 = time.process_time()
            keys = await _key_latencies(app, pilot, seconds, peer)
            achieved = traffic.emitted / (time.perf_counter() - traffic.started)
            traffic.stop()
            frames = list(_frames)
            cpu_share = (time.process_time() - cpu0) / (time.perf_counter() - traffic.started)
        return {"frame_median_ms": statistics.median(frames) * 1000,
                "frame_cpu_median_ms": statistics.median(_frame_cpu) * 1000,
                "process_cpu_share": cpu_share,
                "key_latency_ms": statistics.median(keys) * 1000,
                "key_latency_max_ms": max(keys) * 1000,
                "ingest_rate": achieved}


def _state(app: App, peer: bool) -> object:  # type: ignore[type-arg]
    if peer:
        return app.query_one(RichLog).scroll_offset
    return app.query_one(EventsView).cursor_index


async def _key_latencies(app: App, pilot, seconds: float, peer: bool) -> list[float]:  # type: ignore[no-untyped-def,type-arg]
    """Post key events as the terminal driver does; time until a frame shows the effect."""
    out: list[float] = []
    t_end = time.perf_counter() + seconds
    while time.perf_counter() < t_end:
        key = "up" if len(out) % 2 == 0 else "end"
        before = _state(app, peer)
        t0 = time.perf_counter()
        app.post_message(events.Key(key, None))
        changed_at, latency = None, None
        while latency is None:
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            if changed_at is None and _state(app, peer) != before:
                changed_at = now
            if changed_at is not None and _frame_ends and _frame_ends[-1] >= changed_at:
                latency = _frame_ends[-1] - t0
            elif now - t0 > 3.0:
                latency = now - t0  # no visible effect within 3 s: counted as 3 s
        out.append(latency)
        await asyncio.sleep(0.1)
    return out


class _RichLogApp(App[None]):
    """Peer: Textual's RichLog fed the same events, one formatted line each.

    Each tick writes at most 2,000 lines (the rest wait in the subscription, whose
    overflow is dropped), or RichLog could not keep the app alive at 20k events/s.
    """

    def __init__(self, hub: Hub) -> None:
        super().__init__()
        self.sub = hub.subscribe("bench")
        # Held, not queried: a tick can still run while the app is exiting and its
        # screen is gone (seen once as NoMatches).
        self.rich_log = RichLog(max_lines=10_000)

    def compose(self) -> ComposeResult:
        yield self.rich_log

    def on_mount(self) -> None:
        self.rich_log.focus()
        self.set_interval(0.05, self._tick)

    def _tick(self) -> None:
        log = self.rich_log
        for _ in range(2_000):
            ev = self.sub.get(timeout=0)
            if ev is None:
                break
            log.write(format_event(ev))


# -- memory ---------------------------------------------------------------------------------
def _memory_child(kind: str, n: int) -> None:
    """In a fresh process: RSS after holding ``n`` events (ours or DataTable's)."""
    base = rss_mb()
    if kind == "ring":
        ring = EventRing(n)
        fill(ring, n)
        assert len(ring) == n
        rss = rss_mb()
    else:
        rss = asyncio.run(_table_rss(n))
    print(json.dumps({"rss_mb": rss, "delta_mb": rss - base}))


async def _table_rss(n: int) -> float:
    app = _TableApp(_table_rows(n))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        return rss_mb()


def memory(kind: str, n: int) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, "--memory-child", kind, str(n)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


# -- opening log files in a terminal ------------------------------------------------------------
def _compile_project() -> None:
    """Write the project's bytecode before timing starts, as an installed wfptrace has it.

    pip compiles an installed package's modules; a checkout compiles them on its first
    run, unless PYTHONDONTWRITEBYTECODE is set (as in this project's containers), when
    every start compiled ~40 modules from source (~0.1 s) that no user waits for, while
    the peers (toolong, installed with pip) start from bytecode.
    """
    import compileall

    for package in ("tracer", "viewer", "providers"):
        compileall.compile_dir(_HERE.parent / package, quiet=1)


def _open_logs(quick: bool, runs: int) -> dict:
    """open_1m_ms, open_10m_ms, rss_10m_mb, end_10m_ms, filter_10m_s and the peers' opens."""
    from bench import _logopen as lo

    if shutil.which("tmux") is None:
        return {"metrics": {}, "ratios": {}, "notes": {"logs": "tmux is not installed"}}
    small_n, big_n = (100_000, 500_000) if quick else (1_000_000, 10_000_000)
    _log(f"writing logs of {small_n:,} and {big_n:,} events (cached in {lo.CACHE})")
    small, big = lo.make_log(small_n), lo.make_log(big_n)
    _compile_project()
    notes: dict[str, str] = {"bytecode": "the project's modules compiled before timing "
                                          "(as installed); see _compile_project"}
    small_opens = [lo.traceview_open(small, full=False) for _ in range(runs)]
    opens = [o["open_ms"] for o in small_opens]
    hello = [lo.textual_hello_ms() for _ in range(runs)]
    bigs = [lo.traceview_open(big, full=True) for _ in range(1 if quick else 3)]
    _log(f"traceview: {opens} {bigs}")
    needle = '"type":"event"'
    tl = lo.toolong_bin()
    toolong = [lo.peer_open_ms(f"{tl} {small}", needle) for _ in range(runs)] if tl else []
    if not tl:
        notes["toolong"] = "toolong could not be installed (pip install toolong failed)"
    lnav: list[float] = []
    if not shutil.which("lnav"):
        notes["lnav"] = "lnav is not installed (apt-get install -y lnav)"
    else:  # with the format the project ships, in a home of its own
        home = Path(tempfile.mkdtemp(prefix="wfptrace-lnav-"))
        subprocess.run(["lnav", "-i", str(LNAV_FORMAT)], env={**os.environ, "HOME": str(home)},
                       capture_output=True, timeout=60)
        lnav = [lo.peer_open_ms(f"HOME={home} lnav {small}", "wfptrace-inspect")
                for _ in range(runs)]
        notes["lnav"] = "lnav with the shipped wfptrace_log format (wfptrace lnav install)"
    _log(f"toolong: {toolong} lnav: {lnav}")

    def med(values: list[float], digits: int = 1) -> float | None:
        return round(statistics.median(values), digits) if values else None

    def big_med(key: str, digits: int = 1) -> float | None:
        return med([b[key] for b in bigs if key in b], digits)

    m = {
        "open_1m_ms": med(opens), "open_10m_ms": big_med("open_ms"),
        "rss_10m_mb": med([max(b["rss_indexed_mb"], b["rss_filtered_mb"]) for b in bigs]),
        "rss_10m_first_paint_mb": big_med("rss_mb"),
        "end_10m_ms": big_med("end_ms"), "filter_10m_s": big_med("filter_s", 2),
        "index_10m_s": big_med("index_s", 2),
        "toolong_open_1m_ms": med(toolong), "lnav_open_1m_ms": med(lnav),
        "interactive_1m_ms": med([o["interactive_ms"] for o in small_opens]),
        "textual_hello_ms": med(hello),
    }
    ratios = {
        "open_vs_toolong": round(m["open_1m_ms"] / m["toolong_open_1m_ms"], 3)
        if m["toolong_open_1m_ms"] else None,
        "open_vs_lnav": round(m["open_1m_ms"] / m["lnav_open_1m_ms"], 3)
        if m["lnav_open_1m_ms"] else None,
        "interactive_vs_toolong": round(m["interactive_1m_ms"] / m["toolong_open_1m_ms"], 3)
        if m["toolong_open_1m_ms"] else None,
    }
    notes["log_events"] = (f"'1m' logs hold {small_n:,} events, '10m' logs {big_n:,}"
                           + (" (--quick)" if quick else ""))
    notes["rss_10m_mb"] = "the most RSS seen once the whole log is indexed and filtered"
    notes["open_1m_ms"] = ("to the first rows on the screen: painted before Textual has "
                           "loaded (viewer/_prepaint.py); interactive_1m_ms: to Textual's "
                           "first frame, when keys are answered; textual_hello_ms: the "
                           "smallest Textual app's first frame, the floor of the latter")
    notes["end_10m_ms"] = "End pressed at Textual's first frame, while indexing runs"
    notes["filter_10m_s"] = "destination.ip == 10.0.0.7 (1 in 24 events) once indexed"
    return {"metrics": m, "ratios": ratios, "notes": notes}


# -- main -------------------------------------------------------------------------------------
def _log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer, shorter runs (< 1 minute)")
    parser.add_argument("--memory-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        _memory_child(args.memory_child[0], int(args.memory_child[1]))
        return
    runs = 3 if args.quick else 5
    load_runs = 2 if args.quick else 3
    load_s = 2.5 if args.quick else 6.0
    peer_rows = 2_000 if args.quick else 10_000
    n = 1_000_000

    logs = _open_logs(args.quick, runs)
    _log(f"logs: {logs}")
    _log("memory")
    peer_mem = memory("table", peer_rows)
    peer_mb_per_event = peer_mem["delta_mb"] / peer_rows
    base = rss_mb()
    ring = EventRing(n)
    fill(ring, n)
    mem = {"rss_mb": rss_mb(), "delta_mb": rss_mb() - base}

    _log("first paint")
    paints = [asyncio.run(first_paint_ms(ring)) for _ in range(runs)]
    peer_paints = [asyncio.run(peer_first_paint_ms(peer_rows)) for _ in range(1 if args.quick
                                                                              else 3)]
    del ring
    _log(f"under load: paints {paints} peer {peer_paints}")

    loads = [asyncio.run(under_load(20_000, load_s, peer=False)) for _ in range(load_runs)]
    _log(f"peer load: {loads}")
    try:
        peer_load = asyncio.run(asyncio.wait_for(under_load(20_000, load_s, peer=True), 60))
    except TimeoutError:
        peer_load = {"frame_median_ms": float("nan"), "key_latency_ms": float("nan")}

    def med(key: str) -> float:
        return statistics.median(r[key] for r in loads)

    metrics = {
        **logs.pop("metrics"),
        "first_paint_ms": round(statistics.median(paints), 1),
        "frame_median_ms": round(med("frame_median_ms"), 2),
        "frame_cpu_median_ms": round(med("frame_cpu_median_ms"), 2),
        "process_cpu_share": round(med("process_cpu_share"), 2),
        "loadavg_1m": os.getloadavg()[0],
        "key_latency_ms": round(med("key_latency_ms"), 1),
        "rss_mb_1m": round(mem["rss_mb"], 1),
        "ring_delta_mb_1m": round(mem["delta_mb"], 1),
        "key_latency_max_ms": round(med("key_latency_max_ms"), 1),
        "ingest_rate": round(med("ingest_rate")),
        "peer_datatable_rows": peer_rows,
        "peer_datatable_first_paint_ms": round(statistics.median(peer_paints), 1),
        "peer_datatable_mb_1m_est": round(peer_mb_per_event * n, 1),
        "peer_richlog_frame_median_ms": round(peer_load["frame_median_ms"], 2),
        "peer_richlog_key_latency_ms": round(peer_load["key_latency_ms"], 1),
        "runs": runs,
    }
    ratios = {
        **logs.pop("ratios"),
        # ours with 1M events vs DataTable with peer_rows (fewer) events: < 1 is better
        "first_paint_vs_datatable": round(metrics["first_paint_ms"]
                                          / metrics["peer_datatable_first_paint_ms"], 3),
        "memory_per_event_vs_datatable": round(mem["delta_mb"] / n / peer_mb_per_event, 3),
        "frame_vs_richlog": round(metrics["frame_median_ms"]
                                  / max(1e-6, metrics["peer_richlog_frame_median_ms"]), 3),
        "key_latency_vs_richlog": round(metrics["key_latency_ms"]
                                        / max(1e-6, metrics["peer_richlog_key_latency_ms"]), 3),
    }
    print(json.dumps({"bench": "traceview", "metrics": metrics, "ratios": ratios, **logs}))


if __name__ == "__main__":
    main()
