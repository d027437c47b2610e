"""The ``inspect start|stop|status`` commands: refusals install nothing, one per namespace."""

from __future__ import annotations

import argparse
import json

from providers.inspect import register

from .conftest import Lab, tcp_exchange


def test_register_adds_the_inspect_subcommand() -> None:
    """The entry-point hook adds ``inspect start`` with its flags to a wfptrace parser."""
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["inspect", "start", "--remote", "10.0.0.1", "--block",
                              "--decider", "external", "--decider-timeout", "3",
                              "--fail-closed"])
    assert (args.remote, args.block, args.decider, args.decider_timeout, args.fail_closed) == (
        "10.0.0.1", True, "external", 3.0, True)


def test_invalid_address_refuses_to_start_and_installs_nothing(lab: Lab) -> None:
    """A bad address exits 2 with a clear message; no rule and no state file appear."""
    insp = lab.inspector
    insp.start("--remote", "10.0.0.300", expect_ok=False)
    assert insp.proc is not None and insp.proc.wait(10) == 2
    assert "configuration error" in insp.output[0] and "10.0.0.300" in insp.output[0]
    assert insp.rules() == ""
    assert not list(insp.run_dir.glob("inspect-*"))


def test_missing_address_refuses_to_start(lab: Lab, tmp_path) -> None:
    """A configuration file without remote_address is refused before anything is installed."""
    conf = tmp_path / "c.toml"
    conf.write_text("block_traffic = true\n")
    insp = lab.inspector
    insp.start("--config", str(conf), expect_ok=False)
    assert insp.proc is not None and insp.proc.wait(10) == 2
    assert "remote_address is missing" in insp.output[0]
    assert insp.rules() == ""


def test_status_reports_running_inspector_and_a_second_start_is_refused(lab: Lab) -> None:
    """status shows the configuration and counters; starting twice in a namespace fails."""
    insp = lab.inspector.start("--remote", lab.b.ip4)
    assert tcp_exchange(lab.a, lab.b.ip4)
    res = insp.cli("status")
    status = json.loads(res.stdout)
    assert status["state"] == "running"
    assert status["config"]["remote_address"] == lab.b.ip4
    assert status["stats"]["permitted"] == 1
    (loaded,) = insp.events("ConfigLoaded")
    (started,) = insp.events("Started")
    assert loaded.fields["remote"] == lab.b.ip4 and not loaded.fields["block_traffic"]
    assert started.fields["decider"] == "static" and not started.fields["fail_closed"]
    second = insp.cli("start", "--remote", lab.b.ip4)
    assert second.returncode == 1 and "already runs" in second.stderr


def test_stop_without_inspector_is_an_error(lab: Lab) -> None:
    """stop in a namespace without an inspector (and nothing stale) says so."""
    res = lab.inspector.cli("stop")
    assert res.returncode == 1 and "no inspector" in res.stderr
    assert lab.inspector.cli("status").returncode == 3


def test_queue_in_use_is_a_clear_error_and_installs_nothing(lab: Lab) -> None:
    """A second inspector on the same queue numbers fails with one error line, no rules."""
    first = lab.inspector.start("--remote", lab.b.ip4)
    res = first.cli("--run-dir", str(first.run_dir / "other"), "start", "--remote", lab.b.ip6)
    assert res.returncode == 1 and "error:" in res.stderr and "Traceback" not in res.stderr
    assert lab.b.ip6 not in first.rules()


def test_a_live_inspector_exports_its_connections_over_otlp(lab: Lab) -> None:
    """inspect start --otlp: each inspected connection reaches an OTLP receiver as a trace."""
    from tests.tracer.otel.receiver import Receiver

    receiver = Receiver()
    try:
        with lab.a.enter():  # the receiver listens on the inspector's namespace's loopback
            endpoint = receiver.start_http()
        insp = lab.inspector.start("--remote", lab.b.ip4, "--otlp", endpoint)
        for _ in range(3):
            assert tcp_exchange(lab.a, lab.b.ip4)
        assert insp.stop().returncode == 0
        assert receiver.wait(lambda r: len({s.item.trace_id for s in r.spans}) >= 3, 15), \
            f"{len(receiver.spans)} spans"
        peers = {s.attrs.get("destination.ip") for s in receiver.spans}
        assert lab.b.ip4 in peers
    finally:
        receiver.stop()
