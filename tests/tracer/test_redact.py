"""Redactor: keyed-hash tokens, key files, and what the log header says of them."""

from __future__ import annotations

import argparse
import hmac
import re

import orjson
import pytest

from tracer import (
    ConfigError,
    Hub,
    Level,
    Provider,
    ProviderEnable,
    Redactor,
    SessionConfig,
    add_redaction_options,
    read_log,
    redaction_header,
    redaction_note,
    redactor_from_args,
)

TOKEN = re.compile(r"<redacted:hmac:[0-9a-f]{12}>")


def test_token_is_a_short_keyed_hash_never_the_value():
    """A token is <redacted:hmac:12hex> and holds nothing of the value."""
    token = Redactor().token("t=ticket&p=secret")
    assert TOKEN.fullmatch(token) and "ticket" not in token and "secret" not in token


def test_equal_values_give_equal_tokens_under_one_key():
    """Within one redactor equal values (text or the same UTF-8 bytes) share a token."""
    r = Redactor()
    assert r.token("17262740.1050826919.32308") == r.token(b"17262740.1050826919.32308")
    assert r.token("Grüße") == r.token("Grüße".encode())
    assert r.token("a") != r.token("b")


def test_tokens_are_hmac_sha256_of_the_value_however_often_and_however_many():
    """A token is the first 12 hex digits of HMAC-SHA256 under the key, for text, bytes,
    bytearrays and long values, asked once or again, after thousands of other values."""
    key = b"k" * 32
    r = Redactor(key)

    def expected(data: bytes) -> str:
        return f"<redacted:hmac:{hmac.digest(key, data, 'sha256').hex()[:12]}>"

    values = [f"cookie{i}" for i in range(5000)] + ["Grüße", "\udcff", "t" * 5000]
    for value in values + values[::-1]:
        assert r.token(value) == expected(value.encode("utf-8", "surrogatepass"))
    for raw in (b"ticket", bytearray(b"ticket"), b"\xff" * 3000):
        assert r.token(raw) == expected(bytes(raw))


def test_each_run_has_its_own_random_key():
    """Two redactors without a key file give different tokens and key ids for one value."""
    a, b = Redactor(), Redactor()
    assert a.token("x") != b.token("x") and a.key_id != b.key_id


def test_a_key_file_makes_runs_correlate(tmp_path):
    """Redactors from one key file agree on tokens and key id (a trailing newline ignored)."""
    key = tmp_path / "key"
    key.write_bytes(b"k" * 32 + b"\n")
    one, two = Redactor.from_file(key), Redactor.from_file(str(key))
    assert one.token("ticket") == two.token("ticket") and one.key_id == two.key_id
    assert one.key_id == Redactor(b"k" * 32).key_id
    assert TOKEN.fullmatch(f"<redacted:hmac:{one.key_id}>")


@pytest.mark.parametrize(("content", "message"), [
    (None, "cannot read the redaction key file"),
    (b"", "holds 0 bytes"),
    (b"short\n", "holds 5 bytes"),
    (b"x" * 5000, "over 4096 bytes"),
])
def test_bad_key_files_are_clear_errors(tmp_path, content, message):
    """A missing, empty, short or huge key file is a ConfigError saying what is wrong."""
    key = tmp_path / "key"
    if content is not None:
        key.write_bytes(content)
    with pytest.raises(ConfigError, match=message):
        Redactor.from_file(key)


def test_redaction_options_parse_into_a_redactor(tmp_path):
    """--capture-secrets and --redaction-key FILE give the flag and the file's redactor."""
    key = tmp_path / "key"
    key.write_bytes(bytes(range(32)))
    parser = argparse.ArgumentParser()
    add_redaction_options(parser)
    args = parser.parse_args(["--capture-secrets", "--redaction-key", str(key)])
    assert args.capture_secrets is True
    assert redactor_from_args(args).key_id == Redactor(bytes(range(32))).key_id
    assert parser.parse_args([]).capture_secrets is None


def test_note_says_what_the_header_says():
    """The note says redacted or captured, with scheme and key id; nothing for old logs."""
    r = Redactor(b"k" * 32)
    redacted = redaction_note(redaction_header(r, capture_secrets=False, capture_bodies=False))
    assert redacted == (f"secrets redacted (hmac-sha256, key {r.key_id}); "
                        "message bodies redacted")
    captured = redaction_note(redaction_header(r, capture_secrets=True, capture_bodies=True))
    assert captured is not None and captured.startswith("SECRETS CAPTURED in clear")
    assert captured.endswith("message bodies captured")
    assert redaction_note({"format": "wfptrace-jsonl"}) is None


def test_note_of_a_hostile_header_is_bounded():
    """A header's fields are data: the note keeps at most 40 characters of each."""
    note = redaction_note({"redaction": "x" * 10_000, "redaction_key_id": "y" * 10_000})
    assert note is not None and len(note) < 200


def test_session_header_fields_land_in_the_log_header(tmp_path):
    """A session's header fields are written in its log's header, read back by read_log."""
    provider = Provider("redact-test")
    event = provider.event(1, "E", Level.INFO, (), {"x": int}, "{x}")
    path = tmp_path / "s.jsonl"
    fields = redaction_header(Redactor(), capture_secrets=False, capture_bodies=True)
    with Hub(load_installed=False) as hub:
        hub.register(provider)
        hub.start_session(SessionConfig("s", [ProviderEnable("redact-test")], file=path,
                                        header=fields))
        event.write(1)
        hub.stop_session("s")
    header = orjson.loads(path.read_bytes().split(b"\n", 1)[0])
    assert {k: header[k] for k in fields} == fields
    assert [e.fields["x"] for e in read_log(path)] == [1]


def test_session_header_cannot_override_the_format_fields():
    """Header fields that the log format owns are refused with a clear error."""
    with pytest.raises(ConfigError, match="format, providers"):
        SessionConfig("s", realtime=True, header={"format": "x", "providers": []}).validate()
