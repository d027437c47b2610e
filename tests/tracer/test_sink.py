"""The sink seam: kinds by name, third-party sinks through the entry-point group."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tracer import ConfigError, SessionConfig, SinkSpec, parse_sink_spec

_PLUGIN = textwrap.dedent('''
    from tracer import Needs, SinkStatsCounter

    RECEIVED = []

    class MemorySink:
        needs = Needs.EVENTS

        def __init__(self, spec, context):
            self.name = f"memory:{spec.target}"
            self.counter = SinkStatsCounter(self.name, "memory")

        def write(self, batch):
            self.counter.hand(batch.count)
            RECEIVED.extend(e.fields["n"] for e in batch.events)
            self.counter.settle(batch.count)

        def flush(self):
            pass

        def close(self):
            pass

        def stats(self):
            return self.counter.snapshot()
''')

_RUN = textwrap.dedent('''
    import sys
    sys.path.insert(0, sys.argv[1])
    from tracer import Hub, Level, Provider, ProviderEnable, SessionConfig, parse_sink_spec
    import memsink
    P = Provider("plug", keywords=["a"])
    E = P.event(1, "E", Level.INFO, "a", {"n": int}, "{n}")
    with Hub(load_installed=False) as hub:
        hub.register(P)
        hub.start_session(SessionConfig("s", [ProviderEnable("plug")],
                                        sinks=[parse_sink_spec("memory:here")]))
        for i in range(10):
            E.write(i)
        stats = hub.stop_session("s")
    print(memsink.RECEIVED, stats.sinks[0]["name"], stats.sinks[0]["written"])
''')


def test_a_third_party_sink_plugs_in_through_the_entry_point_group(tmp_path: Path) -> None:
    """An installed distribution naming a sink in wfptrace.sinks is usable as --sink KIND."""
    (tmp_path / "memsink.py").write_text(_PLUGIN)
    dist = tmp_path / "memsink-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: memsink\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[wfptrace.sinks]\nmemory = memsink:MemorySink\n")
    out = subprocess.run([sys.executable, "-c", _RUN, str(tmp_path)], capture_output=True,
                         text=True, timeout=60, check=True).stdout
    assert out.strip() == "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9] memory:here 10"


def test_the_core_imports_no_sink_implementation() -> None:
    """The tracer imports sink modules only when a session asks for their kind."""
    code = ("import sys\nimport tracer\nfrom tracer import Hub, SessionConfig\n"
            "def loaded():\n"
            "    return sorted(m for m in sys.modules if m.startswith(('tracer.sinks', "
            "'tracer.otel')))\n"
            "print(loaded())\n"
            "with Hub(load_installed=False) as hub:\n"
            "    hub.start_session(SessionConfig('s', [], realtime=True))\n"
            "print('tracer.otel' in loaded())\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True).stdout.splitlines()
    assert out == ["[]", "False"]


@pytest.mark.parametrize(("text", "want"), [
    ("stdout", SinkSpec("stdout")), ("file:a/b.jsonl", SinkSpec("file", "a/b.jsonl")),
    ("stdout:text", SinkSpec("stdout", "text")), ("FILE:x", SinkSpec("file", "x")),
])
def test_sink_specs_parse(text: str, want: SinkSpec) -> None:
    """--sink KIND[:TARGET] names a kind and its target."""
    assert parse_sink_spec(text) == want


@pytest.mark.parametrize("text", ["", "nosuch:x", "file:", ":x"])
def test_bad_sink_specs_say_what_is_wrong(text: str) -> None:
    """An unknown kind or a missing target is a clear configuration error."""
    with pytest.raises(ConfigError):
        parse_sink_spec(text)


def test_a_session_needs_a_sink() -> None:
    """A session with nowhere to put its events is refused before it starts."""
    with pytest.raises(ConfigError, match="needs a sink"):
        SessionConfig("s").validate()
