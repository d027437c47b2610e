"""Benchmark of the hub service: cross-process throughput and provider latency under a stall.

Runs a real hub process, a provider process and (for real time) a consumer process:

* ``xproc_events_per_s``: events/s from one provider process into a JSON-lines session
  in the hub (first write to last event written), median of several runs; the peer is
  the embedded hub (provider and session in one process) measured in the same run.
* ``xproc_realtime_events_per_s``: the same into a real-time consumer process.
* ``stalled_write_p50_us`` / ``stalled_write_p99_us``: provider-side ``write`` latency
  while the hub is stopped with SIGSTOP; then ``emitted``, ``written``, ``lost`` after
  SIGCONT (``written + lost == emitted``).

Prints one JSON object as its last line. ``--quick`` runs in well under a minute.
"""

from __future__ import annotations

# ruff: noqa: E402  (imports follow the sys.path fix below, on purpose)
import sys
from pathlib import Path

# bench/ holds scripts named like stdlib modules (inspect.py): never import from it.
ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

import argparse
import contextlib
import os
import signal
import socket
import statistics
import subprocess
import tempfile
import time
from array import array

import orjson

from tracer import Hub, Level, Provider, ProviderEnable, SessionConfig
from tracer.service import attach_provider, connect

BENCH = Provider("bench-hub", keywords=["net"])
EV = BENCH.event(1, "Packet", Level.INFO, "net",
                 {"n": int, "host": str, "port": int, "size": int},
                 "packet {n} {host}:{port} {size} bytes")


def _say(**data: object) -> None:
    sys.stdout.write(orjson.dumps(data).decode() + "\n")
    sys.stdout.flush()


# -- roles run in child processes ----------------------------------------------------------
def role_provider(sock: str, count: int) -> None:
    """Write ``count`` events as fast as possible once enabled; report times and counts."""
    link = attach_provider(BENCH, sock, wait=5.0, capacity=1 << 17)
    _wait_enabled()
    write = EV.write
    t0 = time.time()
    for n in range(count):
        write(n, "example.org", 443, 1500)
    t1 = time.time()
    link.flush(60.0)
    st = link.stats()
    _say(t_first=t0, t_last=t1, emitted=count, dropped=st.dropped, sent=st.sent)
    link.close()


def role_stalled(sock: str, count: int) -> None:
    """After a go line on stdin, time ``count`` writes (the hub is stopped), then report."""
    link = attach_provider(BENCH, sock, wait=5.0)
    _wait_enabled()
    _say(ready=True)
    sys.stdin.readline()
    lat = array("q", bytes(8 * count))
    pc = time.perf_counter_ns
    emitted = 0
    for n in range(count):
        t0 = pc()
        if EV.enabled:
            EV.write(n, "example.org", 443, 1500)
            emitted += 1
        lat[n] = pc() - t0
        if n % 64 == 0:
            time.sleep(0.0001)  # a paced writer, not a busy loop
    ordered = sorted(lat)
    _say(p50=ordered[count // 2] / 1000, p99=ordered[int(count * 0.99)] / 1000, emitted=emitted)
    sys.stdin.readline()
    link.flush(60.0)
    st = link.stats()
    _say(dropped=st.dropped, sent=st.sent)
    link.close()


def role_consumer(sock: str, session: str) -> None:
    """Count a session's events until it stops; report the time of the first and last."""
    sub = connect(sock).subscribe(session)
    _say(ready=True)
    got = 0
    t_first = t_last = 0.0
    for event in sub:
        if event.kind == "event":
            got += 1
            t_last = time.time()
            if got == 1:
                t_first = t_last
    _say(received=got, t_first=t_first, t_last=t_last)


def _wait_enabled() -> None:
    deadline = time.monotonic() + 10
    while not EV.enabled and time.monotonic() < deadline:
        time.sleep(0.001)


# -- orchestration -------------------------------------------------------------------------
def _spawn(*args: str, stdin: int | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE,
                            stdin=stdin, text=True, cwd=ROOT)


def _read(proc: subprocess.Popen[str]) -> dict:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        raise RuntimeError(f"child {proc.args} exited without output")
    return orjson.loads(line)


def _start_hub(sock: Path) -> subprocess.Popen[bytes]:
    hub = subprocess.Popen([sys.executable, "-m", "tracer.service", "--socket", str(sock)],
                           cwd=ROOT, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX) as s:
            s.connect(str(sock))
            return hub
        time.sleep(0.05)
    hub.kill()
    raise RuntimeError("hub did not start")


def _session(name: str, file: Path | None, realtime: bool) -> SessionConfig:
    return SessionConfig(name, [ProviderEnable("bench-hub")], realtime=realtime, file=file,
                         buffer_size=8192, buffer_count=128, flush_interval=0.05)


def run_file(sock: Path, tmp: Path, count: int, i: int) -> dict:
    """One provider process into one JSON-lines session."""
    with connect(sock) as hub:
        hub.add_manifest(BENCH.manifest())
        hub.start_session(_session(f"file{i}", tmp / f"file{i}.jsonl", False))
        out = _read(_spawn("provider", str(sock), str(count)))
        while (st := hub.query_session(f"file{i}")).events_pending or \
                st.events_written + st.events_lost < count - out["dropped"]:
            time.sleep(0.005)
        t_done = time.time()
        st = hub.stop_session(f"file{i}")
    return {"rate": st.events_written / (t_done - out["t_first"]), "written": st.events_written,
            "lost": st.events_lost}


def run_realtime(sock: Path, count: int, i: int) -> dict:
    """One provider process into a real-time session read by a consumer process."""
    with connect(sock) as hub:
        hub.add_manifest(BENCH.manifest())
        hub.start_session(_session(f"rt{i}", None, True))
        consumer = _spawn("consumer", str(sock), f"rt{i}")
        _read(consumer)
        out = _read(_spawn("provider", str(sock), str(count)))
        hub.stop_session(f"rt{i}")
        res = _read(consumer)
    return {"rate": res["received"] / (res["t_last"] - out["t_first"]),
            "received": res["received"]}


def run_stalled(sock: Path, hub_proc: subprocess.Popen[bytes], tmp: Path, count: int) -> dict:
    """Provider write latency while the hub is SIGSTOPped, then the exact accounting."""
    with connect(sock) as hub:
        hub.add_manifest(BENCH.manifest())
        hub.start_session(_session("stall", tmp / "stall.jsonl", False))
        prov = _spawn("stalled", str(sock), str(count), stdin=subprocess.PIPE)
        assert prov.stdin is not None
        _read(prov)
        os.kill(hub_proc.pid, signal.SIGSTOP)
        try:
            prov.stdin.write("go\n")
            prov.stdin.flush()
            lat = _read(prov)
        finally:
            os.kill(hub_proc.pid, signal.SIGCONT)
        prov.stdin.write("flush\n")
        prov.stdin.flush()
        _read(prov)
        prov.wait(30)
        st = hub.stop_session("stall")
    return {"p50": lat["p50"], "p99": lat["p99"], "emitted": lat["emitted"],
            "written": st.events_written, "lost": st.events_lost}


def run_embedded(tmp: Path, count: int, i: int) -> float:
    """The peer: provider and JSON-lines session in one process (the embedded hub)."""
    p = Provider("bench-embedded", keywords=["net"])
    ev = p.event(1, "Packet", Level.INFO, "net", {"n": int, "host": str, "port": int,
                                                  "size": int}, "")
    with Hub(load_installed=False) as hub:
        hub.register(p)
        hub.start_session(SessionConfig(f"emb{i}", [ProviderEnable("bench-embedded")],
                                        file=tmp / f"emb{i}.jsonl", buffer_size=8192,
                                        buffer_count=128, flush_interval=0.05))
        t0 = time.time()
        for n in range(count):
            ev.write(n, "example.org", 443, 1500)
        while hub.query_session(f"emb{i}").events_pending:
            time.sleep(0.005)
        t1 = time.time()
        st = hub.stop_session(f"emb{i}")
    return st.events_written / (t1 - t0)


def main() -> None:
    """Run every measurement and print the JSON result line last."""
    if len(sys.argv) > 1 and sys.argv[1] in ("provider", "stalled", "consumer"):
        role, sock, arg = sys.argv[1:4]
        {"provider": lambda: role_provider(sock, int(arg)),
         "stalled": lambda: role_stalled(sock, int(arg)),
         "consumer": lambda: role_consumer(sock, arg)}[role]()
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer, shorter runs (< 1 minute)")
    opts = ap.parse_args()
    runs, count = (3, 100_000) if opts.quick else (5, 300_000)
    with tempfile.TemporaryDirectory(prefix="wfptrace-bench-") as d:
        tmp = Path(d)
        sock = tmp / "hub.sock"
        hub_proc = _start_hub(sock)
        try:
            files = [run_file(sock, tmp, count, i) for i in range(runs)]
            rts = [run_realtime(sock, count, i) for i in range(runs)]
            stall = run_stalled(sock, hub_proc, tmp, 100_000 if opts.quick else 200_000)
        finally:
            hub_proc.send_signal(signal.SIGTERM)
            hub_proc.wait(30)
        embedded = [run_embedded(tmp, count, i) for i in range(runs)]
    xproc = statistics.median(r["rate"] for r in files)
    rt = statistics.median(r["rate"] for r in rts)
    emb = statistics.median(embedded)
    metrics = {
        "xproc_events_per_s": round(xproc),
        "xproc_realtime_events_per_s": round(rt),
        "embedded_events_per_s": round(emb),
        "xproc_file_lost": sum(r["lost"] for r in files),
        "stalled_write_p50_us": round(stall["p50"], 2),
        "stalled_write_p99_us": round(stall["p99"], 2),
        "emitted": stall["emitted"], "written": stall["written"], "lost": stall["lost"],
        "runs": runs, "events_per_run": count,
    }
    ratios = {"xproc_vs_embedded": round(xproc / emb, 3),
              "realtime_vs_embedded": round(rt / emb, 3),
              "stalled_accounted": (stall["written"] + stall["lost"]) / max(stall["emitted"], 1)}
    print(orjson.dumps({"bench": "hub", "metrics": metrics, "ratios": ratios}).decode())


if __name__ == "__main__":
    main()
