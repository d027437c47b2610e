"""The built-in sinks: the JSON-lines file, standard output and real-time subscribers.

They plug into sessions through :mod:`tracer._sink`'s seam like any third-party sink
(the ``wfptrace.sinks`` entry-point group); the session core imports none of them.
"""

from ._file import FileSink
from ._null import NullSink
from ._realtime import RealtimeSink
from ._stdout import StdoutSink

__all__ = ["FileSink", "NullSink", "RealtimeSink", "StdoutSink"]
