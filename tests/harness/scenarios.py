"""Traffic scenarios shared by integration tests and benchmarks.

Each one builds on a :class:`~tests.harness.netns.Topology`, runs real
processes in its namespaces and returns plain numbers to assert on or report.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

from providers.netfilter import (
    Attributor,
    NfQueue,
    Packet,
    QueueConfig,
    QueueRule,
    QueueRules,
    Verdict,
)

from .netns import Topology

__all__ = ["HERE", "AttributionResult", "attribution_scenario", "client_executables"]

HERE = Path(__file__).resolve().parent
TCPCONN = str(HERE / "tcpconn.py")


def _python_binary() -> str:
    for cand in ("/usr/bin/python3.11", "/usr/bin/python3", sys.executable):
        real = os.path.realpath(cand)
        if os.path.exists(real):
            return real
    raise FileNotFoundError("no python binary to copy")


def client_executables(workdir: Path) -> dict[str, list[str]]:
    """Three distinct client executables: two renamed Python copies and socat.

    Maps the executable's real path to the argv prefix that runs it. Without
    socat, a third Python copy stands in.
    """
    src = _python_binary()
    out: dict[str, list[str]] = {}
    for name in ("wfpt-client-a", "wfpt-client-b"):
        dst = workdir / name
        shutil.copy2(src, dst)
        out[str(dst)] = [str(dst), TCPCONN]
    socat = shutil.which("socat")
    if socat:
        out[os.path.realpath(socat)] = [os.path.realpath(socat)]
    else:
        dst = workdir / "wfpt-client-c"
        shutil.copy2(src, dst)
        out[str(dst)] = [str(dst), TCPCONN]
    return out


@dataclass
class AttributionResult:
    """Outcome of :func:`attribution_scenario`; ``wrong`` lists (port, got, want)."""

    total: int = 0
    correct: int = 0
    unknown: int = 0
    wrong: list[tuple[int, str | None, str]] = field(default_factory=list)
    durations_ms: list[float] = field(default_factory=list)
    executables: int = 0

    @property
    def accuracy(self) -> float:
        """Fraction of connections attributed to the right executable."""
        return self.correct / self.total if self.total else 0.0


def _socat_loop(topo: Topology, argv: list[str], dst: str, port: int, first: int,
                count: int, failures: list[int]) -> None:
    target = f"TCP6:[{dst}]:{port}" if ":" in dst else f"TCP4:{dst}:{port}"
    for sport in range(first, first + count):
        res = subprocess.run(topo.a.argv([*argv, "-u", "STDIN",
                                          f"{target},sourceport={sport},reuseaddr"]),
                             input=b"hello", capture_output=True, timeout=10)
        if res.returncode != 0:
            failures.append(sport)


def attribution_scenario(topo: Topology, workdir: Path, connections: int = 200,
                         queue_num: int = 40, port: int = 8080) -> AttributionResult:
    """Short-lived connections from 3 executables in ``a`` to a sink in ``b``.

    The first packet of each connection (SYN, conntrack NEW) waits in an
    NFQUEUE in ``a`` while it is attributed; the result compares each
    attribution with the executable that really opened the connection
    (known from its source port range). IPv4 and IPv6 are both used.
    """
    exes = client_executables(workdir)
    topo.b.spawn([_python_binary(), TCPCONN, "serve", str(port)])
    topo.b.wait_listening(port)
    plan = _plan(topo, exes, connections)
    seen: dict[int, str | None] = {}
    with topo.a.enter():
        rules = QueueRules("attrtest", [QueueRule(queue_num, protocol="tcp", dport=port,
                                                  new_only=True)])
        queue = NfQueue(QueueConfig(queue_num=queue_num))
        attributor = Attributor()
    stop = threading.Event()

    def handler(pkt: Packet) -> Verdict:
        result = attributor.attribute_packet(pkt)
        if result.flow is not None:
            seen[result.flow.sport] = result.exe
        return Verdict.ACCEPT

    try:
        rules.install()
        loop = threading.Thread(target=queue.run, args=(handler, stop), daemon=True)
        loop.start()
        durations, failed = _run_clients(topo, plan, port)
    finally:
        stop.set()
        rules.close()
        queue.close()
        attributor.close()
    return _score(plan, seen, durations, failed, len(exes))


def _plan(topo: Topology, exes: dict[str, list[str]],
          connections: int) -> list[tuple[str, list[str], str, int, int]]:
    """(exe, argv, destination, first source port, count) per client run."""
    per = connections // len(exes)
    plan = []
    for i, (exe, argv) in enumerate(exes.items()):
        count = per if i < len(exes) - 1 else connections - per * (len(exes) - 1)
        half = count // 2
        base = 20000 + i * 2000
        plan.append((exe, argv, topo.b.ip4, base, half))
        plan.append((exe, argv, topo.b.ip6, base + 1000, count - half))
    return plan


def _run_clients(topo: Topology, plan: list[tuple[str, list[str], str, int, int]],
                 port: int) -> tuple[list[float], list[int]]:
    durations: list[float] = []
    failed: list[int] = []
    procs, threads = [], []
    for _exe, argv, dst, first, count in plan:
        if argv[-1] == TCPCONN:
            procs.append(subprocess.Popen(
                topo.a.argv([*argv, "connect", dst, str(port), str(first), str(count)]),
                stdout=subprocess.PIPE, text=True))
        else:
            th = threading.Thread(target=_socat_loop,
                                  args=(topo, argv, dst, port, first, count, failed))
            th.start()
            threads.append(th)
    for proc in procs:
        out, _ = proc.communicate(timeout=120)
        data = json.loads(out.strip().splitlines()[-1])
        durations += data["durations_ms"]
        failed += [-1] * data["failures"]
    for th in threads:
        th.join(120)
    return durations, failed


def _score(plan: list[tuple[str, list[str], str, int, int]], seen: dict[int, str | None],
           durations: list[float], failed: list[int], executables: int) -> AttributionResult:
    res = AttributionResult(durations_ms=durations, executables=executables)
    for exe, _argv, _dst, first, count in plan:
        for sport in range(first, first + count):
            res.total += 1
            got = seen.get(sport)
            if got == exe:
                res.correct += 1
            elif got is None:
                res.unknown += 1
                res.wrong.append((sport, None, exe))
            else:
                res.wrong.append((sport, got, exe))
    return res


