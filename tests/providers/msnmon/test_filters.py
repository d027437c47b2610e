"""The monitor's filters never weaken the host firewall: user DROP/REJECT rules in filter
INPUT/OUTPUT (appended, inserted, IPv4, IPv6) keep their effect before, while running,
while suspended (the stall watchdog releases held SYNs), after kill -9, after a restart
and after a clean stop. User DROP rules in mangle after the monitor's keep theirs while
it runs and while it is suspended (the watchdog's release is the monitor's own REPEAT;
after kill -9 the kernel's queue bypass skips the rest of mangle: a known limit)."""

from __future__ import annotations

import os
import signal
import sys
import time

from providers.msnmon._callouts import CalloutRegistry
from providers.msnmon._filters import MARK_KNOWN, MARK_MON, MARK_SEEN, render_filters
from providers.netfilter import Tag, list_tagged
from tests.harness.firewall import (
    ALLOWED,
    Listeners,
    UserFirewall,
    UserRule,
    probe,
    rule_matrix,
    verdicts,
)
from tracer import read_log

from .monproc import kill, start_monitor, stop

QUEUE = 51
TAG = Tag("msnmon", 42, 4242)


def test_rules_hold_only_syns_and_copy_only_marked_flows():
    """Only a NEW SYN with neither the monitor's nor the owner cache's bit is queued (with
    bypass); NFLOG matches the connection mark; filter only gets the rule clearing the
    owner cache's bit (in OUTPUT); nothing accepts."""
    lines = render_filters(TAG, 7, 8)
    assert {r.family for r in lines} == {4, 6}
    in_filter = [r for r in lines if r.table == "filter"]
    assert [(r.family, r.chain) for r in in_filter] == [(4, "OUTPUT"), (6, "OUTPUT")]
    assert all(r.args[-3:] == ("MARK", "--set-xmark", f"0x0/{MARK_KNOWN:#x}")
               for r in in_filter)
    assert {r.table for r in lines if r not in in_filter} == {"mangle"}
    queued = [" ".join(r.args) for r in lines if "NFQUEUE" in r.args]
    assert len(queued) == 4
    assert all("--syn" in a and "--ctstate NEW" in a and "--queue-bypass" in a for a in queued)
    assert all(f"--mark 0x0/{MARK_SEEN | MARK_KNOWN:#x}" in a for a in queued)
    logged = [" ".join(r.args) for r in lines if "NFLOG" in r.args]
    assert all("--connmark" not in a and f"connmark --mark {MARK_MON:#x}/{MARK_MON:#x}" in a
               for a in logged)
    assert not any(r.args[-1] in ("ACCEPT", "DROP") for r in lines)


def _app() -> str:
    return os.path.realpath(sys.executable)


def _assert_firewall(topo, rules, phase: str) -> None:
    leaked, allowed = verdicts(probe(topo, rules), rules)
    assert not leaked, f"{phase}: these user rules were bypassed: {leaked}"
    assert allowed, f"{phase}: traffic the firewall allows must still pass"


def _mangle_rules(first_port: int) -> list[UserRule]:
    """User DROP rules in mangle OUTPUT/INPUT, both families, after the monitor's rules
    (an ACCEPT there, unlike the monitor's REPEAT, would skip them)."""
    chains = [(fam, chain) for fam in (4, 6) for chain in ("OUTPUT", "INPUT")]
    return [UserRule(fam, chain, "append", "DROP", first_port + i, table="mangle")
            for i, (fam, chain) in enumerate(chains)]


def test_user_firewall_keeps_its_effect_through_the_monitor_lifecycle(topology, tmp_path,
                                                                      state_dir):
    """Rules added before start and while running block in every phase, also while the
    monitor is suspended; the monitored application's own connections (this test's) are
    monitored meanwhile."""
    before, later, mangled = rule_matrix(18710), rule_matrix(18740), _mangle_rules(18770)
    listeners = Listeners(topology, [r.port for r in before + later + mangled] + [ALLOWED])
    fw = UserFirewall(topology)
    procs = []
    try:
        fw.add(before + mangled)
        _assert_firewall(topology, before, "before start")
        CalloutRegistry().add(QUEUE)
        log = tmp_path / "m.jsonl"
        procs.append(start_monitor(topology, state_dir, _app(), log))
        _assert_firewall(topology, before, "running")
        fw.add(later)
        _assert_firewall(topology, before + later + mangled, "rules added while running")
        kill(procs[0], signal.SIGSTOP)
        time.sleep(0.1)
        _assert_firewall(topology, before + later + mangled, "monitor suspended (SIGSTOP)")
        kill(procs[0], signal.SIGCONT)
        kill(procs[0])
        with topology.a.enter():
            assert list_tagged(), "a killed monitor cannot remove its filters"
        _assert_firewall(topology, before + later, "after kill -9")
        procs.append(start_monitor(topology, state_dir, _app(), tmp_path / "m2.jsonl"))
        with topology.a.enter():
            assert {t.pid for t in list_tagged()} == {procs[1].pid}, "stale filters swept"
        _assert_firewall(topology, before + later, "after restart")
        assert "filters of this session" in stop(procs[1])
        _assert_firewall(topology, before + later, "after stop")
        with topology.a.enter():
            assert list_tagged() == []
        flows = [e for e in read_log(str(log)) if e.name == "FlowEstablished"]
        assert any(e.fields["process.executable"] == _app()
                   and e.fields["destination.port"] == ALLOWED
                   for e in flows), "the allowed connections were monitored"
    finally:
        for proc in procs:
            stop(proc)
        listeners.close()
