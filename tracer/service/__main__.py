"""``python -m tracer.service [--socket PATH] [--group NAME] ...``: the same as ``wfptrace hub``."""

from __future__ import annotations

import argparse
import sys

from .._errors import TracerError
from ._cli import add_role_options, run_hub


def main(argv: list[str] | None = None) -> int:
    """Parse the hub options and serve until SIGTERM / SIGINT."""
    p = argparse.ArgumentParser(prog="python -m tracer.service", description=__doc__)
    p.add_argument("--socket", help="socket path (default: /run/wfptrace/hub.sock for root, "
                                    "$XDG_RUNTIME_DIR/wfptrace/hub.sock otherwise)")
    add_role_options(p)
    p.add_argument("--socket-mode", default="0660", help="socket permissions (octal)")
    args = p.parse_args(argv)
    try:
        run_hub(args)
    except TracerError as exc:
        print(f"wfptrace hub: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
