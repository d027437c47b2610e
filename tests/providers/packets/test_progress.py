"""ProgressBar draws on a terminal only."""

from __future__ import annotations

import io

from providers.packets import ProgressBar


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_draws_a_bar_on_a_terminal_and_ends_the_line_when_done():
    """On a terminal: one line redrawn in place, ended when the work is done."""
    out = _Terminal()
    bar = ProgressBar(out)
    bar.show("capture.pcap", 0.5, 10)
    bar.show("capture.pcap", 1.0, 20, force=True)
    text = out.getvalue()
    assert text.startswith("\rcapture.pcap") and "50.0% 10 pkts" in text
    assert text.endswith("100.0% 20 pkts\n") and "#" * 30 in text


def test_stays_silent_when_not_a_terminal():
    """Into a pipe or a file it writes nothing (logs stay clean)."""
    out = io.StringIO()
    ProgressBar(out).show("capture.pcap", 1.0, 20, force=True)
    assert out.getvalue() == ""
