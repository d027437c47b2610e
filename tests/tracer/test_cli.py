"""The wfptrace command line: clear errors, sessions, providers, fmt."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

WFPTRACE = [sys.executable, "-m", "tracer._cli"]


def run(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*WFPTRACE, *args], capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize(("args", "message"), [
    (["session", "start", "s", "-p", "nope", "--realtime"], "unknown provider 'nope'"),
    (["session", "start", "a/b", "-p", "wfptrace-hub", "--realtime"], "path separator"),
    (["session", "start", "", "-p", "wfptrace-hub", "--realtime"], "session name is empty"),
    (["session", "start", "s", "-p", "wfptrace-hub:info:bogus", "--realtime"], "no keyword"),
    (["session", "start", "s", "-p", "wfptrace-hub:loud", "--realtime"], "unknown level"),
    (["session", "start", "s", "-p", "wfptrace-hub", "--file", "/nonexistent/dir/x"],
     "cannot open log file"),
    (["session", "start", "s", "-p", "wfptrace-hub", "--file", "/dev/full"], "disk full"),
    (["session", "start", "s", "-p", "wfptrace-hub", "--file", "x", "--mode", "circular"],
     "needs a max size"),
    (["session", "stop", "ghost"], "no session named 'ghost'"),
    (["fmt", "/nonexistent.jsonl"], "no such file"),
])
def test_user_mistakes_get_a_message_not_a_traceback(args: list[str], message: str) -> None:
    """Every user mistake exits non-zero with a one-line error and no traceback."""
    result = run(*args)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_session_start_records_and_fmt_prints(tmp_path: Path) -> None:
    """An embedded session logs the hub's events; fmt prints them with a WPP prefix."""
    log = tmp_path / "hub.jsonl"
    result = run("session", "start", "cli", "-p", "wfptrace-hub:info:session", "--file",
                 str(log), "--duration", "0.3")
    assert result.returncode == 0, result.stderr
    assert "events written 1, lost 0" in result.stderr
    text = run("fmt", str(log)).stdout
    assert "[wfptrace-hub] INFO SessionStarted: Session cli started" in text
    header, js = map(orjson.loads, run("fmt", str(log), "--json").stdout.splitlines()[:2])
    assert header["type"] == "header"
    assert js["event"] == "SessionStarted" and js["message"].startswith("Session cli started")


def test_render_worker_session_from_the_cli(tmp_path: Path) -> None:
    """--render-worker writes the same log through a child process."""
    log = tmp_path / "rw.jsonl"
    result = run("session", "start", "rw", "-p", "wfptrace-hub:info:session", "--file",
                 str(log), "--duration", "0.3", "--render-worker")
    assert result.returncode == 0, result.stderr
    assert "events written 1, lost 0" in result.stderr
    assert "SessionStarted: Session rw started" in run("fmt", str(log)).stdout


def test_realtime_session_prints_events(tmp_path: Path) -> None:
    """With --realtime the foreground session prints events as they arrive."""
    result = run("session", "start", "rt", "-p", "wfptrace-hub", "--realtime",
                 "--duration", "0.5")
    assert result.returncode == 0, result.stderr
    assert "SessionStarted: Session rt started" in result.stdout


def test_providers_lists_manifests() -> None:
    """providers lists names, GUIDs, keywords and events; --json prints the manifests."""
    text = run("providers").stdout
    assert "wfptrace-hub" in text and "SessionStarted" in text
    manifests = orjson.loads(run("providers", "--json").stdout)
    hub = next(m for m in manifests if m["name"] == "wfptrace-hub")
    assert hub["keywords"]["session"] == "0x1"


def test_version_says_whether_the_accelerator_is_on() -> None:
    """--version names the version and whether the C accelerator runs (WFPTRACE_PURE off)."""
    env = {**os.environ, "WFPTRACE_PURE": "1"}
    out = subprocess.run([sys.executable, "-m", "tracer._cli", "--version"], env=env,
                         capture_output=True, text=True, check=True)
    assert out.stdout.startswith("wfptrace ") and "C accelerator off" in out.stdout


# -- bad inputs to fmt: one line on stderr, non-zero exit --------------------------------
HEADER = b'{"type":"header","format":"wfptrace-jsonl","version":1,"session":"s","providers":[]}'
BAD_LOGS: dict[str, tuple[bytes | None, str]] = {
    "not-a-log.json": (b'{"hello": 1}\n', "not a wfptrace log (format is not"),
    "text.txt": (b"hello world\n", "not a wfptrace log (its first line is not JSON)"),
    "empty.jsonl": (b"", "is empty: no session has written to it yet"),
    "cut.jsonl": (HEADER[:30], "the header line is cut short"),
    "bad-providers.jsonl": (HEADER.replace(b"[]", b"[1]") + b"\n", "damaged header"),
    "binary.pcap": (b"\xd4\xc3\xb2\xa1" + bytes(range(256)) * 64, "not a wfptrace log"),
    "missing.jsonl": (None, "no such file"),
}


def one_error_line(result: subprocess.CompletedProcess[str], message: str) -> None:
    """The command failed with exactly one stderr line holding ``message``."""
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("name", sorted(BAD_LOGS))
def test_fmt_bad_file_gets_one_line(tmp_path: Path, name: str) -> None:
    """A file that is not a readable wfptrace log: one clear line and exit status 1."""
    content, message = BAD_LOGS[name]
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    one_error_line(run("fmt", str(path)), message)


def test_fmt_filter_keeps_matching_events_and_refuses_bad_filters(tmp_path: Path) -> None:
    """fmt --filter prints only the events a display filter keeps; a filter that does not
    check against the log's manifests is one line with its column, exit status 1."""
    log = tmp_path / "hub.jsonl"
    run("session", "start", "cli", "-p", "wfptrace-hub:info:session", "--file", str(log),
        "--duration", "0.3")
    kept = run("fmt", str(log), "--filter", 'event == SessionStarted && session contains "cl"')
    assert kept.returncode == 0, kept.stderr
    assert kept.stdout.count("\n") == 1 and "SessionStarted" in kept.stdout
    assert run("fmt", str(log), "--filter", "event == Nothing").stdout == ""
    one_error_line(run("fmt", str(log), "--filter", "sesion == cli"),
                   "no manifest declares a field sesion (did you mean session?) (at column 1)")


def test_fmt_directory_gets_one_line(tmp_path: Path) -> None:
    """A directory is refused with one line."""
    one_error_line(run("fmt", str(tmp_path)), "is a directory")


def test_fmt_fifo_is_refused_without_hanging(tmp_path: Path) -> None:
    """A FIFO with no writer is refused at once, not waited on."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    one_error_line(run("fmt", str(fifo), timeout=10), "is empty")


def test_fmt_unreadable_file_gets_one_line(unreadable_log: Path) -> None:
    """A file the user may not read: one line saying so."""
    result = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                             *WFPTRACE, "fmt", str(unreadable_log)],
                            capture_output=True, text=True, timeout=30, cwd=Path.cwd())
    one_error_line(result, "Permission denied")


def test_fmt_header_only_log_prints_nothing(tmp_path: Path) -> None:
    """A log with its header and no events yet is not an error: no output, exit 0."""
    path = tmp_path / "new.jsonl"
    path.write_bytes(HEADER + b"\n")
    result = run("fmt", str(path))
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_fmt_hostile_path_is_escaped_in_the_error(tmp_path: Path) -> None:
    """A file name with an escape sequence is shown escaped in the error line."""
    path = tmp_path / "x\x1b[2J.jsonl"
    path.write_bytes(b"")
    result = run("fmt", str(path))
    assert "\x1b" not in result.stderr and "x\\x1b[2J.jsonl is empty" in result.stderr


def test_fmt_prints_hostile_fields_escaped_one_line_each(tmp_path: Path) -> None:
    """A session log whose fields hold ESC sequences, CR LF and bidi overrides: fmt prints
    one line per event with every such character escaped."""
    from tracer import Hub, ProviderEnable, SessionConfig

    from .conftest import Demo

    demo = Demo()
    log = tmp_path / "hostile.jsonl"
    with Hub(load_installed=False) as hub:
        hub.register(demo.provider)
        hub.start_session(SessionConfig("h", [ProviderEnable("test-demo")], file=log))
        demo.plain.write("\x1b[2J\x1b[Hgone\r\nMSG 1 N 5\r\n\u202eexe.txt\x9b31m")
        demo.connect.write("evil\x1b]0;title\x07", 1863)
        hub.stop_session("h")
    result = run("fmt", str(log))
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert len(lines) == 2 and result.stdout.count("\n") == 2
    assert lines[0].endswith(
        "Plain: \\x1b[2J\\x1b[Hgone\\r\\nMSG 1 N 5\\r\\n\\u202eexe.txt\\x9b31m")
    assert lines[1].endswith("Connect: Connecting to evil\\x1b]0;title\\x07:1863")
    assert not any(c < " " or "\x7f" <= c <= "\x9f" or c == "\u202e" for c in result.stdout
                   if c != "\n")


def test_fmt_reads_a_pipe_from_its_first_byte(tmp_path) -> None:
    """`replay -o - | fmt -` and `| fmt /dev/stdin` show every event, the first ones too."""
    import subprocess
    import sys
    from pathlib import Path

    capture = Path(__file__).resolve().parents[2] / "samples" / "captures" / "msn_session.pcap"
    wfp = f"{sys.executable} -m tracer._cli"
    counts = []
    for reader in ("fmt -", "fmt /dev/stdin"):
        out = subprocess.run(f"{wfp} demo --json {capture} 2>/dev/null | {wfp} {reader}",
                             shell=True, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        lines = out.stdout.splitlines()
        assert "FlowEstablished" in lines[0]
        counts.append(len(lines))
    assert counts[0] == counts[1] == 205  # the bundled MSNP8 session's events


def test_fmt_json_writes_the_log_format_back(tmp_path) -> None:
    """`fmt --json` writes a log (header, records) that fmt and the reader open again."""
    import subprocess
    import sys

    from tracer import read_log

    path = tmp_path / "in.jsonl"
    subprocess.run([sys.executable, "-m", "tracer._cli", "demo", "--json"], check=True,
                   stdout=path.open("wb"), stderr=subprocess.DEVNULL, timeout=120)
    out = subprocess.run([sys.executable, "-m", "tracer._cli", "fmt", "--json", str(path)],
                         capture_output=True, timeout=120, check=True).stdout
    again = tmp_path / "again.jsonl"
    again.write_bytes(out)
    first, second = list(read_log(path)), list(read_log(again))
    assert [(e.seq, e.name, e.fields, e.time_ns) for e in first] == \
        [(e.seq, e.name, e.fields, e.time_ns) for e in second]
