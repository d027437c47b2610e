"""providers.accelerators() tells which optional C modules are in use."""

from __future__ import annotations

import os
import subprocess
import sys

import providers


def test_names_every_accelerator():
    """The three accelerators are named, each on or off."""
    found = providers.accelerators()
    assert set(found) == {"packet decoder", "MSNP scan", "packet stage"}
    assert all(isinstance(on, bool) for on in found.values())


def test_pure_mode_turns_them_all_off():
    """WFPTRACE_PURE=1 switches every one of them off."""
    code = "import providers; assert not any(providers.accelerators().values())"
    run = subprocess.run([sys.executable, "-c", code], env={**os.environ, "WFPTRACE_PURE": "1"},
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
