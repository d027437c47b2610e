"""A small log of ``chat-peer`` ``Message`` events ("{user} on {port}"), written by a real
session: what the terminal tests open (a user name may hold an escape sequence)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from tracer import Hub, Level, Provider, ProviderEnable, SessionConfig


def chat_log(path: Path, rows: Iterable[tuple[str, int]]) -> Path:
    """Write one ``Message`` per (user, port) to ``path``."""
    provider = Provider("chat-peer")
    msg = provider.event(1, "Message", Level.INFO, (), {"user": str, "port": int},
                         "{user} on {port}")
    with Hub(load_installed=False) as hub:
        hub.register(provider)
        hub.start_session(SessionConfig("h", [ProviderEnable("chat-peer")], file=path))
        for user, port in rows:
            msg.write(user, port)
        hub.stop_session("h")
    return path
