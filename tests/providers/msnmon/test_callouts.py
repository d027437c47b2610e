"""The persistent callout registration: a state file added, reloaded and removed."""

from __future__ import annotations

import os

from providers.msnmon._callouts import (
    CALLOUT_NAMES,
    DEFAULT_QUEUE,
    CalloutRegistry,
    default_state_dir,
)


def test_add_then_load_survives_a_new_registry_object(tmp_path):
    """What addcallouts wrote is found again by a fresh registry (a restart)."""
    reg, new = CalloutRegistry(tmp_path).add(7)
    assert new and reg.callouts == CALLOUT_NAMES
    again = CalloutRegistry(tmp_path).load()
    assert again is not None and again.queue_num == 7


def test_adding_twice_is_idempotent(tmp_path):
    """A second addcallouts keeps the first registration."""
    registry = CalloutRegistry(tmp_path)
    first, _ = registry.add()
    second, new = registry.add()
    assert not new and second == first and first.queue_num == DEFAULT_QUEUE


def test_delete_removes_the_registration(tmp_path):
    """delcallouts removes the file; a second delete reports there was nothing."""
    registry = CalloutRegistry(tmp_path)
    registry.add()
    assert registry.delete() and registry.load() is None
    assert not registry.delete()


def test_a_corrupt_state_file_counts_as_unregistered(tmp_path):
    """Garbage in the state file is not a registration."""
    registry = CalloutRegistry(tmp_path)
    registry.path.write_text("{not json")
    assert registry.load() is None
    registry.path.write_text('{"callouts": ["stream"], "queue_num": 3}')
    assert registry.load() is None


def test_state_dir_follows_the_environment(monkeypatch, tmp_path):
    """WFPTRACE_STATE_DIR wins; otherwise root uses /var/lib/wfptrace, users XDG_STATE_HOME."""
    monkeypatch.setenv("WFPTRACE_STATE_DIR", str(tmp_path))
    assert default_state_dir() == tmp_path
    monkeypatch.delenv("WFPTRACE_STATE_DIR")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    expected = "/var/lib/wfptrace" if os.geteuid() == 0 else str(tmp_path / "xdg" / "wfptrace")
    assert str(default_state_dir()) == expected
