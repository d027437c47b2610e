"""Interception providers for wfptrace: packet machinery, inspect and the MSN monitor."""

from __future__ import annotations

__all__ = ["accelerators"]


def accelerators() -> dict[str, bool]:
    """Which of the providers' optional C accelerators are in use (``./dev test`` says)."""
    from providers.msnp._accel import CPARSER
    from providers.packets._accel import CDECODE, CSTAGE

    return {"packet decoder": CDECODE is not None, "MSNP scan": CPARSER is not None,
            "packet stage": CSTAGE is not None}
