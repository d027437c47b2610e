"""Login and switchboard summaries joined across flows (through the monitor engine)."""

from __future__ import annotations

from providers.msnmon import MsnMonitor
from providers.packets import Pipeline

from .streams import Conversation

DISPATCH, NOTIFY, BOARD = ("10.0.0.2", 1863), ("10.0.0.3", 1863), ("10.0.0.4", 1863)


def _feed(pipe: Pipeline, *batches) -> None:
    for batch in batches:
        for pkt in batch:
            pipe.packet(pkt)


def test_login_joins_the_dispatch_redirect(record):
    """A login redirected by XFR NS is one summary with the redirect and both flows."""
    rec = record()
    monitor = MsnMonitor()
    pipe = Pipeline([monitor])
    ds = Conversation(("10.0.0.1", 40000), DISPATCH)
    ns = Conversation(("10.0.0.1", 40001), NOTIFY)
    _feed(pipe, ds.handshake(), ds.send(b"VER 1 MSNP8 CVR0\r\nUSR 2 TWN I a@b.c\r\n"),
          ds.send(b"XFR 2 NS 10.0.0.3:1863 0 10.0.0.2:1863\r\n", False), ds.close(),
          ns.handshake(), ns.send(b"USR 3 TWN I a@b.c\r\n"),
          ns.send(b"USR 3 OK a@b.c Alice 1 0\r\n", False))
    pipe.finish()
    [login] = rec.events("Login")
    flows = {e.fields["destination.ip"]: e.fields["network.community_id"]
             for e in rec.events("FlowEstablished")}
    assert login.fields["user"] == "a@b.c" and login.fields["result"] == "ok"
    assert login.fields["redirects"] == ["10.0.0.2:1863"]
    assert login.fields["community_ids"] == [flows["10.0.0.2"], flows["10.0.0.3"]]
    assert login.fields["dialect"] == "MSNP8"


def test_failed_and_unfinished_logins(record):
    """An error reply to USR is a failed login; a login cut short is reported at close."""
    rec = record()
    monitor = MsnMonitor()
    pipe = Pipeline([monitor])
    bad = Conversation(("10.0.0.1", 40000), NOTIFY)
    cut = Conversation(("10.0.0.1", 40001), NOTIFY)
    _feed(pipe, bad.send(b"USR 5 TWN I x@y.z\r\n"), bad.send(b"911 5\r\n", False),
          cut.send(b"USR 1 TWN I q@r.s\r\n"))
    pipe.finish()
    results = sorted((e.fields["user"], e.fields["result"]) for e in rec.events("Login"))
    assert results == [("q@r.s", "incomplete"), ("x@y.z", "error 911")]


def test_invited_switchboard_joins_its_ring_by_cookie(record):
    """RNG announces a switchboard; the flow answering with that cookie links the NS flow."""
    rec = record()
    monitor = MsnMonitor()
    pipe = Pipeline([monitor])
    ns = Conversation(("10.0.0.1", 40000), NOTIFY)
    sb = Conversation(("10.0.0.1", 40001), BOARD)
    _feed(pipe, ns.send(b"CHG 9 NLN 0\r\n"),
          ns.send(b"RNG 77 10.0.0.4:1863 CKI 12.34 b@c.d Bob\r\n", False),
          sb.handshake(), sb.send(b"ANS 1 a@b.c 12.34 77\r\n"),
          sb.send(b"IRO 1 1 1 b@c.d Bob\r\nANS 1 OK\r\nMSG b@c.d Bob 2\r\nhi", False),
          sb.close())
    pipe.finish()
    [board] = rec.events("Switchboard")
    ns_flow = rec.events("FlowEstablished")[0].fields["network.community_id"]
    assert board.fields["user"] == "a@b.c" and board.fields["invited"] is True
    assert board.fields["participants"] == ["b@c.d"] and board.fields["messages"] == 1
    assert board.fields["community_ids"][0] == ns_flow and len(board.fields["community_ids"]) == 2
