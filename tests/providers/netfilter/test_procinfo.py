"""Socket inode -> pid -> executable, read from /proc with a validated cache."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from providers.netfilter import SocketOwners, process_info

_HOLDER = """
import os, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
print(os.fstat(s.fileno()).st_ino, flush=True)
sys.stdin.readline()
"""


def _holder() -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, "marker-arg"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    return proc, int(proc.stdout.readline())


def _stop(proc: subprocess.Popen) -> None:
    proc.communicate("\n", timeout=10)


def test_socket_owner_is_the_process_holding_it() -> None:
    """The inode of a socket held by a child resolves to the child's pid and executable."""
    proc, inode = _holder()
    try:
        owners = SocketOwners()
        assert owners.pid_of(inode) == proc.pid
        info = owners.process(proc.pid)
        assert info is not None
        assert info.exe == os.path.realpath(sys.executable)
        assert info.cmdline[-1] == "marker-arg"
        assert info.uid == os.getuid()
    finally:
        _stop(proc)


def test_second_lookup_is_a_validated_cache_hit() -> None:
    """Repeated lookups use the cache instead of rescanning /proc."""
    proc, inode = _holder()
    try:
        owners = SocketOwners()
        owners.pid_of(inode)
        scans = owners.stats.scans
        assert owners.pid_of(inode) == proc.pid
        assert owners.stats.scans == scans and owners.stats.cache_hits == 1
    finally:
        _stop(proc)


def test_cache_never_answers_for_a_closed_socket() -> None:
    """Once the owner exits, the cached pid is not returned for its old inode."""
    proc, inode = _holder()
    owners = SocketOwners()
    assert owners.pid_of(inode) == proc.pid
    _stop(proc)
    assert owners.pid_of(inode) is None
    assert owners.stats.not_found == 1


def test_uid_filter_skips_other_users_processes() -> None:
    """Searching for another uid's socket does not match processes of this uid."""
    proc, inode = _holder()
    try:
        assert SocketOwners().pid_of(inode, uid=os.getuid() + 12345) is None
    finally:
        _stop(proc)


def test_gone_process_has_no_info() -> None:
    """process_info of an exited pid is None rather than stale data."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    assert process_info(proc.pid) is None


def test_a_process_is_read_again_after_it_execs_another_program() -> None:
    """The cached process of a pid that exec'd (same pid, same start time) names the new
    executable, not the old one."""
    proc = subprocess.Popen([sys.executable, "-c", "import os, sys\nsys.stdin.readline()\n"
                             "os.execv('/bin/sleep', ['sleep', '10'])"],
                            stdin=subprocess.PIPE, text=True)
    try:
        owners = SocketOwners()
        first = owners.process(proc.pid)
        assert first is not None and first.exe == os.path.realpath(sys.executable)
        assert proc.stdin is not None
        proc.stdin.write("exec\n")
        proc.stdin.flush()
        for _ in range(200):
            after = owners.process(proc.pid)
            if after is not None and after.exe != first.exe:
                break
            time.sleep(0.01)
        assert after is not None and after.exe == os.path.realpath("/bin/sleep")
        assert after.start == first.start
    finally:
        proc.kill()
        proc.wait()
