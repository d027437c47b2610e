"""Classic BPF filters: compile a tcpdump expression with the system libpcap (ctypes).

libpcap is present wherever tshark/dumpcap is installed; without it callers can pass
pre-compiled instructions (``tcpdump -dd`` output) to :func:`parse_dd`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import re

__all__ = ["BpfError", "compile_filter", "parse_dd"]

Insn = tuple[int, int, int, int]  # code, jt, jf, k


class BpfError(ValueError):
    """The filter expression does not compile, or libpcap is missing."""


class _BpfInsn(ctypes.Structure):
    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte),
                ("k", ctypes.c_uint32)]


class _BpfProgram(ctypes.Structure):
    _fields_ = [("bf_len", ctypes.c_uint), ("bf_insns", ctypes.POINTER(_BpfInsn))]


def _libpcap() -> ctypes.CDLL:
    name = ctypes.util.find_library("pcap") or "libpcap.so.0.8"
    try:
        lib = ctypes.CDLL(name)
    except OSError as exc:
        raise BpfError(f"libpcap not found ({exc}); pass compiled instructions instead") from exc
    lib.pcap_open_dead.restype = ctypes.c_void_p
    lib.pcap_open_dead.argtypes = [ctypes.c_int, ctypes.c_int]
    lib.pcap_compile.argtypes = [ctypes.c_void_p, ctypes.POINTER(_BpfProgram), ctypes.c_char_p,
                                 ctypes.c_int, ctypes.c_uint32]
    lib.pcap_geterr.restype = ctypes.c_char_p
    lib.pcap_geterr.argtypes = [ctypes.c_void_p]
    lib.pcap_freecode.argtypes = [ctypes.POINTER(_BpfProgram)]
    lib.pcap_close.argtypes = [ctypes.c_void_p]
    return lib


def compile_filter(expr: str, linktype: int = 1, snaplen: int = 262144) -> list[Insn]:
    """Compile a tcpdump-syntax filter for ``linktype`` into classic BPF instructions."""
    lib = _libpcap()
    handle = lib.pcap_open_dead(linktype, snaplen)
    if not handle:
        raise BpfError("pcap_open_dead failed")
    prog = _BpfProgram()
    try:
        if lib.pcap_compile(handle, ctypes.byref(prog), expr.encode(), 1, 0xFFFFFFFF) != 0:
            raise BpfError(f"bad filter {expr!r}: {lib.pcap_geterr(handle).decode()}")
        out = [(i.code, i.jt, i.jf, i.k) for i in prog.bf_insns[: prog.bf_len]]
        lib.pcap_freecode(ctypes.byref(prog))
        return out
    finally:
        lib.pcap_close(handle)


def parse_dd(text: str) -> list[Insn]:
    """Parse ``tcpdump -dd`` output (``{ 0x28, 0, 0, 0x0000000c },`` lines)."""
    insns = []
    for m in re.finditer(r"\{\s*(0x[0-9a-fA-F]+|\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*,"
                         r"\s*(0x[0-9a-fA-F]+|\d+)\s*\}", text):
        insns.append(tuple(int(g, 0) for g in m.groups()))
    if not insns:
        raise BpfError("no BPF instructions found")
    return insns  # type: ignore[return-value]
