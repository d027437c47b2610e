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
    assert "no such file" in capsys.readouterr().err


def test_hub_that_is_not_running_is_a_clear_error(tmp_path, capsys):
    """--hub with no hub listening exits 2 and says it cannot connect."""
    assert run(_args("--hub", str(tmp_path / "none.sock"))) == 2
    assert "cannot connect to the hub" in capsys.readouterr().err


def test_register_adds_the_view_subcommand():
    """register() adds `view` with the same options and a func returning an exit status."""
    parser = argparse.ArgumentParser(prog="wfptrace")
    register(parser.add_subparsers())
    args = parser.parse_args(["view", "--demo", "--rate", "10"])
    assert args.func is run and args.demo and args.rate == 10


def test_bad_ring_size_is_refused(capsys):
    """--ring 0 exits 2 with a message."""
    assert run(_args("--ring", "0")) == 2
    assert "--ring" in capsys.readouterr().err


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


# -- bad log files: one line on stderr, exit status 2, no traceback ----------------------
_HEADER = b'{"type":"header","format":"wfptrace-jsonl","version":1,"session":"s","providers":[]}'
BAD_LOGS = {
    "not-a-log.json": (b'{"hello": 1}\n', "not a wfptrace log (format is not"),
    "text.txt": (b"hello\n", "not a wfptrace log (its first line is not JSON)"),
    "empty.jsonl": (b"", "is empty: no session has written to it yet"),
    "cut.jsonl": (_HEADER[:30], "the header line is cut short"),
    "missing.jsonl": (None, "no such file"),
}


def _one_line(err: str, message: str) -> None:
    assert err.count("\n") == 1 and err.startswith("traceview: ") and message in err, err
    assert "Traceback" not in err


@pytest.mark.parametrize("name", sorted(BAD_LOGS))
def test_bad_log_file_gets_one_line(tmp_path, capsys, name):
    """A file that is not a readable wfptrace log: one line on stderr and exit status 2."""
    content, message = BAD_LOGS[name]
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    assert run(_args(str(path))) == 2
    out = capsys.readouterr()
    assert out.out == ""
    _one_line(out.err, message)


def test_directory_gets_one_line(tmp_path, capsys):
    """A directory given as the log is refused with one line."""
    assert run(_args(str(tmp_path))) == 2
    _one_line(capsys.readouterr().err, "is a directory")


def test_unreadable_log_gets_one_line(unreadable_log):
    """A log the user may not read: `traceview FILE` says so in one line, exit status 2."""
    import subprocess
    import sys

    result = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                             sys.executable, "-m", "viewer", str(unreadable_log)],
                            capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert result.returncode == 2
    _one_line(result.stderr, "Permission denied")


def test_several_logs_are_checked_each_and_a_bad_one_named(tmp_path, capsys):
    """``traceview good.jsonl notalog.json``: exit 2, the bad file named, nothing opened."""
    from .test_logindex import write_log

    good = write_log(tmp_path / "good.jsonl", 5)
    bad = tmp_path / "notalog.json"
    bad.write_text('{"a": 1}\n')
    args = _args(str(good), str(bad))
    assert args.log == [good, bad]
    assert run(args) == 2
    assert "notalog.json" in capsys.readouterr().err
