"""The wfptrace command line against a running hub: ``wfptrace hub`` and the session commands."""

from __future__ import annotations

import signal
import subprocess
import sys

import orjson
import pytest

from tests.tracer.service.conftest import Child, wait_for
from tests.tracer.service.procs import DEMO
from tracer import read_log
from tracer.service import connect

WFPTRACE = [sys.executable, "-m", "tracer._cli"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*WFPTRACE, *args], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("extra", [(), ("--render-worker",)])
def test_session_commands_drive_a_running_hub(hubd, spawn, sock_dir, extra):
    """start, list, update, query, flush and stop act on the hub's sessions and say so."""
    with connect(hubd.path) as hub:
        hub.add_manifest(DEMO.manifest())
    log = sock_dir / "cli.jsonl"
    hub_args = ("--hub", str(hubd.path))
    started = run(*hub_args, "session", "start", "cli", "-p", "svc-demo:info", "--file", str(log),
                  "--flush-interval", "0.02", *extra)
    assert started.returncode == 0, started.stderr
    assert f"using the hub at {hubd.path}" in started.stderr
    assert "runs in the hub" in started.stderr
    listed = run(*hub_args, "session", "list", "--json")
    assert [orjson.loads(line)["name"] for line in listed.stdout.splitlines()] == ["cli"]
    provider = spawn("provider", "--socket", str(hubd.path), "--count", "40")
    provider.line()
    assert provider.line()["flushed"]
    assert run(*hub_args, "session", "update", "cli", "-p", "svc-demo:info:disk").returncode == 0
    with connect(hubd.path) as hub:
        assert hub.session_config("cli")[0].keywords == ("disk",)
    query = orjson.loads(run(*hub_args, "session", "query", "cli", "--json").stdout)
    assert query["events_written"] == 40
    stopped = run(*hub_args, "session", "stop", "cli")
    assert stopped.returncode == 0, stopped.stderr
    assert "session cli: stopped, events written 40, lost 0" in stopped.stdout
    assert len([e for e in read_log(log) if e.kind == "event"]) == 40


def test_realtime_start_follows_events_from_the_hub(hubd, spawn):
    """``session start --realtime`` against a hub prints the provider's events until it stops."""
    with connect(hubd.path) as hub:
        hub.add_manifest(DEMO.manifest())
        follower = Child([*WFPTRACE, "--hub", str(hubd.path), "session", "start", "rt", "-p",
                          "svc-demo", "--realtime", "--flush-interval", "0.02"])
        wait_for(lambda: [s for s in hub.list_sessions() if s.name == "rt"], what="session rt")
    provider = spawn("provider", "--socket", str(hubd.path), "--count", "5")
    provider.line()
    assert provider.line()["flushed"]
    follower.proc.send_signal(signal.SIGINT)
    out, err = follower.proc.communicate(timeout=20)
    assert [line.split()[-1] for line in out.splitlines()] == ["hello"] * 5
    assert "tick 4 hello" in out
    assert "session rt: stopped, events written 5" in err


def test_hub_none_uses_an_embedded_hub_and_says_so():
    """``--hub none`` makes the session commands use an embedded hub, announced on stderr."""
    result = run("--hub", "none", "session", "list")
    assert result.returncode == 0
    assert "embedded hub" in result.stderr


def test_missing_hub_is_a_clear_error(sock_dir):
    """Naming a hub socket where nothing listens is a one-line error."""
    result = run("--hub", str(sock_dir / "nothing.sock"), "session", "list")
    assert result.returncode == 1
    assert f"no hub is listening on {sock_dir / 'nothing.sock'}" in result.stderr
    assert "Traceback" not in result.stderr


def test_wfptrace_hub_serves_until_sigterm(sock_dir):
    """``wfptrace hub --socket PATH`` says where it listens and exits cleanly on SIGTERM."""
    path = sock_dir / "cli-hub.sock"
    proc = subprocess.Popen([*WFPTRACE, "hub", "--socket", str(path)], stderr=subprocess.PIPE,
                            text=True)
    wait_for(path.exists, what="the hub socket")
    with connect(path) as hub:
        assert hub.hub_pid == proc.pid
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0
    assert f"listening on {path} (mode 0660" in err


def test_providers_lists_what_the_running_hub_knows(hubd):
    """With a hub running, `providers` lists its providers, not just the installed ones."""
    with connect(hubd.path) as hub:
        hub.add_manifest(DEMO.manifest())
    result = run("--hub", str(hubd.path), "providers", "--json")
    assert result.returncode == 0, result.stderr
    names = [m["name"] for m in orjson.loads(result.stdout)]
    assert "svc-demo" in names and "wfptrace-hub" in names
    assert "svc-demo" in run("--hub", str(hubd.path), "providers").stdout


def test_hub_says_who_holds_which_role(start_hub, new_member):
    """``wfptrace hub`` with role groups says on stderr which groups hold which role."""
    readers, controllers = new_member(), new_member()
    hub = start_hub("--readers", f"{readers.group}:wfptrace-hub", "--controllers",
                    controllers.group)
    code, err = hub.terminate()
    assert code == 0, err
    line = next(line for line in err.splitlines() if "roles:" in line)
    reader, controller, provider = line.split("roles: ")[1].split("; ")
    assert reader.startswith("reader: root or members of group ")
    assert f"{readers.group} (events of wfptrace-hub only)" in reader
    assert controllers.group in reader
    assert controller == f"controller: root or members of group {controllers.group}"
    assert provider == "provider: root"


def test_hub_help_lists_the_role_options():
    """``wfptrace hub --help`` documents --group as the shorthand and each role option."""
    out = run("hub", "--help").stdout
    for option in ("--group", "--readers", "--controllers", "--providers"):
        assert option in out
    assert "every role" in out
