"""The inspector never weakens the host firewall: user DROP/REJECT rules in filter
INPUT/OUTPUT (appended, inserted, IPv4, IPv6) on the inspected peer's traffic keep their
effect before, while it runs (permitting), after kill -9, after a restart and a stop."""

from __future__ import annotations

from pathlib import Path

from tests.harness.firewall import ALLOWED, Listeners, UserFirewall, probe, rule_matrix, verdicts

from .conftest import InspectorProc


def _assert_firewall(topo, rules, phase: str) -> None:
    leaked, allowed = verdicts(probe(topo, rules), rules)
    assert not leaked, f"{phase}: these user rules were bypassed: {leaked}"
    assert allowed, f"{phase}: traffic the firewall allows must still pass"


def test_user_firewall_keeps_its_effect_through_the_inspector_lifecycle(netns, tmp_path: Path
                                                                        ) -> None:
    """Rules added before start and while running block in every phase while the
    inspector permits (and so sees) the peer's connections, both families."""
    config = tmp_path / "inspect.toml"
    config.write_text(f'remote_address = "{netns.b.ip4}"\naddresses = ["{netns.b.ip6}"]\n'
                      'block_traffic = false\nqueue = 3300\n')
    before, later = rule_matrix(18710), rule_matrix(18740)
    listeners = Listeners(netns, [r.port for r in before + later] + [ALLOWED])
    fw = UserFirewall(netns)
    insp = InspectorProc(netns, tmp_path / "run", tmp_path / "trace.jsonl")
    try:
        fw.add(before)
        _assert_firewall(netns, before, "before start")
        insp.start("--config", str(config))
        _assert_firewall(netns, before, "running")
        fw.add(later)
        _assert_firewall(netns, before + later, "rules added while running")
        assert insp.events("ConnectionVerdict"), "the inspector saw the connections"
        insp.kill()
        assert insp.rules(), "a killed inspector cannot remove its rules"
        _assert_firewall(netns, before + later, "after kill -9")
        insp.start("--config", str(config))
        _assert_firewall(netns, before + later, "after restart")
        assert insp.stop().returncode == 0
        assert insp.rules() == ""
        _assert_firewall(netns, before + later, "after stop")
    finally:
        if insp.proc is not None and insp.proc.poll() is None:
            insp.cli("stop")
            insp.proc.wait(20)
        listeners.close()
