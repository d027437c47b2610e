"""Start and stop like ``net start|stop inspect``: teardown, crashes, fail-open, fail-closed."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from providers.inspect._config import load_config
from providers.inspect._inspector import Inspector
from providers.netfilter import NfQueue, QueueConfig
from providers.netfilter._errors import QueueBindError
from tests.harness.netns import Topology

from .conftest import OTHER4, Lab, tcp_exchange, until


def _pend_connections(lab: Lab) -> list[threading.Thread]:
    """Open one outbound and one inbound TCP connection that stay pending (external decider)."""
    threads = [threading.Thread(target=tcp_exchange, args=(lab.a, lab.b.ip4, 8.0)),
               threading.Thread(target=tcp_exchange, args=(lab.b, lab.a.ip4, 8.0),
                                kwargs={"src": lab.b.ip4})]
    for t in threads:
        t.start()
    lab.inspector.wait_event("ConnectionPended", 2)
    return threads


def test_stop_blocks_pending_connections_and_removes_every_rule(lab: Lab) -> None:
    """Stop completes both pending connections (inbound included) with block and leaves no rule."""
    lab.inspector.start("--remote", lab.b.ip4, "--decider", "external", "--decider-timeout", "30")
    assert lab.inspector.rules()
    threads = _pend_connections(lab)
    started = time.monotonic()
    res = lab.inspector.stop()
    assert res.returncode == 0, res.stderr
    assert time.monotonic() - started < 5, "stop hung on a pending connection"
    verdicts = lab.inspector.events("ConnectionVerdict")
    assert sorted((e.fields["network.direction"], e.fields["verdict"], e.fields["decided_by"])
                  for e in verdicts) == [("egress", "block", "stop"),
                                         ("ingress", "block", "stop")]
    (stopped,) = lab.inspector.events("Stopped")
    assert stopped.fields["pending_blocked"] == 2
    assert lab.inspector.rules() == ""
    assert not list(lab.inspector.run_dir.glob("inspect-*"))
    assert tcp_exchange(lab.a, lab.b.ip4), "traffic must pass once the inspector is gone"
    for t in threads:
        t.join(10)


def test_sigkill_fails_open_through_queue_bypass(lab: Lab) -> None:
    """After SIGKILL (no cleanup) traffic with the peer still passes: the queue rules bypass."""
    lab.inspector.start("--remote", lab.b.ip4, "--block")
    assert not tcp_exchange(lab.a, lab.b.ip4, 0.5)
    lab.inspector.kill()
    assert lab.inspector.rules(), "a killed inspector cannot remove its rules"
    assert tcp_exchange(lab.a, lab.b.ip4)


def test_sigkill_with_fail_closed_keeps_the_peer_blocked_until_swept(lab: Lab) -> None:
    """With fail_closed the dead inspector's DROP rules keep the peer blocked; stop sweeps them."""
    lab.inspector.start("--remote", lab.b.ip4, "--fail-closed")
    assert tcp_exchange(lab.a, lab.b.ip4)
    lab.inspector.kill()
    assert not tcp_exchange(lab.a, lab.b.ip4, 0.7)
    assert tcp_exchange(lab.a, OTHER4), "only the inspected peer is blocked"
    status = lab.inspector.cli("status")
    assert status.returncode == 3 and "crashed" in status.stdout
    res = lab.inspector.cli("stop")
    assert res.returncode == 0 and "stale rules" in res.stdout, res
    assert lab.inspector.rules() == ""
    assert tcp_exchange(lab.a, lab.b.ip4)


def test_next_start_sweeps_the_rules_of_a_crashed_inspector(lab: Lab) -> None:
    """A new inspector removes the rules a killed one left behind and traces how many."""
    lab.inspector.start("--remote", lab.b.ip4, "--fail-closed")
    lab.inspector.kill()
    old = lab.inspector.rules()
    assert old
    lab.inspector.trace.unlink()
    lab.inspector.start("--remote", lab.b.ip4)
    (swept,) = lab.inspector.wait_event("RulesSwept")
    assert swept.fields["count"] == len(old.splitlines())
    new = lab.inspector.rules()
    assert new and not set(new.splitlines()) & set(old.splitlines())
    assert until(lambda: tcp_exchange(lab.a, lab.b.ip4))


def test_clean_stop_after_fail_closed_leaves_traffic_flowing(lab: Lab) -> None:
    """A clean stop removes the fail-closed DROP rules too: nothing is left, traffic passes."""
    lab.inspector.start("--remote", lab.b.ip4, "--fail-closed")
    assert lab.inspector.stop().returncode == 0
    assert lab.inspector.rules() == ""
    assert tcp_exchange(lab.a, lab.b.ip4)


def test_rundown_lists_pending_and_active_connections(lab: Lab) -> None:
    """A capture-state request traces one RundownConnection per pending and active flow."""
    import socket

    from providers.inspect import DecisionClient

    insp = lab.inspector.start("--remote", lab.b.ip4, "--decider", "external",
                               "--decider-timeout", "30")
    (state,) = insp.run_dir.glob("inspect-*.json")
    with lab.a.enter():
        active = socket.socket()
    with DecisionClient(state.with_suffix(".sock")) as client, active:
        active.settimeout(5)
        opener = threading.Thread(target=active.connect, args=((lab.b.ip4, 7000),))
        opener.start()
        first = until(client.pending)
        assert first and client.decide(first[0].id, "permit")
        opener.join(5)
        pending = threading.Thread(target=tcp_exchange, args=(lab.a, lab.b.ip4, 1.5))
        pending.start()
        assert until(lambda: len(client.pending()) == 1)
        client.call("rundown")
        rundown = insp.wait_event("RundownConnection", 2)
        assert sorted(e.fields["state"] for e in rundown) == ["pending", "permitted"]
        assert all(lab.b.ip4 in (e.fields["source.ip"], e.fields["destination.ip"])
                   for e in rundown)
        pending.join(5)


def test_events_reach_the_hub_service_and_its_capture_state_runs_down(lab: Lab,
                                                                       tmp_path) -> None:
    """With --hub-socket a hub session gets the events; its capture-state yields a rundown."""
    import subprocess
    import sys

    from providers.inspect import PROVIDER
    from tracer import ProviderEnable, SessionConfig
    from tracer.service import connect

    from .conftest import ROOT

    sock = tmp_path / "hub.sock"
    hub_proc = subprocess.Popen([sys.executable, "-m", "tracer.service", "--socket", str(sock)],
                                cwd=ROOT, stderr=subprocess.DEVNULL)
    try:
        assert until(sock.exists, 15)
        with connect(sock) as hub:
            hub.add_manifest(PROVIDER.manifest())  # until the entry point is installed
            hub.start_session(SessionConfig("insp", [ProviderEnable("wfptrace-inspect")],
                                            realtime=True))
            sub = hub.subscribe("insp")
            lab.inspector.start("--remote", lab.b.ip4, "--hub-socket", str(sock))
            with lab.a.enter():
                active = socket.create_connection((lab.b.ip4, 7000), timeout=5)
            with active:
                names: list[str] = []
                deadline = time.monotonic() + 10
                while "ConnectionVerdict" not in names and time.monotonic() < deadline:
                    event = sub.get(timeout=0.2)
                    names += [event.name] if event is not None else []
                hub.capture_state("insp")
                rundown = None
                while rundown is None and time.monotonic() < deadline:
                    event = sub.get(timeout=0.2)
                    if event is not None and event.name == "RundownConnection":
                        rundown = event
            assert "ConnectionPended" in names and "ConnectionVerdict" in names
            assert rundown is not None and rundown.fields["state"] == "permitted"
            hub.stop_session("insp")
    finally:
        hub_proc.terminate()
        hub_proc.wait(10)


def test_external_decider_answers_through_the_hub_service(lab: Lab, tmp_path) -> None:
    """A decider process reaches the inspector only through the hub: one permit, one block."""
    import subprocess
    import sys
    from concurrent.futures import ThreadPoolExecutor

    from providers.inspect import HubDecisionClient
    from tracer.service import connect

    from .conftest import ROOT, tcp_exchange

    sock = tmp_path / "hub.sock"
    hub_proc = subprocess.Popen([sys.executable, "-m", "tracer.service", "--socket", str(sock)],
                                cwd=ROOT, stderr=subprocess.DEVNULL)
    try:
        assert until(sock.exists, 15)
        lab.inspector.start("--remote", lab.b.ip4, "--decider", "external",
                            "--decider-timeout", "20", "--hub-socket", str(sock))
        with connect(sock) as hub:
            client = HubDecisionClient(hub)
            assert until(lambda: _answers(client), 15), "inspector never registered"
            with ThreadPoolExecutor(2) as pool:
                first = pool.submit(tcp_exchange, lab.a, lab.b.ip4, 10.0)
                assert until(lambda: len(client.pending()) == 1, 10)
                second = pool.submit(tcp_exchange, lab.a, lab.b.ip4, 2.0)
                assert until(lambda: len(client.pending()) == 2, 10)
                a, b = client.pending()
                assert a.remote == lab.b.ip4 and a.protocol == "tcp"
                assert client.decide(a.id, "permit") and client.decide(b.id, "block")
                assert first.result() is True
                assert second.result() is False
            assert client.decide(a.id, "block") is False
    finally:
        hub_proc.terminate()
        hub_proc.wait(10)


def _answers(client) -> bool:
    from providers.inspect import InspectError

    try:
        client.status()
    except InspectError:
        return False
    return True


def test_a_start_that_cannot_bind_its_second_queue_leaves_the_first_unbound(
        netns: Topology) -> None:
    """When the packet queue is taken, start fails and the connection queue is free again."""
    config = load_config(env={}, remote_address=netns.b.ip4, queue=40)
    with netns.a.enter():
        blocker = NfQueue(QueueConfig(queue_num=41))
        try:
            with pytest.raises(QueueBindError):
                Inspector(config, attribute=False).start()
            NfQueue(QueueConfig(queue_num=40)).close()
        finally:
            blocker.close()


def _firewall(lab: Lab) -> str:
    """Every table and rule in namespace ``a``: nft, legacy and nft-flavoured iptables."""
    out = []
    for argv in (["nft", "list", "tables"], ["iptables-legacy-save"], ["ip6tables-legacy-save"],
                 ["iptables-nft-save"], ["ip6tables-nft-save"]):
        res = lab.a.run(argv, check=False)
        out.append(" ".join(argv) + "\n" + "\n".join(
            line for line in res.stdout.splitlines() if not line.startswith("#")))
    return "\n".join(out)


def test_start_and_stop_leave_no_table_behind(lab: Lab) -> None:
    """After a clean start/stop (v4 and v6 rules) the namespace's firewall is as before."""
    before = _firewall(lab)
    lab.inspector.start("--remote", lab.b.ip4, "--reject")
    assert lab.inspector.rules()
    assert lab.inspector.stop().returncode == 0
    assert _firewall(lab) == before
    lab.inspector.start("--remote", lab.b.ip6)
    assert lab.inspector.stop().returncode == 0
    assert _firewall(lab) == before
