"""The command line: modes that are not available yet fail clearly; wfptrace view exists."""

import argparse

import pytest

from viewer import register, run
from viewer._cli import add_arguments


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(argv)


def test_missing_log_file_is_an_error(tmp_path, capsys):
    """A log path that does not exist exits 2 with a message."""
    assert run(_args(str(tmp_path / "nope.jsonl"))) == 2
    assert "no such file" in capsys.readouterr().out


def test_hub_that_is_not_running_is_a_clear_error(tmp_path, capsys):
    """--hub with no hub listening exits 2 and says it cannot connect."""
    assert run(_args("--hub", str(tmp_path / "none.sock"))) == 2
    assert "cannot connect to the hub" in capsys.readouterr().out


def test_register_adds_the_view_subcommand():
    """register() adds `view` with the same options and a func returning an exit status."""
    parser = argparse.ArgumentParser(prog="wfptrace")
    register(parser.add_subparsers())
    args = parser.parse_args(["view", "--demo", "--rate", "10"])
    assert args.func is run and args.demo and args.rate == 10


def test_bad_ring_size_is_refused(capsys):
    """--ring 0 exits 2 with a message."""
    assert run(_args("--ring", "0")) == 2
    assert "--ring" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [["--demo", "--hub", "x"], ["--replay", "a", "--demo"]])
def test_modes_are_exclusive(argv):
    """Only one of --hub, --replay and --demo may be given."""
    with pytest.raises(SystemExit):
        _args(*argv)


def test_decisions_socket_must_exist(tmp_path) -> None:
    """--decisions naming a missing inspector socket is a clear usage error."""
    import pytest

    from viewer._cli import UsageError, _inspector_decisions

    with pytest.raises(UsageError, match="no inspector control socket"):
        _inspector_decisions(str(tmp_path / "nope.sock"))


def test_decisions_come_from_a_running_inspector(tmp_path) -> None:
    """An inspector's control socket becomes the decisions panel's source."""
    import socket

    from providers.inspect import DecisionClient
    from viewer._cli import _inspector_decisions

    path = tmp_path / "inspect.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    try:
        source = _inspector_decisions(str(path))
        assert isinstance(source, DecisionClient) and source.path == path
        assert callable(source.pending) and callable(source.decide) and callable(source.hold)
    finally:
        server.close()


def test_decisions_through_the_hub_when_an_inspector_answers() -> None:
    """With no local socket, a hub whose wfptrace-inspect answers control requests is used."""
    from providers.inspect import PROVIDER, HubDecisionClient
    from tracer import Hub
    from viewer._cli import _inspector_decisions

    with Hub(load_installed=False) as hub:
        assert _inspector_decisions(None, hub) is None  # no inspector registered
        hub.register(PROVIDER)
        PROVIDER.on_control(lambda request: {"pending": []})
        try:
            source = _inspector_decisions(None, hub)
            assert isinstance(source, HubDecisionClient) and source.pending() == []
        finally:
            PROVIDER.on_control(None)
