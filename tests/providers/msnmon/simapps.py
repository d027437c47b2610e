"""Simulator sessions as two distinct applications (renamed copies of the Python binary)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from providers.msnp import redact_args

from .conftest import REPO

PORT_BASE = 18630


def python_binary() -> str:
    """A real Python binary (not the venv's symlink) to copy under another name."""
    for cand in ("/usr/bin/python3.11", "/usr/bin/python3", sys.executable):
        real = os.path.realpath(cand)
        if os.path.exists(real):
            return real
    raise FileNotFoundError("no python binary to copy")


def make_app(workdir: Path, name: str) -> str:
    """Copy the Python binary to ``workdir/name``; return its real path."""
    dst = workdir / name
    shutil.copy2(python_binary(), dst)
    return os.path.realpath(dst)


def start_server(topo, port_base: int = PORT_BASE) -> subprocess.Popen:
    """The simulator's servers in namespace ``b``, on its address."""
    proc = topo.b.spawn([python_binary(), "-m", "samples.msnsim", "server", "--host", topo.b.ip4,
                         "--port-base", str(port_base)], cwd=str(REPO))
    for port in (port_base, port_base + 1, port_base + 2):
        topo.b.wait_listening(port, timeout=15)
    return proc


def run_client(topo, app: str, transcript: Path, port_base: int = PORT_BASE) -> dict:
    """Run the scripted client as ``app`` in namespace ``a``; return its transcript."""
    subprocess.run(
        topo.a.argv([app, "-m", "samples.msnsim", "client", "--host", topo.b.ip4,
                     "--port-base", str(port_base), "--transcript", str(transcript)]),
        cwd=str(REPO), check=True, capture_output=True, timeout=60)
    return json.loads(transcript.read_text())


#: The transcript's words for a ``network.direction`` (what the client sent or received).
TRANSCRIPT_DIRS = {"egress": "sent", "ingress": "received"}


def expected_commands(transcript: dict, token: Callable[[str], str] | None = None
                      ) -> dict[tuple[int, str], list[tuple]]:
    """(client port, direction) -> [(verb, trid, args, payload_len)] from a transcript
    (``token``: the secret args as the monitor redacts them)."""
    ports = {c["id"]: c["client"][1] for c in transcript["connections"]}
    out: dict[tuple[int, str], list[tuple]] = {}
    for c in transcript["commands"]:
        key = (ports[c["conn"]], c["dir"])
        args = c["args"] if token is None else redact_args(c["verb"], c["args"], token)
        out.setdefault(key, []).append((c["verb"], c["trid"], args, c["payload_len"]))
    return out


def observed_commands(flows: list, commands: list) -> dict[tuple[int, str], list[tuple]]:
    """The same shape from FlowEstablished and Command events."""
    ports = {f["network.community_id"]: f["source.port"] for f in flows}  # the client's
    out: dict[tuple[int, str], list[tuple]] = {}
    for c in commands:
        key = (ports[c["network.community_id"]], TRANSCRIPT_DIRS[c["network.direction"]])
        out.setdefault(key, []).append((c["verb"], c["trid"], c["args"], c["payload_len"]))
    return out
