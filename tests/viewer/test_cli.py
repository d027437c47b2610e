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
