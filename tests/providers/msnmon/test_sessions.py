"""The control program and running sessions: delcallouts stops a session or names the one it
cannot stop, a second monitor names the first, dead sessions' filters are swept, and
nothing else's rules (iptables, nftables) change by a byte."""

from __future__ import annotations

import re
import signal
import time

from providers.msnmon._filters import render_filters
from providers.netfilter import Tag, list_tagged

from .monproc import cli, kill, start_monitor, stop

#: How many filters one monitoring session installs.
FILTERS = len(render_filters(Tag("msnmon", 1, 1), 0, 0))

QUEUE = 52
APP = "wfpt-msn-client"


def _tags(topo) -> list:
    with topo.a.enter():
        return list_tagged()


def test_delcallouts_stops_a_running_session_and_says_so(topology, tmp_path, state_dir):
    """The session stops by itself, its filters go, and both programs say so."""
    assert cli(topology, state_dir, "addcallouts", "--queue", str(QUEUE)).returncode == 0
    proc = start_monitor(topology, state_dir, APP, tmp_path / "m.jsonl")
    try:
        res = cli(topology, state_dir, "delcallouts")
        assert res.returncode == 0, res.stderr
        assert f"monitoring session pid {proc.pid}" in res.stdout
        assert "stopped: its filters are removed" in res.stdout
        assert proc.wait(10) == 0
        out = stop(proc)
        assert "callouts were removed" in out and "filters of this session" in out
        assert _tags(topology) == []
        assert not (state_dir / "msnmon-callouts.json").exists()
    finally:
        stop(proc)


def test_delcallouts_refuses_while_the_session_is_suspended(topology, tmp_path, state_dir):
    """A suspended session cannot stop: delcallouts names its pid and keeps everything."""
    assert cli(topology, state_dir, "addcallouts", "--queue", str(QUEUE)).returncode == 0
    proc = start_monitor(topology, state_dir, APP, tmp_path / "m.jsonl")
    try:
        kill(proc, signal.SIGSTOP)
        time.sleep(0.2)
        res = cli(topology, state_dir, "delcallouts")
        assert res.returncode == 1
        assert f"pid {proc.pid}" in res.stderr and "suspended" in res.stderr
        assert (state_dir / "msnmon-callouts.json").exists()
        kill(proc, signal.SIGCONT)
        time.sleep(0.5)
        assert proc.poll() is None and {t.pid for t in _tags(topology)} == {proc.pid}
    finally:
        stop(proc)


def test_a_second_monitor_names_the_running_one(topology, tmp_path, state_dir):
    """No 'Operation not permitted': the message names the first session's pid."""
    assert cli(topology, state_dir, "addcallouts", "--queue", str(QUEUE)).returncode == 0
    first = start_monitor(topology, state_dir, APP, tmp_path / "m.jsonl")
    try:
        res = cli(topology, state_dir, "monitor", APP, "--file", str(tmp_path / "2.jsonl"))
        assert res.returncode == 1
        assert "already running" in res.stderr and f"pid {first.pid}" in res.stderr
        assert "not permitted" not in res.stderr
        assert first.poll() is None and {t.pid for t in _tags(topology)} == {first.pid}
    finally:
        stop(first)


def _foreign(topo) -> None:
    """Rules and a table that are not ours, in the tables our filters use and others."""
    a = topo.a
    for exe in ("iptables", "ip6tables"):
        a.run([exe, "-w", "-t", "filter", "-A", "OUTPUT", "-p", "tcp", "--dport", "9", "-j",
               "DROP"])
        a.run([exe, "-w", "-t", "filter", "-I", "INPUT", "-p", "tcp", "--dport", "9", "-m",
               "comment", "--comment", "user rule", "-j", "REJECT"])
        a.run([exe, "-w", "-t", "mangle", "-A", "OUTPUT", "-p", "tcp", "--dport", "9", "-j",
               "MARK", "--set-xmark", "0x1/0x1"])
        a.run([exe, "-w", "-t", "mangle", "-I", "INPUT", "-m", "connmark", "--mark", "0x2/0x2",
               "-j", "CONNMARK", "--restore-mark"])
    a.run(["nft", "-f", "-"], input="table inet foreign {\n chain out { type filter hook output"
          " priority 10; tcp dport 9 counter drop; }\n chain inp { type filter hook input"
          " priority -160; ct mark 0x2 accept; }\n}\n")


def _snapshot(topo) -> str:
    """iptables-save/ip6tables-save/nft -s list ruleset, without counters and dates."""
    out = []
    for argv in (["iptables-save"], ["ip6tables-save"], ["nft", "-s", "list", "ruleset"]):
        text = topo.a.run(argv).stdout
        out += [re.sub(r"\[\d+:\d+\]", "", line) for line in text.splitlines()
                if not line.startswith("#")]
    return "\n".join(out)


def test_foreign_rules_survive_byte_for_byte(topology, tmp_path, state_dir):
    """Start/stop, kill -9 then delcallouts (which sweeps), kill -9 then a restart: the
    rules and nft table of others are exactly as before each time."""
    _foreign(topology)
    before = _snapshot(topology)
    assert cli(topology, state_dir, "addcallouts", "--queue", str(QUEUE)).returncode == 0
    procs = [start_monitor(topology, state_dir, APP, tmp_path / "1.jsonl")]
    try:
        assert "filters of this session" in stop(procs[0])
        assert _snapshot(topology) == before, "after a clean stop"
        procs.append(start_monitor(topology, state_dir, APP, tmp_path / "2.jsonl"))
        kill(procs[1])
        assert _snapshot(topology) != before, "a killed monitor leaves its filters"
        res = cli(topology, state_dir, "delcallouts")
        assert res.returncode == 0 and f"removed {FILTERS} filters left by monitoring " \
            "sessions that died" in res.stdout, res.stdout
        assert _snapshot(topology) == before, "after delcallouts swept a dead session"
        assert cli(topology, state_dir, "addcallouts", "--queue", str(QUEUE)).returncode == 0
        procs.append(start_monitor(topology, state_dir, APP, tmp_path / "3.jsonl"))
        kill(procs[2])
        procs.append(start_monitor(topology, state_dir, APP, tmp_path / "4.jsonl"))
        assert {t.pid for t in _tags(topology)} == {procs[3].pid}, "the restart swept"
        assert "filters of this session" in stop(procs[3])
        assert _snapshot(topology) == before, "after a restart swept and stopped"
    finally:
        for proc in procs:
            stop(proc)
