"""TransactionTracker: requests joined with their replies by TrID."""

from __future__ import annotations

from providers.msnp import MsnpStreamParser, TransactionTracker


def one(line: bytes):
    (command,) = MsnpStreamParser().feed(line)
    return command


def test_reply_joins_request_with_latency():
    """A reply with the request's TrID completes it, with the time between them."""
    tracker = TransactionTracker()
    assert tracker.observe(one(b"CAL 94 t@x.com\r\n"), from_client=True, ts=10.0) is None
    done = tracker.observe(one(b"CAL 94 RINGING 1835\r\n"), from_client=False, ts=10.25)
    assert (done.trid, done.request.verb, done.reply.args[0]) == (94, "CAL", "RINGING")
    assert done.latency == 0.25 and done.error is None
    assert tracker.outstanding == 0


def test_error_reply_is_a_transaction_with_an_error_code():
    """A numeric reply completes the request and exposes its error code."""
    tracker = TransactionTracker()
    tracker.observe(one(b"CAL 5 nobody@x.com\r\n"), from_client=True, ts=1.0)
    assert tracker.observe(one(b"217 5\r\n"), from_client=False, ts=1.1).error == 217


def test_unacknowledged_msg_and_server_pushes_are_not_tracked():
    """MSG U expects no reply; JOI has no TrID; TrID 0 pushes are not counted as strays."""
    tracker = TransactionTracker()
    tracker.observe(one(b"MSG 7 U 2\r\nhi"), from_client=True, ts=1.0)
    tracker.observe(one(b"JOI a@b.c A\r\n"), from_client=False, ts=1.0)
    tracker.observe(one(b"CHL 0 1234\r\n"), from_client=False, ts=1.0)
    assert tracker.outstanding == 0 and tracker.stats.unmatched_replies == 0


def test_outstanding_requests_are_bounded():
    """Requests never answered are evicted oldest first and counted."""
    tracker = TransactionTracker(capacity=10)
    for trid in range(1, 26):
        tracker.observe(one(b"CAL %d x@y.z\r\n" % trid), from_client=True, ts=0.0)
    assert tracker.outstanding == 10 and tracker.stats.evicted == 15
