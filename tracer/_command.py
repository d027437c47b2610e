"""Running one parsed command the way every ``wfptrace`` command line does."""

from __future__ import annotations

import argparse
import os
import sys

from ._errors import TracerError

__all__ = ["run_command"]


def run_command(args: argparse.Namespace) -> int:
    """Call ``args.func(args)`` and return the exit status.

    A user's mistake (a :class:`TracerError`) prints a message, not a traceback, and
    gives 1; Ctrl-C gives 130; a closed stdout pipe (``| head``) is not an error.
    """
    try:
        return int(args.func(args) or 0)
    except TracerError as exc:
        print(f"wfptrace: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
