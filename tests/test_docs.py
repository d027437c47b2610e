"""Every shell command in docs/jaeger.md (and any OpenTelemetry command in README's sh
blocks) runs as written against OTLP receivers on loopback, exits 0 and delivers spans.

Commands run in order, as one shell session would: ``export`` lines set the environment of
the commands after them. Substitutions, and nothing else: hosts ``localhost``,
``collector`` and ``127.0.0.1`` on the OTLP ports become the receivers' addresses;
``capture.pcap`` becomes the bundled ``samples/captures/msn_session.pcap``; ``cp`` and
``mkdir`` into ``/etc`` install into a scratch root instead; ``wfptrace``
gets ``--hub SOCKET`` for a hub process the test starts (the docs' hub is the system one)
with the variables exported so far in its environment, as the docs say to set them for
the hub; after each ``session start`` a provider process plays flows into the hub.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from tests.tracer.otel import flowproc
from tests.tracer.otel.receiver import Receiver
from tests.tracer.service.conftest import Child, HubProcess
from tracer.service import connect

ROOT = Path(__file__).resolve().parents[1]
DOCS = (ROOT / "docs" / "jaeger.md", ROOT / "README.md")
CAPTURE = ROOT / "samples" / "captures" / "msn_session.pcap"
WFPTRACE = str(Path(sys.executable).with_name("wfptrace"))
#: commands that cannot run here, and why (printed when skipped)
CANNOT_RUN = {
    "docker": "no container engine here (the docker client has no daemon)",
    "podman": "no container engine here",
    "systemctl": "would manage this machine's system services",
}
#: the directories the Collector's package and systemd make, under the scratch root
ETC_DIRS = ("etc/otelcol-contrib", "etc/systemd/system")
ENDPOINT = re.compile(r"\b(?:localhost|collector|127\.0\.0\.1):(4317|4318|14317)\b")
FLOWS = 5


@dataclass
class Command:
    doc: str
    line: int
    text: str

    def __str__(self) -> str:
        return f"{self.doc}:{self.line}: {self.text}"


def sh_commands(path: Path) -> list[Command]:
    """The commands of a markdown file's ```sh blocks, continuations joined, comments cut."""
    out: list[Command] = []
    block = False
    pending, start = "", 0
    for n, raw in enumerate(path.read_text().splitlines(), 1):
        if raw.startswith("```"):
            block = raw.strip() == "```sh"
            continue
        if not block:
            continue
        text = raw.strip()
        if not pending:
            start = n
        if text.endswith("\\"):
            pending += text[:-1] + " "
            continue
        text = " ".join(shlex.split(pending + text, comments=True))
        pending = ""
        if text:
            out.append(Command(path.name, start, text))
    return out


def otel_commands() -> list[Command]:
    """jaeger.md's commands, and README's that concern OpenTelemetry."""
    jaeger, readme = (sh_commands(p) for p in DOCS)
    return jaeger + [c for c in readme if "otlp" in c.text.lower() or "OTEL_" in c.text]


class Runner:
    """Runs documented commands against the receivers and a hub process."""

    def __init__(self, tmp: Path, grpc_http: Receiver, second: Receiver) -> None:
        self.tmp = tmp
        self.receivers = (grpc_http, second)
        grpc_url, http_url = grpc_http.start_grpc(), grpc_http.start_http()
        self.ports = {"4317": grpc_url.rsplit(":", 1)[1], "4318": http_url.rsplit(":", 1)[1],
                      "14317": second.start_grpc().rsplit(":", 1)[1]}
        self.sock = tmp / "hub.sock"
        self.hub: HubProcess | None = None
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        self.open_sessions: dict[str, int] = {}
        self.skipped: list[str] = []
        self.ran: list[str] = []

    def spans(self) -> int:
        return sum(len(r.spans) for r in self.receivers)

    def rewrite(self, text: str) -> list[str]:
        text = ENDPOINT.sub(lambda m: f"127.0.0.1:{self.ports[m[1]]}", text)
        args = ["" if a == "capture.pcap" else a for a in shlex.split(text)]
        args = [str(CAPTURE) if a == "" else str(ROOT / a) if a.startswith("samples/") else a
                for a in args]
        if args[0] == "wfptrace":
            args[:1] = [WFPTRACE, "--hub", str(self.sock)]
        return args

    def run(self, cmd: Command) -> None:
        words = cmd.text.split()
        if words[0] in CANNOT_RUN:
            self.skipped.append(f"{cmd}  [skipped: {CANNOT_RUN[words[0]]}]")
            return
        if words[0] == "export":
            key, value = shlex.split(self.rewrite_env(cmd.text))[1].split("=", 1)
            self.env[key] = value
            self.ran.append(str(cmd))
            return
        if words[0] in ("cp", "mkdir"):
            self.install(cmd)
            return
        assert words[0] == "wfptrace", f"no rule to run {cmd}"
        if words[1] == "session" and self.hub is None:
            self.start_hub()
        before = self.spans()
        proc = subprocess.run(self.rewrite(cmd.text), cwd=self.tmp, env=self.env,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, f"{cmd}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
        self.ran.append(str(cmd))
        self.output = proc.stdout + proc.stderr
        if words[1:3] == ["session", "start"]:
            self.open_sessions[words[3]] = before
            self.play()
        elif words[1:3] == ["session", "stop"]:
            self.expect_spans(cmd, self.open_sessions.pop(words[3]))
        else:
            self.expect_spans(cmd, before)

    def install(self, cmd: Command) -> None:
        """An install step, into a scratch root instead of this machine's /etc."""
        root = self.tmp / "root"
        for d in ETC_DIRS:
            (root / d).mkdir(parents=True, exist_ok=True)
        args = [str(root) + a if a.startswith("/etc/") else a for a in self.rewrite(cmd.text)]
        proc = subprocess.run(args, cwd=self.tmp, capture_output=True, text=True, timeout=30)
        assert proc.returncode == 0, f"{cmd}\n{proc.stderr}"
        target = Path(args[-1])
        assert target.exists(), cmd
        self.ran.append(str(cmd))

    def start_hub(self) -> None:
        """The hub service, without the shell's OTEL_* variables: `session start` sends
        them with the session, as the docs say."""
        hub_env = {k: v for k, v in self.env.items() if not k.startswith("OTEL_")}
        with mock.patch.dict(os.environ, hub_env, clear=True):
            self.hub = HubProcess(self.sock)
        with connect(self.sock) as hub:
            hub.add_manifest(flowproc.PROVIDER.manifest())

    def stop_hub(self) -> None:
        if self.hub is not None:
            self.hub.stop()

    def rewrite_env(self, text: str) -> str:
        return ENDPOINT.sub(lambda m: f"127.0.0.1:{self.ports[m[1]]}", text)

    def play(self) -> None:
        """A provider process plays flows into the hub's running session."""
        child = Child([sys.executable, "-m", "tests.tracer.otel.flowproc", str(self.sock),
                       str(FLOWS)])
        try:
            assert child.line()["connected"]
            assert child.line(timeout=60)["flushed"]
        finally:
            child.stop()

    def expect_spans(self, cmd: Command, before: int) -> None:
        assert any(r.wait(lambda _: self.spans() > before, timeout=15)
                   for r in self.receivers), f"no span arrived from {cmd}:\n{self.output}"

    def close(self) -> None:
        for name in list(self.open_sessions):  # a documented start left running
            self.run(Command("(test)", 0, f"wfptrace session stop {name}"))
        self.stop_hub()


@pytest.fixture
def runner(tmp_path: Path) -> Any:
    rs = (Receiver(), Receiver())
    r = Runner(tmp_path, *rs)
    try:
        yield r
    finally:
        r.stop_hub()
        for rec in rs:
            rec.stop()


def test_documented_commands_run_and_deliver_spans(runner: Runner) -> None:
    """Each OpenTelemetry command of the docs exits 0 and its spans reach the receiver;
    only the few listed commands that cannot run here are skipped, with the reason."""
    commands = otel_commands()
    assert len(commands) >= 10
    for cmd in commands:
        runner.run(cmd)
    runner.close()
    for line in runner.skipped:
        print(line)
    for line in runner.ran:
        print("ran:", line)
    assert len(runner.skipped) <= 4
    assert sum(c.startswith("jaeger.md") for c in runner.ran) >= 10
    assert all(not c.split(": ", 1)[1].startswith(("wfptrace", "export")) for c in
               runner.skipped)


def test_the_extraction_sees_every_block() -> None:
    """The extraction finds each documented wfptrace command, joining continued lines."""
    texts = [c.text for c in sh_commands(DOCS[0])]
    assert "wfptrace demo --otlp" in texts
    assert any(t.startswith("wfptrace replay samples/captures/msn_session.pcap") and
               t.endswith("--time-shift now") for t in texts)
    assert all("#" not in t.split("=", 1)[0] for t in texts)
