"""The namespace harness: connectivity, process handling, and guaranteed teardown."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.harness import Topology, build_topology, current_netns_inode
from tests.harness.netns import (  # noqa: F401
    netns,
    netns3,
    netns_factory,
    netns_unavailable_reason,
)

ROOT = Path(__file__).resolve().parents[2]
_PROBE = ("import socket,sys; s=socket.socket(socket.AF_INET6 if ':' in sys.argv[1] "
          "else socket.AF_INET); s.settimeout(2); s.connect((sys.argv[1], 7))")


def _reachable(ns, addr: str) -> bool:  # type: ignore[no-untyped-def]
    res = ns.run([sys.executable, "-c", _PROBE, addr], check=False)
    return res.returncode == 0 or "ConnectionRefused" in res.stderr


def _exists(name: str) -> bool:
    return os.path.exists(f"/run/netns/{name}")


def test_three_namespaces_route_v4_and_v6_through_the_middle(netns3: Topology) -> None:  # noqa: F811
    """a reaches c over IPv4 and IPv6 through b, with addresses usable at once (no DAD)."""
    assert _reachable(netns3.a, netns3.c.ip4)
    assert _reachable(netns3.a, netns3.c.ip6)
    assert _reachable(netns3.c, netns3.a.ip6)


def test_enter_moves_only_the_calling_thread_and_restores_it(netns: Topology) -> None:  # noqa: F811
    """Inside enter() the thread sees the namespace's interfaces; afterwards, its own again."""
    home = current_netns_inode()
    with netns.a.enter():
        assert current_netns_inode() != home
        assert "veth0" in os.listdir("/proc/thread-self/net/dev_snmp6")
    assert current_netns_inode() == home


def test_close_kills_spawned_processes_and_deletes_namespaces() -> None:
    """close() ends background processes and removes every namespace it made."""
    if netns_unavailable_reason():
        import pytest

        pytest.skip(netns_unavailable_reason())
    topo = build_topology(2)
    proc = topo.a.spawn(["sleep", "60"])
    names = [ns.name for ns in topo.namespaces]
    topo.close()
    assert proc.poll() is not None
    assert not any(_exists(n) for n in names)


def test_fixture_tears_down_even_when_the_test_fails(tmp_path: Path) -> None:
    """A failing test using the fixture still leaves no namespace or process behind."""
    if netns_unavailable_reason():
        import pytest

        pytest.skip(netns_unavailable_reason())
    record = tmp_path / "names"
    test_file = tmp_path / "test_failing.py"
    test_file.write_text(textwrap.dedent(f"""
        def test_fails(netns):
            p = netns.b.spawn(["sleep", "60"])
            names = [ns.name for ns in netns.namespaces]
            open({str(record)!r}, "w").write(" ".join(names) + " " + str(p.pid))
            raise AssertionError("boom")
    """))
    res = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "tests.harness.netns",
                          "-p", "no:cacheprovider", str(test_file)],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert "1 failed" in res.stdout, res.stdout + res.stderr
    *names, pid = record.read_text().split()
    assert not any(_exists(n) for n in names)
    assert not os.path.exists(f"/proc/{pid}") or \
        Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"


def test_factory_builds_independent_topologies(netns_factory) -> None:  # noqa: F811
    """Each topology from the factory has its own namespaces, all removed afterwards."""
    first, second = netns_factory(2), netns_factory(3)
    names = {ns.name for t in (first, second) for ns in t.namespaces}
    assert len(names) == 5
    assert all(_exists(n) for n in names)


def test_namespaces_of_a_killed_run_are_swept_by_the_next_build() -> None:
    """Namespaces left by a dead test process are deleted; live ones are kept."""
    if netns_unavailable_reason():
        import pytest

        pytest.skip(netns_unavailable_reason())
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = f"wfpt{dead.pid}n0a"
    subprocess.run(["ip", "netns", "add", stale], check=True)
    try:
        topo = build_topology(2)
        topo.close()
        assert not _exists(stale)
    finally:
        subprocess.run(["ip", "netns", "del", stale], capture_output=True)
