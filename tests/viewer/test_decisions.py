"""LocalDecisionSource: pending items, verdicts, timeouts and holds."""

import pytest

from viewer._decisions import DecisionSource, LocalDecisionSource


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def _submit(src: LocalDecisionSource, got: list | None = None) -> int:
    return src.submit(process="curl", pid=42, protocol="tcp", local="10.0.0.1",
                      local_port=50000, remote="10.0.0.2", remote_port=443,
                      on_verdict=(lambda v, t: got.append((v, t))) if got is not None else None)


def test_is_a_decision_source():
    """The local implementation satisfies the DecisionSource interface."""
    assert isinstance(LocalDecisionSource(), DecisionSource)


def test_decide_answers_once():
    """A verdict reaches the connection once; answering again reports False."""
    got: list = []
    src = LocalDecisionSource()
    id_ = _submit(src, got)
    assert [d.five_tuple for d in src.pending()] == ["tcp 10.0.0.1:50000 -> 10.0.0.2:443"]
    assert src.decide(id_, "allow") is True
    assert src.decide(id_, "block") is False
    assert got == [("allow", False)] and src.pending() == []


def test_timeout_applies_default_verdict():
    """An unanswered item gets the default verdict when its countdown ends."""
    clock = Clock()
    got: list = []
    src = LocalDecisionSource(timeout=5, default="block", clock=clock)
    _submit(src, got)
    clock.t += 4.5
    assert src.pending()[0].remaining == pytest.approx(0.5)
    clock.t += 1
    assert src.pending() == [] and got == [("block", True)]


def test_hold_pauses_the_countdown():
    """While held, time passes without the item expiring; releasing resumes the countdown."""
    clock = Clock()
    src = LocalDecisionSource(timeout=5, clock=clock)
    id_ = _submit(src)
    clock.t += 2
    src.hold(id_, True)
    clock.t += 60
    [item] = src.pending()
    assert item.held and item.remaining == pytest.approx(3)
    src.hold(id_, False)
    clock.t += 2.9
    assert src.pending()[0].remaining == pytest.approx(0.1)
    clock.t += 0.2
    assert src.pending() == []


def test_rejects_unknown_verdict():
    """Only allow and block are verdicts."""
    src = LocalDecisionSource()
    with pytest.raises(ValueError):
        src.decide(_submit(src), "maybe")
