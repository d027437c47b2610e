"""The events table's cells."""

from __future__ import annotations

import pytest

from viewer._columns import seq_cell


@pytest.mark.parametrize(("seq", "want"), [(7, "      7"), (9_999_999, "9999999"),
                                           (10_000_000, "…000000"), (123_456_789, "…456789")])
def test_a_sequence_number_too_wide_for_its_cell_is_marked_not_cut(seq: int, want: str) -> None:
    """Past seven digits the cell shows an ellipsis and the last digits, never a bare cut."""
    assert seq_cell(seq, 7) == want
