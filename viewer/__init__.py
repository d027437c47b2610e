"""TraceView: the Textual TUI for wfptrace log sessions and live events."""


def main() -> None:
    """Entry point of the ``traceview`` console script."""
    raise SystemExit("traceview is not built yet")
