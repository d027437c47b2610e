"""The bpf(2) system call through ctypes: maps, program loading, links, queries.

No libbpf or bcc: the programs that use this are a few dozen instructions
assembled by hand (:class:`Asm`), loaded with the verifier's log kept for the
error message. Every object is a file descriptor owned by the caller; closing
it (or the process dying) frees the object and detaches what a link attached.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import struct

__all__ = ["Asm", "BpfError", "attached_prog_ids", "bpf", "create_map", "link_create",
           "load_prog", "loaded_prog_ids", "map_delete", "map_lookup", "map_update",
           "prog_id_of", "prog_info", "raw_tracepoint_open"]

_SYSCALL = {"x86_64": 321, "aarch64": 280, "armv7l": 386, "ppc64le": 361, "s390x": 351,
            "riscv64": 280}
MAP_CREATE, MAP_LOOKUP, MAP_UPDATE, MAP_DELETE = 0, 1, 2, 3
PROG_LOAD, PROG_GET_NEXT_ID, PROG_GET_FD_BY_ID, OBJ_GET_INFO_BY_FD, PROG_QUERY = 5, 11, 13, 15, 16
RAW_TRACEPOINT_OPEN, LINK_CREATE = 17, 28
_ATTR_SIZE = 128
_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


class BpfError(OSError):
    """A refused bpf(2) command; ``log`` holds the verifier's explanation if any."""

    def __init__(self, err: int, what: str, log: str = "") -> None:
        super().__init__(err, f"bpf {what}: {os.strerror(err)}" + (f"\n{log}" if log else ""))
        self.log = log


def bpf(cmd: int, attr: ctypes.Array[ctypes.c_char], what: str) -> int:
    """One bpf(2) call on ``attr`` (a 128-byte buffer); its result, or :class:`BpfError`."""
    nr = _SYSCALL.get(platform.machine())
    if nr is None:
        raise BpfError(errno.ENOSYS, f"{what} (no bpf syscall number for this machine)")
    res = _libc.syscall(nr, cmd, ctypes.byref(attr), _ATTR_SIZE)
    if res < 0:
        raise BpfError(ctypes.get_errno(), what)
    return int(res)


def _attr(fmt: str, *values: object) -> ctypes.Array[ctypes.c_char]:
    buf = ctypes.create_string_buffer(_ATTR_SIZE)
    struct.pack_into(fmt, buf, 0, *values)
    return buf


def _addr(obj: ctypes.Array[ctypes.c_char] | ctypes.Array[ctypes.c_uint32]) -> int:
    return ctypes.addressof(obj)


# -- maps -----------------------------------------------------------------------------------
def create_map(map_type: int, key_size: int, value_size: int, max_entries: int,
               name: bytes) -> int:
    """A new map's fd."""
    attr = _attr("=IIIIIII16s", map_type, key_size, value_size, max_entries, 0, 0, 0, name)
    return bpf(MAP_CREATE, attr, "map create")


def _elem(fd: int, key: bytes, value: ctypes.Array[ctypes.c_char] | None,
          flags: int = 0) -> ctypes.Array[ctypes.c_char]:
    kbuf = ctypes.create_string_buffer(key, len(key))
    attr = _attr("=IIQQQ", fd, 0, _addr(kbuf), _addr(value) if value is not None else 0, flags)
    attr._keep = (kbuf, value)  # type: ignore[attr-defined]
    return attr


def map_update(fd: int, key: bytes, value: bytes) -> None:
    """Set ``key`` to ``value`` (BPF_ANY)."""
    bpf(MAP_UPDATE, _elem(fd, key, ctypes.create_string_buffer(value, len(value))), "map update")


def map_lookup(fd: int, key: bytes, value_size: int) -> bytes | None:
    """The value of ``key``, None when absent."""
    out = ctypes.create_string_buffer(value_size)
    try:
        bpf(MAP_LOOKUP, _elem(fd, key, out), "map lookup")
    except BpfError as exc:
        if exc.errno == errno.ENOENT:
            return None
        raise
    return out.raw


def map_delete(fd: int, key: bytes) -> bool:
    """Remove ``key``; False when it was not there."""
    try:
        bpf(MAP_DELETE, _elem(fd, key, None), "map delete")
    except BpfError as exc:
        if exc.errno == errno.ENOENT:
            return False
        raise
    return True


# -- programs -------------------------------------------------------------------------------
def load_prog(prog_type: int, insns: bytes, name: bytes, attach_type: int = 0) -> int:
    """Load a program (license GPL) and return its fd; the verifier's log on refusal."""
    code = ctypes.create_string_buffer(insns, len(insns))
    lic = ctypes.create_string_buffer(b"GPL")
    log = ctypes.create_string_buffer(65536)
    attr = _attr("=IIQQIIQII16sII", prog_type, len(insns) // 8, _addr(code), _addr(lic), 1,
                 len(log), _addr(log), 0, 0, name, 0, attach_type)
    try:
        return bpf(PROG_LOAD, attr, "program load")
    except BpfError as exc:
        raise BpfError(exc.errno or errno.EINVAL, f"program load ({name.decode()})",
                       log.value.decode("utf-8", "replace").strip()[-2000:]) from None


def link_create(prog_fd: int, target_fd: int, attach_type: int) -> int:
    """Attach through a link: detached when the returned fd's last reference closes."""
    return bpf(LINK_CREATE, _attr("=IIII", prog_fd, target_fd, attach_type, 0), "link create")


def raw_tracepoint_open(prog_fd: int, name: bytes) -> int:
    """Attach a raw tracepoint program to ``name``; detached when the fd closes."""
    buf = ctypes.create_string_buffer(name)
    attr = _attr("=QI", _addr(buf), prog_fd)
    attr._keep = buf  # type: ignore[attr-defined]
    return bpf(RAW_TRACEPOINT_OPEN, attr, f"raw tracepoint {name.decode()}")


def attached_prog_ids(cgroup_fd: int, attach_type: int, room: int = 64) -> list[int]:
    """Ids of the programs attached to the cgroup itself for ``attach_type``."""
    ids = (ctypes.c_uint32 * room)()
    attr = _attr("=IIIIQI", cgroup_fd, attach_type, 0, 0, _addr(ids), room)
    bpf(PROG_QUERY, attr, "program query")
    (count,) = struct.unpack_from("=I", attr, 24)
    return list(ids[:min(count, room)])


def loaded_prog_ids(name: str) -> list[int]:
    """Ids of every loaded program named ``name`` (attached or not)."""
    found: list[int] = []
    prog_id = 0
    while True:
        attr = _attr("=II", prog_id, 0)
        try:
            bpf(PROG_GET_NEXT_ID, attr, "next program id")
        except BpfError as exc:
            if exc.errno == errno.ENOENT:
                return found
            raise
        (prog_id,) = struct.unpack_from("=I", attr, 4)
        info = prog_info(prog_id)
        if info is not None and info[1] == name:
            found.append(prog_id)


def prog_id_of(prog_fd: int) -> int:
    """The id of the loaded program ``prog_fd``."""
    info = ctypes.create_string_buffer(256)
    bpf(OBJ_GET_INFO_BY_FD, _attr("=IIQ", prog_fd, len(info), _addr(info)), "program info")
    return int(struct.unpack_from("=I", info, 4)[0])


def prog_info(prog_id: int) -> tuple[int, str] | None:
    """(type, name) of the loaded program ``prog_id``; None when it no longer exists."""
    try:
        fd = bpf(PROG_GET_FD_BY_ID, _attr("=III", prog_id, 0, 0), "program by id")
    except BpfError as exc:
        if exc.errno == errno.ENOENT:
            return None
        raise
    try:
        info = ctypes.create_string_buffer(256)
        bpf(OBJ_GET_INFO_BY_FD, _attr("=IIQ", fd, len(info), _addr(info)), "program info")
        (ptype,) = struct.unpack_from("=I", info, 0)
        name = info.raw[64:80].split(b"\0", 1)[0].decode("ascii", "replace")
        return ptype, name
    finally:
        os.close(fd)


# -- the assembler --------------------------------------------------------------------------
_INSN = struct.Struct("<BBhi")


class Asm:
    """Builds eBPF instructions; jumps name a label resolved by :meth:`code`."""

    R0, R1, R2, R3, R6, R10 = 0, 1, 2, 3, 6, 10

    def __init__(self) -> None:
        self._insns: list[tuple[int, int, int, int, int, str | None]] = []
        self._labels: dict[str, int] = {}

    def _op(self, code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0,
            label: str | None = None) -> Asm:
        self._insns.append((code, dst, src, off, imm, label))
        return self

    def mov(self, dst: int, src: int) -> Asm:
        """dst = src (64-bit)."""
        return self._op(0xBF, dst, src)

    def mov_imm(self, dst: int, imm: int) -> Asm:
        """dst = imm (64-bit, sign-extended)."""
        return self._op(0xB7, dst, imm=imm)

    def ld_imm64(self, dst: int, value: int, src: int = 0) -> Asm:
        """dst = 64-bit value (``src=1``: a map's fd, resolved by the loader)."""
        self._op(0x18, dst, src, imm=ctypes.c_int32(value & 0xFFFFFFFF).value)
        return self._op(0, imm=ctypes.c_int32(value >> 32).value)

    def ld_map(self, dst: int, map_fd: int) -> Asm:
        """dst = the map whose fd is ``map_fd``."""
        return self.ld_imm64(dst, map_fd, src=1)

    def ldx_w(self, dst: int, src: int, off: int) -> Asm:
        """dst = *(u32 *)(src + off)."""
        return self._op(0x61, dst, src, off)

    def stx_w(self, dst: int, off: int, src: int) -> Asm:
        """*(u32 *)(dst + off) = src."""
        return self._op(0x63, dst, src, off)

    def stx_w_imm(self, dst: int, off: int, imm: int) -> Asm:
        """*(u32 *)(dst + off) = imm."""
        return self._op(0x62, dst, off=off, imm=imm)

    def atomic_add_dw(self, dst: int, off: int, src: int) -> Asm:
        """*(u64 *)(dst + off) += src, atomically."""
        return self._op(0xDB, dst, src, off, 0)

    def alu64_imm(self, op: str, dst: int, imm: int) -> Asm:
        """dst op= imm for op in add, and, rsh."""
        return self._op({"add": 0x07, "and": 0x57, "rsh": 0x77}[op], dst, imm=imm)

    def or_reg(self, dst: int, src: int) -> Asm:
        """dst |= src (64-bit)."""
        return self._op(0x4F, dst, src)

    def jne_imm(self, dst: int, imm: int, label: str) -> Asm:
        """goto label if dst != imm."""
        return self._op(0x55, dst, imm=imm, label=label)

    def jeq_imm(self, dst: int, imm: int, label: str) -> Asm:
        """goto label if dst == imm."""
        return self._op(0x15, dst, imm=imm, label=label)

    def jne_reg(self, dst: int, src: int, label: str) -> Asm:
        """goto label if dst != src."""
        return self._op(0x5D, dst, src, label=label)

    def call(self, helper: int) -> Asm:
        """r0 = helper(r1..r5)."""
        return self._op(0x85, imm=helper)

    def exit(self) -> Asm:
        """return r0."""
        return self._op(0x95)

    def label(self, name: str) -> Asm:
        """Name the next instruction."""
        self._labels[name] = len(self._insns)
        return self

    def code(self) -> bytes:
        """The instructions, jump offsets resolved."""
        out = bytearray()
        for i, (code, dst, src, off, imm, label) in enumerate(self._insns):
            if label is not None:
                off = self._labels[label] - i - 1
            out += _INSN.pack(code, (src << 4) | dst, off, imm)
        return bytes(out)
