"""A small re-implementation of the original ``notify.c`` (WDK MSN monitor sample), for tests.

Written from the C code's structure, function by function, independently of
``providers.msnp._legacy``: what ``MonitorNfParseStreamAndTraceMessage`` would hand
to ``DoTraceMessage`` for one stream chunk, as the list of formatted messages.
"""

from __future__ import annotations

COMMANDS = {
    **dict.fromkeys(["ACK", "ADC", "ANS", "BLP", "BYE", "CAL", "CHG", "FLN", "GTC", "INF", "IRO",
                     "JOI", "LST", "NAK", "NLN", "OUT", "REM", "RNG", "SYN", "USR", "VER",
                     "XFR"], 1),
    "MSG": 2,
}
_NAMES = {0: "Unknown or Invalid Command Message", 1: "Client-Server Message",
          2: "Client-Client Message"}


def _command_type(stream: bytes) -> int:  # MonitorNfGetCommandType
    if len(stream) < 3:
        return 0
    for cmd, kind in COMMANDS.items():  # strncmp(stream, cmd, 3) == 0
        if stream[:3] == cmd.encode():
            return kind
    return 0


def _printable(ch: int) -> bool:  # MonitorNfpIsPrintableCharacter
    return ch in (0x0D, 0x0A) or 0x20 <= ch <= 0x7E


def _find(stream: bytes, sub: bytes) -> int | None:  # MonitorNfpFindCharacters
    offset = 0
    if len(sub) > len(stream):
        return None
    while offset + len(sub) <= len(stream):
        if stream[offset : offset + len(sub)] == sub:
            return offset
        offset += len(sub)  # (sic: the original steps by the length of what it seeks)
    return None


def _parse(stream: bytes, inbound: bool, lport: int, rport: int, out: list[str]) -> None:
    # MonitorNfParseMessageInbound / MonitorNfParseMessageOutbound
    if not stream:
        return
    text = stream.decode("ascii")
    name = _NAMES[_command_type(stream)]
    if inbound:
        out.append(f"{name} Received. Local Port: {lport} Remote Port: {rport}. Message: {text}")
    else:
        out.append(f"{name} Sent. Local Port: {lport} Remote Port: {rport}. Message: {text}\r\n")


def _parse_http(stream: bytes, inbound: bool, lport: int, rport: int, out: list[str]) -> None:
    # MonitorNfParseMessage{In,Out}boundHttpHeader
    found = _find(stream, b"\r\n\r\n")
    if found is not None and len(stream) - found - 4 > 0:
        _parse(stream[found + 4 :], inbound, lport, rport, out)


def _strnicmp(stream: bytes, prefix: bytes) -> bool:
    return len(stream) >= len(prefix) and stream[: len(prefix)].lower() == prefix.lower()


def trace(stream: bytes, *, inbound: bool, local_port: int, remote_port: int) -> list[str]:
    """MonitorNfNotifyMessage + MonitorNfParseStreamAndTraceMessage: the traced messages."""
    out: list[str] = []
    if not stream or not all(_printable(ch) for ch in stream):
        return out
    out.append(f"Message Received. Local Port: {local_port} Remote Port: {remote_port}. "
               f"Message: {stream.decode('ascii')}")
    if not inbound:
        http = _strnicmp(stream, b"POST") or _strnicmp(stream, b"GET")
    else:
        http = _strnicmp(stream, b"HTTP")
    (_parse_http if http else _parse)(stream, inbound, local_port, remote_port, out)
    return out
