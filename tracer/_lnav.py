"""``wfptrace lnav``: the lnav log format for wfptrace logs, shipped and installed.

With it, lnav shows a wfptrace log's time, level, provider, event and message as
columns and can query it with SQL (``SELECT ... FROM wfptrace_log``).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from ._errors import ConfigError

__all__ = ["LNAV_FORMAT", "install_lnav_format", "register"]

#: The format file (lnav's JSON log format schema, format-v1).
LNAV_FORMAT = Path(__file__).with_name("formats") / "wfptrace_log.json"


def install_lnav_format(lnav: str | None = None, home: Path | None = None) -> Path:
    """Install the format with ``lnav -i`` (or copy it where lnav looks); return where."""
    exe = lnav or shutil.which("lnav")
    if exe is not None:
        proc = subprocess.run([exe, "-i", str(LNAV_FORMAT)], capture_output=True, text=True,
                              timeout=60)
        if proc.returncode != 0:
            raise ConfigError(f"lnav -i failed: {(proc.stderr or proc.stdout).strip()}")
    target = (home or Path.home()) / ".lnav" / "formats" / "installed" / LNAV_FORMAT.name
    if exe is None:  # no lnav yet: put the file where it will look
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(LNAV_FORMAT, target)
    return target


def register(sub: Any) -> None:
    """Add ``lnav install|path``."""
    p = sub.add_parser("lnav", help="the lnav log format for wfptrace logs")
    actions = p.add_subparsers(dest="lnav_action", required=True, metavar="ACTION")
    actions.add_parser("install", help="install the format for this user (lnav -i)") \
        .set_defaults(func=_install)
    actions.add_parser("path", help="print the format file's path").set_defaults(func=_path)


def _install(args: argparse.Namespace) -> int:
    where = install_lnav_format()
    print(f"installed the wfptrace_log format: {where} (open a log with: lnav FILE.jsonl)",
          file=sys.stderr)
    return 0


def _path(args: argparse.Namespace) -> int:
    print(LNAV_FORMAT)
    return 0
