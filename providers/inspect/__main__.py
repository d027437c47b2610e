"""``python -m providers.inspect``: the ``wfptrace inspect`` command."""

from ._cli import main

raise SystemExit(main())
