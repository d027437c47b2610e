"""Live AF_PACKET capture inside a private network namespace, with a kernel BPF filter."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
import uuid

import pytest

from providers.packets import Decoder
from providers.packets._bpf import BpfError, compile_filter, parse_dd
from providers.packets._live import LiveSource, in_netns


@pytest.fixture
def netns():
    """A fresh network namespace with loopback up, deleted afterwards even on failure."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        print("skipping: needs root and iproute2 to create a network namespace")
        pytest.skip("needs root and iproute2")
    name = f"wfpt-pk-{uuid.uuid4().hex[:8]}"
    if subprocess.run(["ip", "netns", "add", name], capture_output=True).returncode != 0:
        print("skipping: cannot create a network namespace here")
        pytest.skip("cannot create netns")
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


def _send_udp(ns: str, ports: list[int]) -> None:
    with in_netns(ns):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with s:
        for p in ports:
            s.sendto(b"hello-" + str(p).encode(), ("127.0.0.1", p))


def test_capture_in_netns_with_bpf_filter(netns) -> None:
    """Only the filtered port's datagrams, sent inside the namespace, are captured."""
    got = []
    with LiveSource("lo", netns=netns, bpf="udp dst port 9999", timeout_s=3, limit=3) as src:
        t = threading.Thread(target=lambda: (time.sleep(0.2),
                                             _send_udp(netns, [9998, 9999, 9997, 9999, 9999])))
        t.start()
        d = Decoder()
        for linktype, ts, data, wire, _ in src:
            p = d.decode(linktype, data, wire, ts)
            got.append((p.dport, p.payload))
        t.join()
    assert got == [(9999, b"hello-9999")] * 3


def test_root_namespace_traffic_is_not_seen(netns) -> None:
    """A capture inside the namespace does not see loopback traffic of the root namespace."""
    with LiveSource("lo", netns=netns, bpf="udp port 9996", timeout_s=0.8) as src:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.sendto(b"root", ("127.0.0.1", 9996))
        s.close()
        assert list(src) == []


def test_bad_filter_is_a_clear_error() -> None:
    """An invalid filter expression raises BpfError naming the expression."""
    with pytest.raises(BpfError, match="nonsense"):
        compile_filter("nonsense ((")


def test_parse_tcpdump_dd_output() -> None:
    """tcpdump -dd text parses into the same instructions libpcap compiles."""
    insns = compile_filter("tcp")
    text = "\n".join(f"{{ {c:#x}, {jt}, {jf}, {k:#010x} }}," for c, jt, jf, k in insns)
    assert parse_dd(text) == insns
