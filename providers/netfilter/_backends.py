"""Rule backends: which firewall tool works here, and running it in one namespace.

Detected in this order: native nftables ``queue`` (needs CONFIG_NFT_QUEUE),
``iptables-nft`` and ``iptables-legacy`` with the NFQUEUE target (the system
default flavour first). Detection only dry-runs (``nft -c``, ``iptables -C``).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from collections.abc import Sequence
from enum import Enum

from ._errors import BackendUnavailableError, RuleError

__all__ = ["Backend", "Runner", "binary", "detect_backend", "probe"]


class Backend(Enum):
    """How rules are installed."""

    NFTABLES = "nftables"
    IPTABLES_NFT = "iptables-nft"
    IPTABLES_LEGACY = "iptables-legacy"


class Runner:
    """Runs commands in the network namespace captured at construction."""

    def __init__(self) -> None:
        self._fd = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        self._ino = os.fstat(self._fd).st_ino

    def __call__(self, argv: Sequence[str], stdin: str | None = None,
                 check: bool = True) -> subprocess.CompletedProcess[str]:
        argv = list(argv)
        pass_fds: tuple[int, ...] = ()
        if os.stat("/proc/thread-self/ns/net").st_ino != self._ino:
            argv = ["nsenter", f"--net=/proc/self/fd/{self._fd}", *argv]
            pass_fds = (self._fd,)
        try:
            res = subprocess.run(argv, input=stdin, capture_output=True, text=True,
                                 pass_fds=pass_fds, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise RuleError(f"{shlex.join(argv)}: {exc}") from exc
        if check and res.returncode != 0:
            raise RuleError(f"{shlex.join(argv)}: {res.stderr.strip() or res.returncode}")
        return res

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def binary(backend: Backend, family: str) -> str:
    suffix = "legacy" if backend is Backend.IPTABLES_LEGACY else "nft"
    return f"{'ip6tables' if family == 'ipv6' else 'iptables'}-{suffix}"


_NFT_PROBE = ("table inet wfptrace_probe {\n chain c { type filter hook output priority 0;"
              " meta l4proto udp queue num 0 bypass comment \"wfptrace:probe\"; }\n}\n")


def probe(backend: Backend, run: Runner) -> bool:
    if backend is Backend.NFTABLES:
        return shutil.which("nft") is not None and run(["nft", "-c", "-f", "-"], _NFT_PROBE,
                                                       check=False).returncode == 0
    for family in ("ipv4", "ipv6"):
        exe = binary(backend, family)
        if shutil.which(exe) is None:
            return False
        res = run([exe, "-w", "-t", "filter", "-C", "OUTPUT", "-m", "comment", "--comment",
                   "wfptrace:probe", "-j", "NFQUEUE", "--queue-num", "0", "--queue-bypass"],
                  check=False)
        if res.returncode not in (0, 1):  # 1: rule absent but understood
            return False
    return True


def _preference() -> list[Backend]:
    order = [Backend.NFTABLES, Backend.IPTABLES_NFT, Backend.IPTABLES_LEGACY]
    exe = shutil.which("iptables")
    if exe and "legacy" in os.path.realpath(exe):
        order[1], order[2] = order[2], order[1]
    return order


def detect_backend(_run: Runner | None = None) -> Backend:
    """The first working backend in this namespace; BackendUnavailableError if none."""
    run = _run or Runner()
    try:
        for backend in _preference():
            if probe(backend, run):
                return backend
    finally:
        if _run is None:
            run.close()
    raise BackendUnavailableError("no working nftables queue, iptables-nft or iptables-legacy")
