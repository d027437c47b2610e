"""Secrets stay out of every sink: the real commands replay a capture of every secret shape.

Redacted by default in the JSON log, on standard output (text and JSON), in the
original's trace strings and in what an OTLP receiver on loopback gets; present with
``--capture-secrets`` (and ``--capture-bodies``); equal values give equal tokens.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from providers.msnmon import MsnMonitor, replay_capture
from providers.packets import Pipeline
from tests.tracer.otel.receiver import Receiver
from tracer import read_log
from tracer._cli import main

from .conftest import REPO
from .secretshapes import (
    BODY,
    HTTP_TICKET,
    MD5_PROOF,
    PUBLIC,
    RNG_COOKIE,
    SB_COOKIE,
    SECRETS,
    SSO_NONCE,
    TWN_TICKET,
    write_secret_capture,
)
from .streams import Conversation

WFPTRACE = [sys.executable, "-m", "tracer._cli"]
TOKEN = re.compile(r"<redacted:hmac:[0-9a-f]{12}>")


@pytest.fixture(scope="module")
def capture(tmp_path_factory) -> Path:
    return write_secret_capture(tmp_path_factory.mktemp("secrets") / "secrets.pcap")


def _run(*args: str | Path) -> subprocess.CompletedProcess[bytes]:
    res = subprocess.run([*WFPTRACE, *map(str, args)], capture_output=True, cwd=REPO,
                         timeout=120)
    assert res.returncode == 0, res.stderr.decode()
    return res


def _leaks(data: bytes) -> list[str]:
    return [s for s in SECRETS if s.encode() in data]


def _log(capture: Path, out: Path, *flags: str) -> tuple[dict, list]:
    _run("monitor", "replay", capture, "-v", "-o", out, *flags)
    header = orjson.loads(out.read_bytes().split(b"\n", 1)[0])
    return header, list(read_log(out))


@pytest.fixture(scope="module")
def default_log(capture, tmp_path_factory) -> tuple[Path, dict, list]:
    """``monitor replay -v -o FILE`` with the defaults: (file, header, events)."""
    out = tmp_path_factory.mktemp("default") / "log.jsonl"
    return (out, *_log(capture, out))


@pytest.fixture(scope="module")
def captured_log(capture, tmp_path_factory) -> tuple[Path, dict, list]:
    """The same with --capture-secrets --capture-bodies."""
    out = tmp_path_factory.mktemp("captured") / "log.jsonl"
    return (out, *_log(capture, out, "--capture-secrets", "--capture-bodies"))


def test_json_log_has_no_secret_by_default_and_says_so(default_log):
    """The log file holds no secret of any shape, keeps the public values, and its header
    says secrets and bodies were redacted with HMAC-SHA256."""
    out, header, events = default_log
    data = out.read_bytes()
    assert _leaks(data) == []
    assert all(p.encode() in data for p in PUBLIC)
    assert header["capture_secrets"] is False and header["capture_bodies"] is False
    assert header["redaction"] == "hmac-sha256" and len(header["redaction_key_id"]) == 12
    legacy = [e for e in events if e.name.startswith("Legacy")]
    assert legacy and any(TOKEN.search(e.fields["message"]) for e in legacy)


def test_stdout_text_json_and_legacy_have_no_secret(capture):
    """Printed text, JSON on standard output and the original's trace strings: no secret."""
    text = _run("monitor", "replay", capture, "-v").stdout
    json_out = _run("monitor", "replay", capture, "-v", "--sink", "stdout").stdout
    legacy = _run("monitor", "replay", capture, "--legacy-format").stdout
    for out in (text, json_out, legacy):
        assert out.count(b"<redacted:hmac:") >= 10 and _leaks(out) == []
    assert b"Authorization: <redacted:hmac:" in legacy and b"MSPAuth: <redacted:hmac:" in legacy


def test_capture_flags_put_every_secret_in_and_the_header_says_so(captured_log):
    """--capture-secrets --capture-bodies: every value is in the log (Command args, the
    message text, the trace strings), no token but the bodies' body_hmac, and the header
    says capture_secrets: true."""
    out, header, events = captured_log
    assert header["capture_secrets"] is True and header["capture_bodies"] is True
    assert _leaks(out.read_bytes()) == list(SECRETS)
    assert not any(TOKEN.search(json.dumps(e.fields, default=str)) for e in events
                   if e.name != "Message")
    args = [a for e in events if e.name == "Command" for a in e.fields["args"]]
    assert TWN_TICKET in args and SB_COOKIE in args and MD5_PROOF in args
    texts = [e.fields["text"] for e in events if e.name == "Message" and e.fields["text"]]
    assert texts == [BODY, BODY]


def test_capture_secrets_alone_keeps_the_bodies_out(capture, tmp_path):
    """--capture-secrets shows tickets and cookies but message bodies stay redacted."""
    out = tmp_path / "log.jsonl"
    _log(capture, out, "--capture-secrets")
    assert _leaks(out.read_bytes()) == [s for s in SECRETS if s != BODY]


def test_equal_values_give_equal_tokens_within_a_run(default_log):
    """The XFR cookie and the switchboard USR, RNG and ANS, the two SSO nonces and the two
    equal message bodies share their tokens; different values do not."""
    _, _, events = default_log
    args = [(e.fields["verb"], e.fields["args"]) for e in events if e.name == "Command"]
    xfr = next(a[3] for v, a in args if v == "XFR" and len(a) == 4)
    sb_usr = next(a[1] for v, a in args if v == "USR" and a[0].startswith("bob@"))
    rng = next(a[3] for v, a in args if v == "RNG")
    ans = next(a[1] for v, a in args if v == "ANS" and a[0] != "OK")
    assert TOKEN.fullmatch(xfr) and xfr == sb_usr and rng == ans and xfr != rng
    nonces = [a[3] for v, a in args if v == "USR" and a[:3] == ["SSO", "S", "MBI_KEY_OLD"]]
    assert len(nonces) == 2 and nonces[0] == nonces[1] and SSO_NONCE not in nonces
    bodies = [e.fields for e in events if e.name == "Message" and e.fields["kind"] == "text"]
    assert bodies[0]["body_hmac"] == bodies[1]["body_hmac"]
    assert all(b["text"] is None and b["body"] is None and b["body_sha256"] is None
               for b in bodies)


def test_a_key_file_makes_tokens_of_two_runs_equal(capture, tmp_path, default_log):
    """Two runs with one --redaction-key agree on every token and the key id; runs with a
    random key do not."""
    key = tmp_path / "key"
    key.write_bytes(bytes(range(32)))
    runs = [_log(capture, tmp_path / f"{i}.jsonl", "--redaction-key", str(key))
            for i in range(2)]
    assert runs[0][0]["redaction_key_id"] == runs[1][0]["redaction_key_id"]
    tokens = [TOKEN.findall((tmp_path / f"{i}.jsonl").read_text()) for i in range(2)]
    assert tokens[0] and tokens[0] == tokens[1]
    other = TOKEN.findall(default_log[0].read_text())  # (a random key)
    assert other and set(other).isdisjoint(tokens[0])


def test_bad_key_file_is_a_clear_error(capture, tmp_path, capsys):
    """A key file too short to be a key stops the run with a one-line error."""
    key = tmp_path / "key"
    key.write_text("short")
    assert main(["monitor", "replay", str(capture), "--redaction-key", str(key)]) == 1
    err = capsys.readouterr().err
    assert "holds 5 bytes" in err and "Traceback" not in err


def _otlp(capture: Path, *flags: str) -> bytes:
    """Every span and log record (and their resources) an OTLP receiver got, serialized."""
    receiver = Receiver()
    endpoint = receiver.start_http()
    try:
        _run("replay", capture, "--provider", "msnmon", "--otlp", endpoint,
             "--otlp-protocol", "http/protobuf", *flags)
        got = [r.item.SerializeToString() + json.dumps(r.resource).encode()
               + json.dumps(r.attrs, default=str).encode()
               for r in receiver.spans + receiver.logs]
    finally:
        receiver.stop()
    assert len(receiver.spans) >= 7 and len(got) > 20  # (a span per flow at least)
    return b"\n".join(got)


def test_otlp_export_has_no_secret_by_default(capture):
    """What a real OTLP receiver on loopback gets (spans, log records, attributes) holds
    no secret, but tokens; with --capture-secrets the tickets arrive."""
    exported = _otlp(capture)
    assert _leaks(exported) == [] and b"<redacted:hmac:" in exported
    captured = _otlp(capture, "--capture-secrets")
    assert TWN_TICKET.encode() in captured and HTTP_TICKET.encode() in captured
    assert RNG_COOKIE.encode() in captured and BODY.encode() not in captured


def test_replay_log_header_says_what_msnmon_redacted(capture, tmp_path):
    """wfptrace replay --provider msnmon -o FILE: the header carries the monitor's fields."""
    out = tmp_path / "r.jsonl"
    _run("replay", capture, "--provider", "msnmon", "-o", out, "--capture-secrets")
    header = orjson.loads(out.read_bytes().split(b"\n", 1)[0])
    assert header["capture_secrets"] is True and header["redaction"] == "hmac-sha256"
    assert TWN_TICKET.encode() in out.read_bytes()


def test_fmt_tells_what_the_header_says(default_log, captured_log, capsys):
    """wfptrace fmt says on stderr whether the log's secrets were redacted or captured."""
    assert main(["fmt", str(default_log[0])]) == 0
    out, err = capsys.readouterr()
    assert "secrets redacted (hmac-sha256, key " in err and _leaks(out.encode()) == []
    assert out.count("<redacted:hmac:") >= 10
    assert main(["fmt", str(captured_log[0])]) == 0
    assert "SECRETS CAPTURED in clear" in capsys.readouterr().err


async def test_traceview_status_bar_says_whether_secrets_are_in_clear(default_log,
                                                                      captured_log):
    """TraceView opening a log shows 'secrets redacted', or SECRETS IN CLEAR for a log
    made with --capture-secrets."""
    from viewer._app import TraceViewApp
    from viewer._status import StatusBar

    for (out, _, _), shown in ((default_log, "secrets redacted"),
                               (captured_log, "SECRETS IN CLEAR")):
        app = TraceViewApp(None, logs=[out], follow_logs=False)
        async with app.run_test(size=(140, 30)) as pilot:
            await pilot.pause()
            assert shown in app.query_one(StatusBar).text.plain


def test_in_process_replay_redacts_by_default(record, capture):
    """replay_capture with its defaults: Command events carry tokens, not the tickets."""
    rec = record()
    replay_capture(capture)
    args = [a for e in rec.events("Command") for a in e.fields["args"]]
    assert TWN_TICKET not in args and any(TOKEN.fullmatch(a) for a in args)


def _feed(monitor: MsnMonitor, client_bytes: bytes) -> None:
    """One conversation to port 1863 through a pipeline with ``monitor``."""
    conv = Conversation(("10.0.0.1", 40000), ("10.0.0.2", 1863))
    pipeline = Pipeline([monitor])
    for pkt in [*conv.handshake(), *conv.send(client_bytes), *conv.close()]:
        pipeline.packet(pkt)
    pipeline.finish()


@pytest.mark.parametrize("captured", [False, True])
def test_parse_errors_and_drop_reasons_quote_no_content(record, captured):
    """A line that is no command, an unknown verb's arguments and the garbage quoted by a
    failed HTTP stream's reason are tokens, unless secrets and bodies are captured."""
    rec = record()
    body = b"VER 1 MSNP8 CVR0\r\nmy password is hunter2secret\r\nZZZ 5 zzzsecret\r\n"
    stream = (b"POST /gateway/gateway.dll HTTP/1.1\r\nContent-Length: %d\r\n\r\n%s"
              b"XYZ gatewaysecret\r\n\r\n" % (len(body), body))
    _feed(MsnMonitor(capture_secrets=captured, capture_bodies=captured), stream)
    unknown = [e.fields["detail"] for e in rec.events("UnknownCommand")]
    [closed] = rec.events("FlowClosed")
    shown = json.dumps(unknown) + closed.fields["dropped"]
    assert len(unknown) >= 3 and "not an HTTP message" in closed.fields["dropped"]
    for secret in ("hunter2secret", "zzzsecret", "gatewaysecret"):
        assert (secret in shown) is captured, secret
    assert ("<redacted:hmac:" in shown) is not captured
