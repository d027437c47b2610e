"""block_traffic is read again when the file changes, and only then."""

from __future__ import annotations

import os
from pathlib import Path

from providers.inspect import load_config
from providers.inspect._blockswitch import BlockSwitch


def _touch(path: Path, text: str, bump: int) -> None:
    path.write_text(text)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + bump))


def test_edited_file_changes_the_value(tmp_path: Path) -> None:
    """Writing block_traffic = true flips the switch on the next read."""
    path = tmp_path / "c.toml"
    path.write_text('remote_address = "10.0.0.1"\n')
    switch = BlockSwitch(load_config(path, env={}))
    assert switch.current() is False
    _touch(path, 'remote_address = "10.0.0.1"\nblock_traffic = true\n', 10)
    assert switch.current() is True and switch.reloads == 1


def test_unchanged_file_is_not_parsed_again(tmp_path: Path) -> None:
    """Many reads of an unchanged file cost stats only, no reload."""
    path = tmp_path / "c.toml"
    path.write_text('remote_address = "10.0.0.1"\n')
    switch = BlockSwitch(load_config(path, env={}))
    for _ in range(100):
        switch.current()
    assert switch.reloads == 0


def test_broken_file_keeps_the_last_good_value(tmp_path: Path) -> None:
    """An invalid edit is counted and ignored: the previous value stays."""
    path = tmp_path / "c.toml"
    path.write_text('remote_address = "10.0.0.1"\nblock_traffic = true\n')
    switch = BlockSwitch(load_config(path, env={}))
    _touch(path, "block_traffic = [\n", 10)
    assert switch.current() is True and switch.errors == 1


def test_a_flag_fixes_the_value(tmp_path: Path) -> None:
    """With --block given, editing the file changes nothing."""
    path = tmp_path / "c.toml"
    path.write_text('remote_address = "10.0.0.1"\n')
    switch = BlockSwitch(load_config(path, env={}, block_traffic=True))
    _touch(path, 'remote_address = "10.0.0.1"\nblock_traffic = false\n', 10)
    assert switch.current() is True
