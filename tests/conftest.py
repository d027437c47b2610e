"""Shared pytest configuration: the network-namespace harness is available everywhere."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest_plugins = ["tests.harness.netns"]


@pytest.fixture
def unreadable_log() -> Iterator[Path]:
    """A log file (valid header) that user ``nobody`` may not read, in a directory it may.

    Tests run as root, who reads everything: they run the command under
    ``setpriv --reuid=nobody`` to see what a user without permission sees.
    """
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        reason = "needs root and setpriv to run a command as user nobody"
        print(f"SKIP: {reason}")
        pytest.skip(reason)
    folder = Path(tempfile.mkdtemp(prefix="wfptrace-perm-"))
    try:
        folder.chmod(0o755)
        path = folder / "secret.jsonl"
        path.write_bytes(b'{"type":"header","format":"wfptrace-jsonl","version":1}\n')
        path.chmod(0o600)
        yield path
    finally:
        shutil.rmtree(folder)
