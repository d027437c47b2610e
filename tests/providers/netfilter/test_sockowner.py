"""The in-kernel owner cache: real BPF programs in network namespaces (root)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest

from providers.netfilter._bpf import Asm, BpfError, load_prog
from providers.netfilter._procinfo import ProcessInfo, process_info
from providers.netfilter._sockowner import PROG_CGROUP_SOCK, OwnerCache, sock_create_prog_ids

SEEN, MON = 0x20000000, 0x10000000
#: Prints the SO_MARK of a new TCP, UDP and TCPv6 socket after a line on stdin.
_MARKS = ("import socket, sys\nsys.stdin.readline()\nfor fam, typ in ((2, 1), (2, 2), "
          "(10, 1)):\n    s = socket.socket(fam, typ)\n    print(s.getsockopt(1, 36))\n")


def _root() -> None:
    if os.geteuid() != 0:
        pytest.skip("BPF needs root")


def _marks(proc: subprocess.Popen) -> list[int]:
    out, _ = proc.communicate("go\n", timeout=10)
    return [int(line) for line in out.split()]


def _waiting(ns) -> subprocess.Popen:
    return subprocess.Popen(ns.argv([sys.executable, "-c", _MARKS]), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)


def _info(proc: subprocess.Popen) -> ProcessInfo:
    deadline = time.monotonic() + 5
    while True:  # ip netns exec, then exec of python: wait for the python image
        info = process_info(proc.pid)
        if info is not None and info.exe == os.path.realpath(sys.executable):
            return info
        assert time.monotonic() < deadline, info
        time.sleep(0.01)


def test_a_remembered_process_gets_the_mark_on_new_tcp_sockets_of_its_namespace_only(netns):
    """A remembered process's new TCP sockets carry the verdict; UDP sockets, other
    processes and sockets in another namespace keep mark 0."""
    _root()
    with netns.a.enter():
        cache = OwnerCache.open(SEEN | MON)
    with cache:
        here, other, elsewhere = _waiting(netns.a), _waiting(netns.a), _waiting(netns.b)
        assert cache.remember(_info(here), SEEN) and cache.remember(_info(elsewhere), SEEN)
        assert _marks(here) == [SEEN, 0, SEEN]
        assert _marks(other) == [0, 0, 0]
        assert _marks(elsewhere) == [0, 0, 0]
        assert cache.premarked == 2


def test_the_mark_leaves_a_socket_once_its_connection_is_established(netns):
    """Both ends' sockets in the cache's namespace lose the bit when established (the SYN
    alone carries it); a socket of another namespace keeps a bit its owner set."""
    _root()
    with netns.a.enter():
        cache = OwnerCache.open(SEEN | MON)
        listener = socket.create_server(("127.0.0.1", 0))
        client = socket.socket()
    with netns.b.enter():
        far_listener = socket.create_server((netns.b.ip4, 0))
        far = socket.socket()
    far.setsockopt(socket.SOL_SOCKET, socket.SO_MARK, SEEN)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_MARK, SEEN | 0x5)
    client.setsockopt(socket.SOL_SOCKET, socket.SO_MARK, SEEN | 0x5)
    with cache, listener, client, far_listener, far:
        client.connect(listener.getsockname())
        accepted, _ = listener.accept()
        far.connect(far_listener.getsockname())
        with accepted:
            assert client.getsockopt(socket.SOL_SOCKET, socket.SO_MARK) == 0x5
            assert accepted.getsockopt(socket.SOL_SOCKET, socket.SO_MARK) == 0x5
        assert listener.getsockopt(socket.SOL_SOCKET, socket.SO_MARK) == SEEN | 0x5
        assert far.getsockopt(socket.SOL_SOCKET, socket.SO_MARK) == SEEN


def test_exec_and_exit_forget_the_verdict_in_the_kernel(netns):
    """An exec (even into a binary of the same name) and an exit remove the process's
    verdict before it can mark a socket of the new program."""
    _root()
    with netns.a.enter():
        cache = OwnerCache.open(SEEN | MON)
    with cache:
        proc = subprocess.Popen(netns.a.argv(
            [sys.executable, "-c", f"import os, sys\nsys.stdin.readline()\n"
             f"os.execv(sys.executable, [sys.executable, '-c', {_MARKS!r}])"]),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert cache.remember(_info(proc), SEEN)
        assert cache.verdict(proc.pid) == SEEN
        assert proc.stdin is not None
        proc.stdin.write("exec\n")
        proc.stdin.flush()
        assert _marks(proc) == [0, 0, 0]
        assert cache.verdict(proc.pid) is None
        gone = _waiting(netns.a)
        assert cache.remember(_info(gone), SEEN)
        gone.kill()
        gone.wait()
        assert cache.verdict(gone.pid) is None


def test_a_process_that_changed_since_its_attribution_is_not_cached(netns):
    """A verdict for an executable the process no longer runs (it exec'd between the
    lookup and the write) is removed again."""
    _root()
    with netns.a.enter():
        cache = OwnerCache.open(SEEN)
    with cache:
        proc = _waiting(netns.a)
        info = _info(proc)
        stale = ProcessInfo(info.pid, "/usr/bin/something-else", info.cmdline, info.comm,
                            info.uid, info.start)
        assert not cache.remember(stale, SEEN)
        assert cache.verdict(proc.pid) is None
        assert _marks(proc) == [0, 0, 0]


def test_closing_the_cache_detaches_its_program(netns):
    """The socket program is attached to the cgroup2 root while the cache is open, and
    gone after close."""
    _root()
    with netns.a.enter():
        cache = OwnerCache.open(SEEN)
    assert cache.prog_id in sock_create_prog_ids()
    cache.close()
    assert cache.prog_id not in sock_create_prog_ids()


def test_a_program_the_verifier_refuses_raises_with_the_verifier_log():
    """A refused program is a BpfError carrying the verifier's reason, not a crash."""
    _root()
    bad = Asm().exit().code()  # r0 never set
    with pytest.raises(BpfError) as exc:
        load_prog(PROG_CGROUP_SOCK, bad, b"wfpt_bad")
    assert "R0" in exc.value.log
