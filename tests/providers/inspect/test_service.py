"""A service, not a terminal: its own state directory, signals, and clear messages for users."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from providers.inspect._state import ROOT_RUN_DIR, run_dir

from .conftest import ROOT, Lab, OrdinaryUser, tcp_exchange


def _one_line(res: subprocess.CompletedProcess[str], code: int, text: str) -> None:
    assert res.returncode == code, res
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and text in lines[0], res.stderr
    assert "Traceback" not in res.stderr + res.stdout


def test_root_keeps_its_state_outside_the_hub_runtime_directory() -> None:
    """Root's state lives in /run/wfptrace-inspect, which the hub unit never removes."""
    assert Path("/run/wfptrace-inspect") == ROOT_RUN_DIR
    if os.geteuid() == 0 and not os.environ.get("WFPTRACE_RUN_DIR"):
        assert run_dir() == ROOT_RUN_DIR


def test_an_ordinary_user_is_told_root_is_needed(lab: Lab, ordinary_user: OrdinaryUser) -> None:
    """start without CAP_NET_ADMIN: one line saying root is needed, nothing installed."""
    res = ordinary_user.cli(lab.a, "start", "--remote", lab.b.ip4)
    _one_line(res, 1, "needs root")
    assert lab.inspector.rules() == ""


def test_an_ordinary_user_is_told_the_running_inspector_belongs_to_root(
        lab: Lab, ordinary_user: OrdinaryUser) -> None:
    """status, stop and set by a user find root's inspector and say whose it is."""
    lab.inspector.run_dir = ROOT_RUN_DIR  # the default place, where users look too
    lab.inspector.start("--remote", lab.b.ip4)
    for args, what in ((("status",), "run status as root"), (("stop",), "run stop as root"),
                       (("set", "block"), "run this as root"),
                       (("--run-dir", str(ROOT_RUN_DIR), "stop"), "run stop as root")):
        _one_line(ordinary_user.cli(lab.a, *args), 1, "belongs to root: " + what)
    assert lab.inspector.proc is not None and lab.inspector.proc.poll() is None
    assert lab.inspector.stop().returncode == 0
    assert not list(ROOT_RUN_DIR.glob(f"inspect-{os.stat(f'/run/netns/{lab.a.name}').st_ino}*"))


def test_stop_in_a_directory_the_user_cannot_use_is_one_line(
        lab: Lab, ordinary_user: OrdinaryUser, tmp_path: Path) -> None:
    """A stale root-owned state and a closed directory give one message line, no traceback."""
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)
    res = ordinary_user.cli(lab.a, "--run-dir", str(closed), "stop")
    _one_line(res, 1, "no inspector of yours runs")
    res = ordinary_user.cli(lab.a, "--run-dir", str(closed), "status")
    assert res.returncode in (1, 3) and "Traceback" not in res.stderr, res


def test_a_config_file_that_is_not_utf8_is_one_line(lab: Lab, tmp_path: Path) -> None:
    """start with a Latin-1 file prints one configuration error and installs nothing."""
    conf = tmp_path / "latin1.toml"
    conf.write_bytes(f'remote_address = "{lab.b.ip4}"\n# caf\xe9\n'.encode("latin-1"))
    res = lab.inspector.cli("start", "--config", str(conf))
    _one_line(res, 2, "not UTF-8")
    assert lab.inspector.rules() == ""


def test_mapped_and_unspecified_addresses_are_refused_at_start(lab: Lab) -> None:
    """::ffff:a.b.c.d names the IPv4 address to use; 0.0.0.0 is refused."""
    res = lab.inspector.cli("start", "--remote", f"::ffff:{lab.b.ip4}")
    _one_line(res, 2, f'use "{lab.b.ip4}"')
    _one_line(lab.inspector.cli("start", "--remote", "0.0.0.0"), 2, "cannot be a remote peer")


def test_sigterm_stops_cleanly_and_sighup_does_not(lab: Lab) -> None:
    """SIGHUP (a closed terminal) keeps inspecting; SIGTERM removes every rule and exits 0."""
    lab.inspector.start("--remote", lab.b.ip4, "--block")
    proc = lab.inspector.proc
    assert proc is not None
    proc.send_signal(signal.SIGHUP)
    time.sleep(0.5)
    assert proc.poll() is None and lab.inspector.rules()
    assert not tcp_exchange(lab.a, lab.b.ip4, 0.5)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(20) == 0
    assert lab.inspector.rules() == ""
    assert not list(lab.inspector.run_dir.glob("inspect-*"))
    assert tcp_exchange(lab.a, lab.b.ip4)


def test_the_sample_unit_runs_the_inspector_as_a_service() -> None:
    """The unit starts in the foreground, reloads with SIGHUP, stops with SIGTERM."""
    unit = (ROOT / "samples/systemd/wfptrace-inspect.service").read_text()
    assert "inspect start --config /etc/wfptrace/inspect.toml" in unit
    assert "ExecReload=/bin/kill -HUP $MAINPID" in unit
    assert "RuntimeDirectory=wfptrace-inspect" in unit
    assert "KillSignal=SIGTERM" in unit


def test_the_sample_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    """``systemd-analyze verify`` accepts the unit (the wfptrace path made to exist)."""
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    unit = (ROOT / "samples/systemd/wfptrace-inspect.service").read_text()
    copy = tmp_path / "wfptrace-inspect.service"
    copy.write_text(unit.replace("/usr/local/bin/wfptrace", "/bin/true"))
    res = subprocess.run(["systemd-analyze", "verify", str(copy)], capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0 and "wfptrace-inspect" not in res.stderr, res.stderr
