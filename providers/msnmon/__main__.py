"""``python -m providers.msnmon ACTION ...``: the ``wfptrace monitor`` command stand-alone."""

import sys

from ._cli import main

sys.exit(main())
