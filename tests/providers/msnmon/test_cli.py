"""``wfptrace monitor``: callouts, usage, root check and the monitoring lifecycle (tmux)."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from providers.msnmon import PROVIDER
from providers.msnmon._cli import main
from providers.msnmon._filters import render_filters
from providers.msnp import secret_args
from providers.netfilter import Tag, list_tagged
from tests.harness.terminal import Terminal
from tracer import read_log

from .conftest import REPO
from .monproc import cli
from .simapps import make_app, run_client, start_server

PY = [sys.executable, "-m", "providers.msnmon"]
#: The filters of one session: 4 rules x OUTPUT, INPUT x IPv4, IPv6.
RULES = len(render_filters(Tag("msnmon", 1, 1), 0, 0))


def _run(args: list[str], state: Path, **kw) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WFPTRACE_STATE_DIR": str(state)}
    return subprocess.run([*PY, *args], capture_output=True, text=True, env=env, cwd=REPO,
                          timeout=60, **kw)


def test_addcallouts_and_delcallouts_manage_the_state_file(topology, state_dir, capsys):
    """addcallouts writes the registration, delcallouts removes it; both say what they did
    (in a namespace: delcallouts looks for sessions' filters there)."""
    assert main(["addcallouts", "--queue", "42"]) == 0
    assert "registered (queue 42)" in capsys.readouterr().out
    assert (state_dir / "msnmon-callouts.json").exists()
    with topology.a.enter():
        assert main(["delcallouts"]) == 0
    assert "removed" in capsys.readouterr().out
    assert not (state_dir / "msnmon-callouts.json").exists()


@pytest.mark.parametrize("args", [["monitor"], ["monitor", "/no/such/app"], ["bogus"],
                                  ["addcallouts", "--queue", "70000"], []])
def test_usage_errors_print_the_usage_and_exit_2(state_dir, args, capsys):
    """A usage error prints the usage line and exits with status 2."""
    with pytest.raises(SystemExit) as info:
        main(args)
    assert info.value.code == 2 and "usage: wfptrace monitor" in capsys.readouterr().err


def test_monitor_needs_root_and_says_so(state_dir):
    """Without root, monitor refuses with a clear message and status 1."""
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("setpriv is needed to drop root for this test")
        prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    else:
        prefix = []
    env = {**os.environ, "WFPTRACE_STATE_DIR": str(state_dir)}
    res = subprocess.run([*prefix, *PY, "monitor", "msnmsgr"], capture_output=True, text=True,
                         env=env, cwd=REPO, timeout=60)
    assert res.returncode == 1 and "needs root" in res.stderr


def test_replay_legacy_format_prints_the_original_strings(suspect_chat, state_dir):
    """replay --legacy-format prints exactly the original driver's trace lines (with the
    secrets and bodies captured, as the original printed them)."""
    res = _run(["replay", "--legacy-format", "--capture-secrets", "--capture-bodies",
                str(suspect_chat)], state_dir)
    lines = res.stdout.splitlines()  # text mode: the chunks' CRLF ends each line
    assert res.returncode == 0
    assert lines[0] == ("Message Received. Local Port: 3331 Remote Port: 1863. Message: USR 93 "
                        "tesla_brian@hotmail.com 1835953129.20013021.2623242")
    assert sum(line.startswith("Client-Client Message ") for line in lines) == 20
    assert "25 commands on 1 flows" in res.stderr


def test_replay_legacy_format_output_is_the_originals_byte_for_byte(suspect_chat, state_dir):
    """The whole output, bytes included (the "Sent" lines' CRLF), is what the re-implemented
    notify.c traces chunk by chunk, one trace message after another."""
    from .test_replay import _original_trace

    env = {**os.environ, "WFPTRACE_STATE_DIR": str(state_dir)}
    res = subprocess.run([*PY, "replay", "--legacy-format", "--capture-secrets",
                          "--capture-bodies", str(suspect_chat)],  # (as the original printed)
                         capture_output=True, env=env, cwd=REPO, timeout=60)
    want = _original_trace(suspect_chat, lambda s, d: s if d == 1863 else d)
    assert res.returncode == 0
    assert res.stdout == "".join(m if m.endswith("\n") else m + "\n" for m in want).encode()


# -- lifecycle in a namespace, driven through tmux ------------------------------------------
def _shell_line(argv: list[str]) -> str:
    """The monitor's command line for a terminal: its exit status stays on screen."""
    return f"{shlex.join(argv)}; echo EXIT=$?; sleep 120"


def _terminal(argv: list[str]) -> Terminal:
    return Terminal(_shell_line(argv), 200, 50, name="msnmon-test")


def _tags(topo) -> list[str]:
    with topo.a.enter():
        return [t.owner for t in list_tagged()]


def _monitor_argv(topo, state: Path, app: str, log: Path, *flags: str) -> list[str]:
    return topo.a.argv(["env", f"WFPTRACE_STATE_DIR={state}", *PY, "monitor", app,
                        "--file", str(log), *flags])


@pytest.mark.parametrize("stop_keys", [("q",), ("C-c",)], ids=["key", "ctrl-c"])
def test_monitor_lifecycle(topology, tmp_path, state_dir, stop_keys):
    """monitor installs its filters, traces the app, and removes them on a key or Ctrl-C;
    the registration survives the restart and delcallouts makes the next start fail. The
    first run's log has the transcript's tickets and cookies redacted; the second runs
    with --capture-secrets, and both logs' headers say which."""
    app = make_app(tmp_path, "wfpt-msn-client")
    start_server(topology)
    assert _run(["addcallouts", "--queue", "43"], state_dir).returncode == 0
    term: Terminal | None = None
    try:
        rounds = 2 if stop_keys == ("q",) else 1
        for round_ in range(rounds):  # the provider restarts; the callouts are re-installed
            log = tmp_path / f"run{round_}.jsonl"
            flags = ("--capture-secrets",) if round_ else ()
            term = _terminal(_monitor_argv(topology, state_dir, app, log, *flags))
            screen = term.wait_for("Press any key", history=200)
            assert f"traced to {log}" in screen
            assert _tags(topology) == ["msnmon"] * RULES
            transcript = run_client(topology, app, tmp_path / f"t{round_}.json")
            time.sleep(1.0)  # let the last packets through the queue
            term.keys(*stop_keys)
            screen = term.wait_for("EXIT=", history=200)
            term.close()
            assert "EXIT=0" in screen and "filters of this session" in screen
            assert _tags(topology) == []
            commands = [e for e in read_log(str(log)) if e.name == "Command"]
            assert len(commands) == len(transcript["commands"])
            secrets = [c["args"][i] for c in transcript["commands"]
                       for i in secret_args(c["verb"], c["args"])]
            data = log.read_bytes()
            assert secrets and [s.encode() in data for s in secrets] == [bool(round_)] * \
                len(secrets)
            header = json.loads(data.split(b"\n", 1)[0])
            assert header["capture_secrets"] is bool(round_)
            assert header["redaction"] == "hmac-sha256"
        assert cli(topology, state_dir, "delcallouts").returncode == 0  # in the namespace
        term = _terminal(_monitor_argv(topology, state_dir, app, tmp_path / "none.jsonl"))
        screen = term.wait_for("EXIT=", history=200)
        assert "EXIT=1" in screen and "addcallouts" in screen
        assert _tags(topology) == []
    finally:
        if term is not None:
            term.close()


def test_monitor_sends_events_to_the_hub_service(topology, tmp_path, state_dir):
    """With --hub-socket the events reach a session of the hub service; a line on a
    non-terminal stdin stops monitoring."""
    from tracer import ProviderEnable, SessionConfig
    from tracer.service import connect

    app = make_app(tmp_path, "wfpt-msn-client")
    start_server(topology)
    assert _run(["addcallouts", "--queue", "44"], state_dir).returncode == 0
    sock = tmp_path / "hub.sock"
    hub_proc = subprocess.Popen([sys.executable, "-m", "tracer.service", "--socket", str(sock)],
                                cwd=REPO, stderr=subprocess.DEVNULL)
    monitor = None
    try:
        deadline = time.monotonic() + 15
        while not sock.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        with connect(sock) as hub:
            hub.add_manifest(PROVIDER.manifest())  # until the entry point is installed
            hub.start_session(SessionConfig("msn", [ProviderEnable("wfptrace-msnmon")],
                                            realtime=True))
            sub = hub.subscribe("msn")
            env = {**os.environ, "WFPTRACE_STATE_DIR": str(state_dir)}
            monitor = subprocess.Popen(
                topology.a.argv([*PY, "monitor", app, "--hub-socket", str(sock)]),
                cwd=REPO, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            assert monitor.stdout is not None and monitor.stdin is not None
            first = monitor.stdout.readline()
            assert f"are sent to the hub at {sock}" in first
            monitor.stdout.readline()  # "Press any key ..."
            transcript = run_client(topology, app, tmp_path / "t.json")
            time.sleep(1.0)  # let the last packets through the queue
            monitor.stdin.write("\n")
            monitor.stdin.flush()
            assert monitor.wait(30) == 0
            assert _tags(topology) == []
            events = []
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                event = sub.get(timeout=0.5)
                if event is None and len(events) >= len(transcript["commands"]):
                    break
                if event is not None and event.name == "Command":
                    events.append(event)
            hub.stop_session("msn")
        assert len(events) == len(transcript["commands"])
    finally:
        if monitor is not None and monitor.poll() is None:
            monitor.kill()
        hub_proc.terminate()
        hub_proc.wait(10)


def test_monitor_without_input_runs_until_sigterm(topology, tmp_path, state_dir):
    """With no input to read, monitoring goes on until SIGTERM, then its filters go."""
    assert _run(["addcallouts", "--queue", "45"], state_dir).returncode == 0
    proc = _start_monitor(topology, state_dir, tmp_path / "m.jsonl")
    try:
        time.sleep(0.5)
        assert proc.poll() is None and _tags(topology) == ["msnmon"] * RULES
        proc.terminate()
        assert proc.wait(20) == 0
        assert _tags(topology) == []
    finally:
        if proc.poll() is None:
            proc.kill()


def _start_monitor(topo, state: Path, log: Path) -> subprocess.Popen:
    env = {**os.environ, "WFPTRACE_STATE_DIR": str(state)}
    proc = subprocess.Popen(topo.a.argv([*PY, "monitor", "wfpt-msn-client", "--file", str(log)]),
                            cwd=REPO, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    while "Press any key" not in proc.stdout.readline():
        assert proc.poll() is None, "monitor exited early"
    return proc


def test_filters_of_a_killed_monitor_are_swept_at_the_next_start(topology, tmp_path,
                                                                  state_dir):
    """A monitor killed outright leaves tagged filters; the next session sweeps them."""
    assert _run(["addcallouts", "--queue", "46"], state_dir).returncode == 0
    first = _start_monitor(topology, state_dir, tmp_path / "a.jsonl")
    first.kill()
    first.wait(10)
    with topology.a.enter():
        stale = list_tagged()
    assert {t.pid for t in stale} == {first.pid} and not any(t.alive for t in stale)
    second = _start_monitor(topology, state_dir, tmp_path / "b.jsonl")
    try:
        with topology.a.enter():
            assert {t.pid for t in list_tagged()} == {second.pid}
        second.terminate()
        assert second.wait(20) == 0
        assert _tags(topology) == []
    finally:
        if second.poll() is None:
            second.kill()


def test_monitor_exports_live_flows_over_otlp(topology, tmp_path, state_dir):
    """monitor --otlp sends the monitored application's flows to an OTLP receiver as spans."""
    from tests.tracer.otel.receiver import Receiver

    app = make_app(tmp_path, "wfpt-msn-client")
    start_server(topology)
    assert _run(["addcallouts", "--queue", "45"], state_dir).returncode == 0
    receiver = Receiver()
    with topology.a.enter():  # the receiver listens on the monitor's namespace's loopback
        endpoint = receiver.start_http()
    log = tmp_path / "otlp.jsonl"
    monitor = subprocess.Popen(
        topology.a.argv(["env", f"WFPTRACE_STATE_DIR={state_dir}", *PY, "monitor", app,
                         "--file", str(log), "--otlp", endpoint]),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=REPO)
    try:
        assert monitor.stdout is not None and monitor.stdin is not None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            line = monitor.stdout.readline().decode()
            if "Press any key" in line or not line:
                break
        run_client(topology, app, tmp_path / "t.json")
        time.sleep(1.0)
        monitor.stdin.write(b"\n")
        monitor.stdin.flush()
        assert monitor.wait(30) == 0
        flows = [e for e in read_log(str(log)) if e.name == "FlowEstablished"]
        assert flows
        assert receiver.wait(lambda r: len(r.spans) >= len(flows), 10), \
            f"{len(receiver.spans)} spans for {len(flows)} flows"
    finally:
        if monitor.poll() is None:
            monitor.kill()
            monitor.wait()
        receiver.stop()
