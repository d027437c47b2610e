"""Matching the monitored application by executable path or name."""

from __future__ import annotations

import os

from providers.msnmon import AppMatcher


def test_a_name_matches_any_executable_with_that_file_name():
    """A bare name matches the executable's base name only."""
    matcher = AppMatcher("msnmsgr")
    assert matcher.matches("/opt/msn/msnmsgr")
    assert not matcher.matches("/opt/msn/msnmsgr2") and not matcher.matches(None)


def test_a_path_matches_that_executable_through_symlinks(tmp_path):
    """A path matches the file it resolves to, also when the process saw it deleted."""
    exe = tmp_path / "real-msn"
    exe.write_bytes(b"")
    link = tmp_path / "msn"
    os.symlink(exe, link)
    matcher = AppMatcher(str(link))
    assert matcher.matches(str(exe))
    assert matcher.matches(f"{exe} (deleted)")
    assert not matcher.matches(str(tmp_path / "other"))
