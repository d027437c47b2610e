"""``python -m viewer``: the same as the ``traceview`` command."""

from . import main

main()
