"""Configuration: a TOML file, overridden by environment variables, then by flags.

Keys (top level, all optional except the address)::

    remote_address = "10.0.0.1"   # one literal IPv4 or IPv6 address (required)
    block_traffic = false          # false = permit (the default), true = block
    fail_closed = false            # keep the peer blocked while the inspector is down
    decider = "static"             # or "external" (a process answers over the socket)
    decider_timeout = 10.0         # seconds an external decision may take
    queue = 4242                   # NFQUEUE numbers queue (connections) and queue+1
    # opt-in extensions, the faithful behaviour is unchanged without them:
    addresses = ["10.0.1.0/24"]    # more addresses or CIDR prefixes to inspect
    protocols = ["tcp", "udp", "icmp"]
    ports = [443]                  # remote TCP/UDP ports only (ICMP then not inspected)
    reject = false                 # TCP RST / ICMP unreachable instead of a silent drop
    overload = "auto"              # a full queue: "drop", "accept", or "auto" = accept
                                   # only while the static decider permits
    queue_length = 8192            # packets each queue holds before it is full

A full queue (overload) is not a crash: ``fail_closed`` decides what happens
while no inspector listens, ``overload`` what a running one's full queue does.

Environment: WFPTRACE_INSPECT_CONFIG (file), WFPTRACE_INSPECT_REMOTE,
WFPTRACE_INSPECT_BLOCK, WFPTRACE_INSPECT_DECIDER, WFPTRACE_INSPECT_FAIL_CLOSED.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._address import IpAddress, IpNetwork, parse_network, parse_remote_address
from ._errors import InspectConfigError

__all__ = ["DECIDERS", "OVERLOAD", "PROTOCOLS", "InspectConfig", "load_config",
           "read_block_traffic"]

DECIDERS = ("static", "external")
PROTOCOLS = ("tcp", "udp", "icmp")
OVERLOAD = ("auto", "drop", "accept")
_KEYS = {"remote_address", "block_traffic", "fail_closed", "decider", "decider_timeout",
         "queue", "addresses", "protocols", "ports", "reject", "overload",
         "queue_length"}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


@dataclass(frozen=True)
class InspectConfig:
    """A validated configuration; ``block_path`` is re-read for ``block_traffic``."""

    remote: IpAddress
    block_traffic: bool = False
    fail_closed: bool = False
    decider: str = "static"
    decider_timeout: float = 10.0
    queue: int = 4242
    extra: tuple[IpNetwork, ...] = ()
    protocols: tuple[str, ...] = PROTOCOLS
    ports: tuple[int, ...] = ()
    reject: bool = False
    overload: str = "auto"
    queue_length: int = 8192
    path: Path | None = None
    #: The file to re-read block_traffic from (None when a flag or variable fixed it).
    block_path: Path | None = field(default=None)
    #: Settings given by flags and variables (they win again on every reload).
    overrides: tuple[tuple[str, Any], ...] = field(default=(), compare=False)

    @property
    def networks(self) -> tuple[IpNetwork, ...]:
        """Every inspected network, the remote address first (as a /32 or /128)."""
        return (ipaddress.ip_network(self.remote), *self.extra)

    def matches(self, addr: IpAddress) -> bool:
        """True if ``addr`` is an inspected remote address."""
        return any(addr in net for net in self.networks)

    def reload(self) -> InspectConfig:
        """The file read again, with the same flags and variables; InspectConfigError if bad."""
        if self.path is None:
            raise InspectConfigError("no configuration file to reload (started without --config)")
        return load_config(self.path, env={}, **dict(self.overrides))

    def restart_needed(self, new: InspectConfig) -> list[str]:
        """Settings that differ in ``new`` and cannot change while running (all but
        block_traffic: they shape the rules, the queues or the decider)."""
        old_s, new_s = self.summary(), new.summary()
        return [k for k in old_s if k not in ("block_traffic", "path") and old_s[k] != new_s[k]]

    def overload_accepts(self, block_traffic: bool) -> bool:
        """True if a full queue should accept (the kernel's fail-open) under ``block_traffic``."""
        if self.overload != "auto":
            return self.overload == "accept"
        return self.decider == "static" and not block_traffic

    def summary(self) -> dict[str, Any]:
        """A JSON-able view (state file, status)."""
        return {"remote_address": str(self.remote), "block_traffic": self.block_traffic,
                "fail_closed": self.fail_closed, "decider": self.decider,
                "decider_timeout": self.decider_timeout, "queue": self.queue,
                "addresses": [str(n) for n in self.extra], "protocols": list(self.protocols),
                "ports": list(self.ports), "reject": self.reject, "overload": self.overload,
                "queue_length": self.queue_length,
                "path": str(self.path) if self.path else None}


def _bool(value: object, what: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0  # the registry's DWORD: non-zero = block
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise InspectConfigError(f"{what} must be true or false, not {value!r}")


def _read_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise InspectConfigError(f"configuration file {path} does not exist") from None
    except OSError as exc:
        raise InspectConfigError(f"cannot read {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InspectConfigError(f"{path} is not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise InspectConfigError(f"{path} is not UTF-8 text (byte {exc.start}): a TOML "
                                 "file must be UTF-8") from None
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise InspectConfigError(f"{path}: unknown keys {', '.join(unknown)} "
                                 f"(known: {', '.join(sorted(_KEYS))})")
    return data


def read_block_traffic(path: Path) -> bool:
    """``block_traffic`` from the file now (absent = permit); raises on a bad file."""
    return _bool(_read_file(path).get("block_traffic", False), "block_traffic")


def _env_overrides(env: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    names = {"WFPTRACE_INSPECT_REMOTE": "remote_address",
             "WFPTRACE_INSPECT_BLOCK": "block_traffic",
             "WFPTRACE_INSPECT_DECIDER": "decider",
             "WFPTRACE_INSPECT_FAIL_CLOSED": "fail_closed"}
    for var, key in names.items():
        if env.get(var) is not None:
            out[key] = env[var]
    return out


def _protocols(value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise InspectConfigError(f"protocols must be a non-empty list of {PROTOCOLS}")
    bad = [p for p in value if p not in PROTOCOLS]
    if bad:
        raise InspectConfigError(f"protocols: unknown {bad} (known: {', '.join(PROTOCOLS)})")
    return tuple(dict.fromkeys(value))


def _ports(value: object) -> tuple[int, ...]:
    if not isinstance(value, list) or not all(
            isinstance(p, int) and not isinstance(p, bool) and 0 < p < 65536 for p in value):
        raise InspectConfigError("ports must be a list of port numbers 1..65535")
    return tuple(value)


def _number(value: object, what: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise InspectConfigError(f"{what} must be a number in {low}..{high}, not {value!r}")
    return value


def _build(data: dict[str, Any], path: Path | None, block_from_file: bool,
           overrides: dict[str, Any]) -> InspectConfig:
    remote = parse_remote_address(data.get("remote_address"))
    decider = data.get("decider", "static")
    if decider not in DECIDERS:
        raise InspectConfigError(f"decider must be one of {', '.join(DECIDERS)}, "
                                 f"not {decider!r}")
    overload = data.get("overload", "auto")
    if overload not in OVERLOAD:
        raise InspectConfigError(f"overload must be one of {', '.join(OVERLOAD)}, "
                                 f"not {overload!r}")
    extra = data.get("addresses", [])
    if not isinstance(extra, list):
        raise InspectConfigError("addresses must be a list of addresses or CIDR prefixes")
    return InspectConfig(
        remote=remote,
        block_traffic=_bool(data.get("block_traffic", False), "block_traffic"),
        fail_closed=_bool(data.get("fail_closed", False), "fail_closed"),
        decider=decider,
        decider_timeout=float(_number(data.get("decider_timeout", 10.0),
                                      "decider_timeout", 0.01, 3600)),
        queue=int(_number(data.get("queue", 4242), "queue", 0, 65534)),
        extra=tuple(parse_network(n) for n in extra),
        protocols=_protocols(data.get("protocols", list(PROTOCOLS))),
        ports=_ports(data.get("ports", [])),
        reject=_bool(data.get("reject", False), "reject"),
        overload=overload,
        queue_length=int(_number(data.get("queue_length", 8192), "queue_length", 1, 1 << 20)),
        path=path,
        block_path=path if block_from_file else None,
        overrides=tuple(overrides.items()),
    )


def load_config(path: str | os.PathLike[str] | None = None, *,
                env: Mapping[str, str] | None = None, **flags: Any) -> InspectConfig:
    """Merge file < environment < flags (``None`` flags are ignored) and validate.

    ``flags`` use the file's key names (``remote_address``, ``block_traffic``...).
    Raises InspectConfigError with a message naming the bad setting.
    """
    env = os.environ if env is None else env
    file = path if path is not None else env.get("WFPTRACE_INSPECT_CONFIG")
    file_path = Path(file) if file else None
    data = _read_file(file_path) if file_path else {}
    overrides = {**_env_overrides(env), **{k: v for k, v in flags.items() if v is not None}}
    unknown = sorted(set(overrides) - _KEYS)
    if unknown:
        raise InspectConfigError(f"unknown settings {', '.join(unknown)}")
    block_from_file = file_path is not None and "block_traffic" not in overrides
    return _build({**data, **overrides}, file_path, block_from_file, overrides)
