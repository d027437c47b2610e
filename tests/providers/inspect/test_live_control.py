"""Live control: set block|permit, SIGHUP/reload of the file, refused changes, a fresh status."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

from .conftest import Lab, tcp_exchange, until


def _status(lab: Lab) -> dict:
    res = lab.inspector.cli("status")
    assert res.returncode == 0, res
    return json.loads(res.stdout)


def _conf(path: Path, text: str) -> None:
    """Write the file and move its mtime on (a same-tick rewrite must still count as a change)."""
    path.write_text(text)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))


def test_set_switches_an_inspector_started_with_a_flag(lab: Lab) -> None:
    """``set block`` / ``set permit`` switch traffic, status and overload policy, traced."""
    lab.inspector.start("--remote", lab.b.ip4, "--no-block")
    assert tcp_exchange(lab.a, lab.b.ip4)
    res = lab.inspector.cli("set", "block")
    assert res.returncode == 0 and "inspect: block (was permit)" in res.stdout, res
    assert not tcp_exchange(lab.a, lab.b.ip4, 0.7)
    st = _status(lab)
    assert st["block_traffic"] is True and st["config"]["block_traffic"] is True
    assert until(lambda: _status(lab)["overload"] == "drop"), "a full queue must drop now"
    assert lab.inspector.cli("set", "permit").returncode == 0
    assert until(lambda: tcp_exchange(lab.a, lab.b.ip4))
    changes = [(e.fields["block_traffic"], e.fields["source"])
               for e in lab.inspector.wait_event("ConfigChanged", 2)]
    assert changes == [(True, "set"), (False, "set")]


def test_sighup_reads_the_file_again(lab: Lab, tmp_path: Path) -> None:
    """After editing the file, SIGHUP applies block_traffic (traced with source sighup)."""
    conf = tmp_path / "inspect.toml"
    conf.write_text(f'remote_address = "{lab.b.ip4}"\n')
    lab.inspector.start("--config", str(conf))
    _conf(conf, f'remote_address = "{lab.b.ip4}"\nblock_traffic = true\n')
    assert lab.inspector.proc is not None
    os.kill(lab.inspector.proc.pid, signal.SIGHUP)
    (changed,) = lab.inspector.wait_event("ConfigChanged")
    assert changed.fields["source"] == "sighup" and changed.fields["block_traffic"] is True
    assert not tcp_exchange(lab.a, lab.b.ip4, 0.7)
    assert lab.inspector.proc.poll() is None, "SIGHUP must not stop the inspector"
    assert _status(lab)["block_traffic"] is True


def test_invalid_changes_are_refused_and_the_running_configuration_stays(
        lab: Lab, tmp_path: Path) -> None:
    """A typo key, ``fals`` and a new remote_address are refused with clear messages, traced."""
    conf = tmp_path / "inspect.toml"
    good = f'remote_address = "{lab.b.ip4}"\nblock_traffic = true\n'
    conf.write_text(good)
    lab.inspector.start("--config", str(conf))
    cases = [(good + "blok_traffic = false\n", "unknown keys blok_traffic"),
             (f'remote_address = "{lab.b.ip4}"\nblock_traffic = "fals"\n',
              "block_traffic must be true or false"),
             (f'remote_address = "{lab.b.ip6}"\nblock_traffic = false\n',
              "remote_address changed: a restart is needed")]
    for text, message in cases:
        _conf(conf, text)
        res = lab.inspector.cli("reload")
        assert res.returncode == 1 and message in res.stderr, res
        assert len(res.stderr.strip().splitlines()) == 1, "one line, no traceback"
        st = _status(lab)
        assert st["config"]["remote_address"] == lab.b.ip4 and st["block_traffic"] is True
        assert not tcp_exchange(lab.a, lab.b.ip4, 0.5)
    reasons = [e.fields["reason"] for e in lab.inspector.events("ConfigRefused")]
    assert all(any(m in r for r in reasons) for _, m in cases), reasons
    assert not lab.inspector.events("ConfigChanged")
    _conf(conf, good.replace("true", "false"))
    res = lab.inspector.cli("reload")
    assert res.returncode == 0 and "block_traffic = False" in res.stdout, res
    assert tcp_exchange(lab.a, lab.b.ip4)


def test_status_shows_an_edited_value_before_any_packet(lab: Lab, tmp_path: Path) -> None:
    """status reports the file's new block_traffic at once, in the configuration too."""
    conf = tmp_path / "inspect.toml"
    conf.write_text(f'remote_address = "{lab.b.ip4}"\n')
    lab.inspector.start("--config", str(conf))
    assert _status(lab)["block_traffic"] is False
    _conf(conf, f'remote_address = "{lab.b.ip4}"\nblock_traffic = true\n')
    st = _status(lab)
    assert st["block_traffic"] is True and st["config"]["block_traffic"] is True
